"""Downloads of the real setting: fetched once, checked against a SHA-256, then used.

Every asset lands at `resources/<file>` only after its SHA-256 matched the
configured one, because some of them run code when loaded (EG3D's pickle
unpickles classes). A wrong download is kept aside as `<file>.bad`; a file
whose hash is not configured yet is kept as `<file>.unverified` and the user
records the printed hash before it is used (trust on first use, by hand). A published
file name that carries its hash's first digits, as torch hub's do (`vgg16-397923af.pth`:
the URL's name, or the file's for other sources), is checked against that prefix first,
as torch.hub does, whether or not a hash is set.
Manual assets (licence or login walls) are picked up from a local path.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from idunlearn.io import ArtefactError, UserError, atomic_path

SOURCES = ("url", "gdrive", "gdrive_folder", "manual")
CHUNK = 1 << 20
# torch hub's `<name>-<first 8+ hex digits of the SHA-256>.<ext>` (torch.hub.HASH_REGEX, but
# at least 8 digits so that `ffhqrebalanced512-128.pkl` publishes nothing)
PUBLISHED_PREFIX = re.compile(r"-([0-9a-f]{8,64})\.")


class ChecksumError(ArtefactError):
    """A file's SHA-256 is not the configured one."""


@dataclass(frozen=True)
class AssetSpec:
    """One entry of the config's `assets:` block."""

    key: str  # the config key, named in messages
    file: str  # path under resources/
    source: str  # url | gdrive | gdrive_folder | manual
    sha256: str | None
    url: str | None = None
    gdrive_id: str | None = None  # a file id (gdrive) or a folder id (gdrive_folder)
    instructions: str = ""  # where a person gets the file (manual assets)
    manual_path: str | None = None  # where a manual file is picked up

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise UserError(f"asset {self.key}: unknown source {self.source!r}")
        needs = {"url": self.url, "gdrive": self.gdrive_id, "gdrive_folder": self.gdrive_id}
        if self.source in needs and not needs[self.source]:
            field = "url" if self.source == "url" else "gdrive_id"
            raise UserError(f"asset {self.key}: source {self.source} needs `{field}`")

    @classmethod
    def from_config(cls, key: str, entry: dict) -> AssetSpec:
        return cls(key=key, **entry)

    def published_name(self) -> str:
        """The publisher's name of the file: the URL's last part, else the file's name."""
        if self.source == "url":
            return Path(urllib.parse.urlparse(self.url).path).name
        return Path(self.file).name

    def pickup_path(self, resources: Path) -> Path:
        """Where a manual asset is expected: the configured path or resources/manual/<file>."""
        return Path(self.manual_path) if self.manual_path else resources / "manual" / self.file


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected: str, name: Path) -> None:
    """Raise ChecksumError (naming `name` and both hashes) unless `path` hashes to `expected`."""
    actual = sha256_of(path)
    if actual != expected.lower():
        raise ChecksumError(f"{name}: SHA-256 mismatch, expected {expected}, got {actual}")


def published_prefix(file: str) -> str | None:
    """The SHA-256 prefix a torch-hub style file name publishes, if any."""
    match = PUBLISHED_PREFIX.search(Path(file).name)
    return match.group(1) if match else None


def verify_prefix(path: Path, published: str, name: Path) -> None:
    """Raise ChecksumError unless `path`'s SHA-256 starts with the prefix `published` (a
    file name) carries."""
    prefix = published_prefix(published)
    if prefix and not (actual := sha256_of(path)).startswith(prefix):
        raise ChecksumError(
            f"{name}: SHA-256 {actual} does not start with {prefix}, the prefix its file name"
            " publishes"
        )


def check_file(path: str, expected: str | None) -> None:
    """The gate before a file that runs code is loaded: it must hash to the recorded value."""
    if not expected:
        raise ChecksumError(f"{path}: no SHA-256 recorded, refusing to load it")
    verify(Path(path), expected, Path(path))


def fetch_url(url: str, dest: Path) -> None:
    """http(s) or file:// URL -> dest, streamed."""
    request = urllib.request.Request(url, headers={"User-Agent": "idunlearn"})
    with urllib.request.urlopen(request, timeout=60) as response, dest.open("wb") as out:
        shutil.copyfileobj(response, out, CHUNK)


def fetch_gdrive(file_id: str, dest: Path) -> None:
    import gdown  # the workflow extra; only downloads need it

    if gdown.download(id=file_id, output=str(dest), quiet=False) is None:
        raise ArtefactError(f"{dest}: Google Drive refused file id {file_id} (quota or access)")


