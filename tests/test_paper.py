"""The real setting's config and DAG, checked on a machine with none of its assets."""

import copy
import hashlib
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "config" / "paper.yaml"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def snakemake(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True)


def paper() -> dict:
    return yaml.safe_load(PAPER.read_text())


def job_counts(out: str) -> dict[str, int]:
    stats = out[out.index("Job stats:") :]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


def test_paper_config_is_valid_and_has_the_papers_settings():
    config = paper()
    validate(config, str(SCHEMA))
    assert config["unlearn"]["steps"] == 1000 and config["unlearn"]["lr"] == 1e-4
    assert config["loss"]["d"] == 30 and config["loss"]["alpha_max"] == 15
    assert config["identities"] == {"random": 20, "ind": 20, "ood": 20}
    assert config["evaluation"]["fid_samples"] == 5000
    assert config["lpips"] == {"net": "vgg", "random_backbone": False}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c: c.pop("assets"), "assets"),
        (lambda c: c["assets"]["eg3d"].update(sha256="abc"), "abc"),
        (lambda c: c["assets"]["eg3d"].pop("url"), "url"),
        (lambda c: c["code"]["eg3d"].update(commit="main"), "main"),
        (lambda c: c["real"].update(inversion="e4e"), "e4e"),
    ],
)
def test_a_bad_real_config_is_rejected_naming_the_key(change, named):
    config = paper()
    change(config)
    with pytest.raises(WorkflowError, match=named):
        validate(copy.deepcopy(config), str(SCHEMA))


def test_paper_dry_run_lists_the_whole_dag_from_the_downloads(tmp_path):
    result = snakemake("-n", "--configfile", str(PAPER), cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    counts = job_counts(out)
    assert counts["download"] == len(paper()["assets"]) and counts["fetch_code"] == 3
    for rule in ("index_ffhq", "index_celebahq", "network_spec", "select_identities", "faces"):
        assert counts[rule] >= 1, rule
    # 20 identities per scenario, 4 methods + ablations; the guide_sample: baseline and GUIDE
    assert counts["invert"] == 61 and counts["unlearn"] == 402 and counts["evaluate"] == 402
    sample = "results/unlearn/guide_sample/guide_sample00"
    assert {f"{sample}/{m}.pt" for m in ("baseline", "guide")} <= set(
        re.findall(r"output: (results/unlearn/guide_sample/\S+\.pt)", out)
    )
    assert counts["index_sample"] == 1 and "results/tables/guide_sample.md" in out
    assert counts["target"] > 0 and counts["tables"] == 1 and counts["fid_real"] == 1
    assert not {"dataset", "train_generator", "train_encoder"} & set(counts)  # no world
    assert not (tmp_path / "resources").exists()
    # facenet is evaluated beside CurricularFace: every evaluate job reads its spec
    assert counts["network_spec"] == 6
    evaluate_inputs = re.findall(r"rule evaluate:\n    input: ([^\n]*)", out)
    assert len(evaluate_inputs) == 402
    assert all("results/networks/identity_second.json" in line for line in evaluate_inputs)


def write_config(tmp_path: Path, change) -> Path:
    config = paper()
    change(config)
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_manual_asset_through_the_workflow(tmp_path):
    content = b"000001.jpg 1\n"
    sha = hashlib.sha256(content).hexdigest()
    config = write_config(tmp_path, lambda c: c["assets"]["celeba_identities"].update(sha256=sha))
    target = "resources/identity_CelebA.txt"
    first = snakemake(target, "--cores", "1", "--configfile", str(config), cwd=tmp_path)
    assert first.returncode != 0
    assert "put it at resources/manual/identity_CelebA.txt" in first.stdout + first.stderr
    (tmp_path / "resources" / "manual").mkdir(parents=True)
    (tmp_path / "resources" / "manual" / "identity_CelebA.txt").write_bytes(content)
    again = snakemake(target, "--cores", "1", "--configfile", str(config), cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (tmp_path / target).read_bytes() == content


def test_a_corrupted_download_through_the_workflow(tmp_path):
    served = tmp_path / "served.pth"
    served.write_bytes(b"not the weights")

    def point_at_local_file(c):
        c["assets"]["arcface"] = {
            "file": "model_ir_se50.pth",
            "source": "url",
            "url": served.as_uri(),
            "sha256": "a" * 64,
        }

    config = write_config(tmp_path, point_at_local_file)
    target = "resources/model_ir_se50.pth"
    result = snakemake(target, "--cores", "1", "--configfile", str(config), cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    actual = hashlib.sha256(b"not the weights").hexdigest()
    assert f"{target}: SHA-256 mismatch, expected {'a' * 64}, got {actual}" in out
    assert (tmp_path / f"{target}.bad").read_bytes() == b"not the weights"
    assert not (tmp_path / target).exists()


def test_lint_is_clean_on_the_paper_config(tmp_path):
    result = snakemake("--lint", "--configfile", str(PAPER), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def test_optimisation_only_inversion_needs_optimisation_steps(tmp_path):
    config = write_config(tmp_path, lambda c: c["real"].update(inversion="optimisation"))
    result = snakemake("-n", "--configfile", str(config), cwd=tmp_path)
    assert result.returncode != 0
    assert "set inversion.method: optimisation" in result.stdout + result.stderr


def test_code_checkout_through_the_workflow(tmp_path):
    repo = tmp_path / "goae-repo"
    (repo / "goae").mkdir(parents=True)
    (repo / "goae" / "networks.py").write_text("# encoder\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], cwd=repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    config = write_config(tmp_path, lambda c: c["code"]["goae"].update(repo=str(repo), commit=head))
    target = "resources/code/goae"
    result = snakemake(target, "--cores", "1", "--configfile", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / target / "goae" / "networks.py").read_text() == "# encoder\n"


# README commands that cannot run on this machine, with why (each must still be in it).
NOT_RUN_HERE = {
    "snakemake --report report.html": "reports on a finished run",
    "snakemake --cores all --sdm conda": "needs conda",
}
IGNORED = shutil.ignore_patterns(".git", "results", "resources", "logs", "benchmarks", ".snakemake")


def readme_commands() -> list[str]:
    """Every `snakemake ...` command of the README, in code blocks and inline."""
    text = (ROOT / "README.md").read_text()
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", text, re.S))
    typed = [part.strip() for line in blocks.splitlines() for part in line.split("&&")]
    inline = re.findall(r"`(snakemake [^`]*)`", text)
    return [c for c in dict.fromkeys(typed + inline) if c.startswith("snakemake ")]


@pytest.mark.slow
def test_every_readme_command_dry_runs_as_typed_from_the_repository_root(tmp_path):
    commands = readme_commands()
    assert set(NOT_RUN_HERE) <= set(commands)
    assert (
        "snakemake --cores all --configfile config/paper.yaml --resources gpu=1 --keep-going"
        in commands
    )
    root = tmp_path / "idunlearn"
    shutil.copytree(ROOT, root, ignore=IGNORED)
    for command in (c for c in commands if c not in NOT_RUN_HERE):
        args = shlex.split(command.replace("<number of GPUs>", "1"))[1:]
        result = subprocess.run(
            [sys.executable, "-m", "snakemake", "-n", *args],
            cwd=root,
            capture_output=True,
            text=True,
        )
        out = result.stdout + result.stderr
        assert result.returncode == 0, f"{command}\n{out}"
        if "config/paper.yaml" in command:  # the whole config: no default methods or world
            assert not {"dataset", "train_generator"} & set(job_counts(out))
            assert not re.search(r"method: (cascaded|feature|encoder)\b", out)
