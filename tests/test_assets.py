"""Downloads of the real setting: checksums, manual assets, pinned code; all offline."""

import functools
import hashlib
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from idunlearn.assets import (
    AssetSpec,
    ChecksumError,
    check_file,
    fetch_code,
    fetch_url,
    install,
    published_prefix,
)
from idunlearn.backend import load_generator, write_spec
from idunlearn.io import ArtefactError, UserError

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = b"weights that would run code when unpickled\n"
GOOD = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "server" / "model.pkl"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path


def url_spec(source: Path, sha256: str | None, file: str = "model.pkl") -> AssetSpec:
    return AssetSpec(key="eg3d", file=file, source="url", url=source.as_uri(), sha256=sha256)


def test_a_good_download_lands_verified(tmp_path, source):
    out = tmp_path / "resources" / "sub" / "model.pkl"
    assert install(url_spec(source, GOOD, "sub/model.pkl"), out) == GOOD
    assert out.read_bytes() == PAYLOAD
    assert [p.name for p in out.parent.iterdir()] == ["model.pkl"]  # no temporary left


def test_a_corrupted_download_is_kept_aside_and_named(tmp_path, source):
    resources = tmp_path / "resources"
    resources.mkdir()
    (resources / "other.pth").write_bytes(b"kept")
    out = resources / "model.pkl"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as err:
        install(url_spec(source, wrong), out)
    message = str(err.value)
    assert "\n" not in message
    assert str(out) in message and wrong in message and GOOD in message
    assert f"{out}.bad" in message
    assert not out.exists()
    assert (resources / "model.pkl.bad").read_bytes() == PAYLOAD
    assert (resources / "other.pth").read_bytes() == b"kept"  # nothing else lost


def test_an_unknown_hash_is_printed_and_the_file_used_once_recorded(tmp_path, source):
    out = tmp_path / "resources" / "model.pkl"
    with pytest.raises(ChecksumError, match=f"has {GOOD}.*set assets.eg3d.sha256"):
        install(url_spec(source, None), out)
    assert not out.exists()
    assert (out.parent / "model.pkl.unverified").is_file()
    source.unlink()  # the recorded hash is checked on the kept file: no second download
    install(url_spec(source, GOOD), out)
    assert out.read_bytes() == PAYLOAD
    assert not (out.parent / "model.pkl.unverified").exists()


def test_a_manual_asset_says_where_to_put_it_and_is_picked_up_from_there(tmp_path):
    resources = tmp_path / "resources"
    spec = AssetSpec(
        key="celeba_identities",
        file="identity_CelebA.txt",
        source="manual",
        sha256=hashlib.sha256(b"000001.jpg 1\n").hexdigest(),
        instructions="CelebA, Anno/identity_CelebA.txt",
    )
    out = resources / "identity_CelebA.txt"
    where = resources / "manual" / "identity_CelebA.txt"
    with pytest.raises(ArtefactError) as err:
        install(spec, out)
    assert f"put it at {where}" in str(err.value) and "Anno/identity_CelebA.txt" in str(err.value)
    where.parent.mkdir(parents=True)
    where.write_bytes(b"000001.jpg 1\n")
    install(spec, out)
    assert out.read_bytes() == b"000001.jpg 1\n" and where.is_file()


def test_an_asset_without_its_source_field_is_refused():
    with pytest.raises(UserError, match="needs `gdrive_id`"):
        AssetSpec(key="arcface", file="a.pth", source="gdrive", sha256=None)


def test_a_failed_download_names_the_file_the_url_and_the_manual_fix(tmp_path):
    spec = url_spec(tmp_path / "offline" / "model.pkl", GOOD)
    out = tmp_path / "resources" / "model.pkl"
    with pytest.raises(ArtefactError) as err:
        install(spec, out)
    message = str(err.value)
    assert message.startswith(f"{out}: download of {spec.url} failed (URLError: ")
    where = tmp_path / "resources" / "manual" / "model.pkl"
    assert message.endswith(f"put it at {where} and set assets.eg3d.source: manual")
    assert not out.exists()