def fetch_gdrive_folder(folder_id: str, name: str, dest: Path) -> None:
    """One file of a shared Drive folder (the GUIDE authors share theirs as a folder)."""
    import gdown

    listing = gdown.download_folder(id=folder_id, skip_download=True, quiet=True) or []
    ids = [item.id for item in listing if Path(item.path).name == name]
    if not ids:
        raise ArtefactError(f"{dest}: no file named {name} in Google Drive folder {folder_id}")
    fetch_gdrive(ids[0], dest)


def source_url(spec: AssetSpec) -> str:
    """Where a download comes from, as a person would open it."""
    if spec.source == "url":
        return str(spec.url)
    kind = "drive/folders/" if spec.source == "gdrive_folder" else "uc?id="
    return f"https://drive.google.com/{kind}{spec.gdrive_id}"


def download_message(spec: AssetSpec, out: Path, where: Path, err: Exception) -> str:
    """A failed download: the file, the URL, why, and how to go on without the network."""
    lines = str(getattr(err, "reason", None) or err).strip().splitlines()  # URLError.reason
    reason = lines[0] if lines else "no reason given"
    return (
        f"{out}: download of {source_url(spec)} failed ({type(err).__name__}: {reason}); "
        f"to go on without it, fetch the file by hand, put it at {where} and set "
        f"assets.{spec.key}.source: manual"
    )


def _fetcher(spec: AssetSpec, name: str) -> Callable[[Path], None]:
    if spec.source == "url":
        return lambda dest: fetch_url(spec.url, dest)
    if spec.source == "gdrive":
        return lambda dest: fetch_gdrive(spec.gdrive_id, dest)
    return lambda dest: fetch_gdrive_folder(spec.gdrive_id, name, dest)


def manual_message(spec: AssetSpec, out: Path, where: Path) -> str:
    return (
        f"{out} must be downloaded by hand ({spec.instructions.rstrip('.')}): "
        f"put it at {where} and run the workflow again"
    )


def install(spec: AssetSpec, out: str | os.PathLike[str]) -> str:
    """Fetch `spec` to `out` atomically and verify it; return its SHA-256.

    A mismatch keeps the file as `<out>.bad`; with no configured hash the file is
    kept as `<out>.unverified` (reused once the hash is recorded) and the error
    names the hash to record. `out` exists only after a successful check.
    """
    out = Path(out)
    resources = out.parents[len(Path(spec.file).parts) - 1]
    unverified = out.with_name(out.name + ".unverified")
    with atomic_path(out) as tmp:
        if unverified.is_file():
            os.replace(unverified, tmp)
        elif spec.source == "manual":
            where = spec.pickup_path(resources)
            if not where.is_file():
                raise ArtefactError(manual_message(spec, out, where))
            shutil.copyfile(where, tmp)
        else:
            try:
                _fetcher(spec, Path(spec.file).name)(tmp)
            except Exception as err:  # urllib, requests and gdown raise unrelated types
                where = spec.pickup_path(resources)
                raise ArtefactError(download_message(spec, out, where, err)) from err
        try:
            verify_prefix(tmp, spec.published_name(), out)
            if spec.sha256:
                verify(tmp, spec.sha256, out)
        except ChecksumError as err:
            os.replace(tmp, out.with_name(out.name + ".bad"))
            raise ChecksumError(f"{err} (kept as {out}.bad)") from err
        if not spec.sha256:
            os.replace(tmp, unverified)
            raise ChecksumError(
                f"{out}: no SHA-256 configured for assets.{spec.key}; the file (kept as "
                f"{unverified}) has {sha256_of(unverified)}: check it against the publisher and "
                f"set assets.{spec.key}.sha256 to it"
            )
    return spec.sha256


def _git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ArtefactError(f"git {args[0]} failed in {cwd}: {message}")
    return result.stdout.strip()


def fetch_code(repo: str, commit: str, out: str | os.PathLike[str]) -> None:
    """A repository's tree at one pinned commit -> `out` (atomically renamed into place).

    The commit id is the checksum: git verifies every object against it.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        _git("init", "--quiet", cwd=tmp)
        _git("fetch", "--quiet", "--depth", "1", repo, commit, cwd=tmp)
        _git("checkout", "--quiet", "--detach", "FETCH_HEAD", cwd=tmp)
        head = _git("rev-parse", "HEAD", cwd=tmp)
        if head != commit:
            raise ArtefactError(f"{out}: {repo} gave commit {head}, expected {commit}")
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