def test_download_over_http(tmp_path, source):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(source.parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        dest = tmp_path / "got.pkl"
        fetch_url(f"http://127.0.0.1:{server.server_address[1]}/model.pkl", dest)
    finally:
        server.shutdown()
        thread.join()
    assert dest.read_bytes() == PAYLOAD


def test_the_download_cli_fails_in_one_line(tmp_path, source):
    out = tmp_path / "resources" / "model.pkl"
    entry = {"file": "model.pkl", "source": "url", "url": source.as_uri(), "sha256": "f" * 64}
    spec = json.dumps(entry)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "download.py"), "--key", "eg3d"]
        + ["--spec", spec, "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {out}: SHA-256 mismatch")


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_code_is_checked_out_at_the_pinned_commit(tmp_path):
    repo = tmp_path / "eg3d"
    repo.mkdir()
    git("init", "--quiet", "-b", "main", cwd=repo)
    (repo / "dnnlib.py").write_text("# v1\n")
    git("add", ".", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1", cwd=repo)
    commit = git("rev-parse", "HEAD", cwd=repo)
    out = tmp_path / "resources" / "code" / "eg3d"
    fetch_code(str(repo), commit, out)
    assert (out / "dnnlib.py").read_text() == "# v1\n"
    with pytest.raises(ArtefactError, match="git fetch failed"):
        fetch_code(str(repo), "1" * 40, tmp_path / "resources" / "code" / "other")
    assert sorted(p.name for p in out.parent.iterdir()) == ["eg3d"]  # no temporary left


def test_an_unverified_pickle_is_never_loaded(tmp_path, source):
    with pytest.raises(ChecksumError, match="no SHA-256 recorded"):
        check_file(str(source), None)
    spec = tmp_path / "generator.json"
    with pytest.raises(ChecksumError, match="mismatch"):
        write_spec(str(spec), "generator", "eg3d", str(source), "0" * 64, "code", "w.pt")
    write_spec(str(spec), "generator", "eg3d", str(source), GOOD, "code", "w.pt")
    source.write_bytes(PAYLOAD + b"tampered")  # replaced after the spec was written
    with pytest.raises(ChecksumError, match="mismatch"):
        load_generator(str(spec))  # fails before EG3D's code is imported or the pickle read


def test_a_torch_hub_name_publishes_its_hash_prefix_and_it_is_checked(tmp_path, source):
    assert published_prefix("torch/hub/checkpoints/vgg16-397923af.pth") == "397923af"
    assert published_prefix("pt_inception-2015-12-05-6726825d.pth") == "6726825d"
    for plain in ("ffhqrebalanced512-128.pkl", "20180402-114759-vggface2.pt", "model_ir_se50.pth"):
        assert published_prefix(plain) is None
    resources = tmp_path / "resources"
    wrong = source.with_name("vgg16-397923af.pth")  # PAYLOAD's hash starts otherwise
    wrong.write_bytes(PAYLOAD)
    file = "torch/hub/checkpoints/vgg16-397923af.pth"
    with pytest.raises(ChecksumError, match=f"{GOOD} does not start with 397923af"):
        install(url_spec(wrong, None, file), resources / file)
    assert (resources / f"{file}.bad").is_file()
    assert not (resources / f"{file}.unverified").exists()
    # the publisher's (URL's) name counts: a file served under another name is not checked
    assert install(url_spec(source, GOOD, file), resources / file) == GOOD
    right = f"weights-{GOOD[:8]}.pth"  # matches: trust on first use as any unknown hash
    source.rename(source.with_name(right))
    source = source.with_name(right)
    with pytest.raises(ChecksumError, match="no SHA-256 configured"):
        install(url_spec(source, None, right), resources / right)
    assert install(url_spec(source, GOOD, right), resources / right) == GOOD
