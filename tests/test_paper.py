"""The real setting's config and DAG, checked on a machine with none of its assets."""

import copy
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

from idunlearn import preflight

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "config" / "paper.yaml"
EQUATIONS = ROOT / "config" / "paper_equations.yaml"
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


def test_paper_config_runs_the_reference_code_and_the_equations_are_one_file_away():
    config = paper()
    assert config["loss"]["reduction"] == "sum"
    assert config["eg3d"] == {"look_at": "reference", "focal": "computed", "noise_mode": "random"}
    equations = copy.deepcopy(config)
    update_config(equations, yaml.safe_load(EQUATIONS.read_text()))  # as a second --configfile
    validate(equations, str(SCHEMA))
    assert equations["loss"]["reduction"] == "mean" and equations["eg3d"]["look_at"] == "eg3d"
    assert equations["loss"]["d"] == 30 and equations["eg3d"]["noise_mode"] == "random"


@pytest.mark.parametrize(
    ("configs", "flags"),
    [
        ((PAPER,), "--look-at reference --focal computed --noise-mode random"),
        ((PAPER, EQUATIONS), "--look-at eg3d --focal computed --noise-mode random"),
    ],
)
def test_the_generator_spec_gets_the_eg3d_keys(tmp_path, configs, flags):
    spec = "results/networks/generator.json"
    result = snakemake(spec, "-n", "-p", "--configfile", *map(str, configs), cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert f"--role generator --family eg3d --code-root resources/code/eg3d {flags}" in out


def test_the_evaluation_identity_spec_gets_guides_detector(tmp_path):
    """ID is GUIDE's evaluate_id.py arithmetic by default (idunlearn.reference_mtcnn)."""
    assert paper()["real"]["eval_detector"] == "reference"
    spec = "results/networks/identity_eval.json"
    result = snakemake(spec, "-n", "-p", "--configfile", str(PAPER), cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "--role identity --family curricularface --detector reference" in out


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c: c["eg3d"].update(look_at="origin"), "origin"),
        (lambda c: c["eg3d"].update(focal="rounded"), "rounded"),
        (lambda c: c["evaluation"].update(max_no_face_share=1.5), "1.5"),
        (lambda c: c.update(deterministic="yes"), "yes"),
        (lambda c: c.pop("assets"), "assets"),
        (lambda c: c["assets"]["eg3d"].update(sha256="abc"), "abc"),
        (lambda c: c["assets"]["eg3d"].pop("url"), "url"),
        (lambda c: c["code"]["eg3d"].update(commit="main"), "main"),
        (lambda c: c["real"].update(inversion="e4e"), "e4e"),
        (lambda c: c["real"].update(eval_detector="mtcnn"), "mtcnn"),
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
    "snakemake --cores all --use-conda": "needs conda (even a dry run calls `conda info`)",
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

    def dry_run(command: str) -> subprocess.CompletedProcess:
        args = shlex.split(command.replace("<number of GPUs>", "1"))[1:]
        argv = [sys.executable, "-m", "snakemake", "-n", *args]
        return subprocess.run(argv, cwd=root, capture_output=True, text=True)

    run_here = [c for c in commands if c not in NOT_RUN_HERE]
    # Dry runs only warn about each other's locks: two at a time halve the test's time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(dry_run, run_here))
    for command, result in zip(run_here, results, strict=True):
        out = result.stdout + result.stderr
        assert result.returncode == 0, f"{command}\n{out}"
        if "config/paper.yaml" in command:  # the whole config: no default methods or world
            assert not {"dataset", "train_generator"} & set(job_counts(out))
            assert not re.search(r"method: (cascaded|feature|encoder)\b", out)


def test_preflight_on_a_machine_with_nothing_names_everything_missing(tmp_path):
    command = [sys.executable, str(ROOT / "scripts" / "preflight.py"), "--configfile", str(PAPER)]
    result = subprocess.run([*command, "--root", str(tmp_path)], capture_output=True, text=True)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    missing = out.splitlines()[-1]
    assert missing.startswith("NOT READY: ")
    for key in paper()["assets"]:
        assert f"asset {key} (missing)" in missing
    assert "code eg3d (missing)" in missing and "dataset celebahq_dir (missing)" in missing
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in out
    # 402 unlearning jobs (Tables 1-4 and the guide_sample) at the reference's 15 min each
    assert re.search(r"gpu-hours\s+100\.5 ", out) and "402 unlearn" in out


def prepared_folder(tmp_path: Path) -> tuple[dict, Path]:
    """A workflow folder with one verified asset, a checkout at its commit and a dataset."""
    root = tmp_path / "run"
    (root / "resources" / "torch").mkdir(parents=True)
    (root / "resources" / "torch" / "w.pt").write_bytes(b"weights")
    sha = hashlib.sha256(b"weights").hexdigest()
    repo = root / "resources" / "code" / "eg3d"
    repo.mkdir(parents=True)
    (repo / "a.py").write_text("x = 1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "c"]):
        subprocess.run([*git, *args], cwd=repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    (root / "faces" / "sub").mkdir(parents=True)
    for name in ("faces/1.png", "faces/sub/2.jpg", "faces/notes.txt"):
        (root / name).write_bytes(b"")
    config = {
        "assets": {"w": {"file": "torch/w.pt", "source": "url", "url": "file:///w", "sha256": sha}},
        "code": {"eg3d": {"repo": "file:///eg3d", "commit": head}},
        "real": {"ffhq_dir": "faces", "ffhq_instructions": "FFHQ"},
        "unlearn": {"device": "auto", "steps": 100},
    }
    return config, root


def test_preflight_on_a_prepared_folder_is_ready_and_flags_each_kind_of_problem(tmp_path):
    config, root = prepared_folder(tmp_path)
    found = {c.name: c for c in preflight.checks(config, root)}
    assert (found["w"].status, found["eg3d"].status) == ("verified", "present")
    assert found["ffhq_dir"].detail == f"{root / 'faces'} (2 images)"
    assert not any(c.problem for c in found.values())
    assert preflight.screen(list(found.values()), {}, 0.0, "").endswith("\nready")
    (root / "resources" / "torch" / "w.pt").write_bytes(b"other")
    config["assets"]["v"] = {**config["assets"]["w"], "file": "torch/w.pt", "sha256": None}
    config["code"]["eg3d"]["commit"] = "0" * 40
    found = {c.name: c for c in preflight.checks(config, root)}
    assert found["w"].status == "MISMATCH" and found["eg3d"].status == "WRONG"
    assert found["v"].status == "unverified"
    assert hashlib.sha256(b"other").hexdigest() in found["v"].detail
    assert all(found[k].problem for k in ("w", "v", "eg3d"))


def test_preflight_gpu_hours_use_measured_benchmarks_else_the_reference(tmp_path):
    jobs = {"unlearn": 4, "evaluate": 4, "tables": 1}
    hours, basis = preflight.gpu_hours(jobs, tmp_path, steps=200)
    assert hours == pytest.approx(4 * 900 * 200 / 1000 / 3600) and "reference" in basis
    for rule, seconds in (("unlearn", [100.0, 300.0]), ("evaluate", [36.0])):
        for k, s in enumerate(seconds):
            path = tmp_path / rule / "ood" / f"{k}.tsv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"s\th:m:s\n{s}\t0:00:00\n")
    hours, basis = preflight.gpu_hours(jobs, tmp_path, steps=200)
    assert hours == pytest.approx((4 * 200 + 4 * 36) / 3600)
    assert basis == "unlearn: measured 200.0 s/job; evaluate: measured 36.0 s/job"


SMOKE = ROOT / "config" / "paper-smoke.yaml"
# every rule of the real DAG (preflight and --report run beside it)
REAL_RULES = {
    *("download", "fetch_code", "index_ffhq", "index_celebahq", "index_sample", "faces"),
    *("network_spec", "fid_real", "select_identities", "fid_reference", "invert", "target"),
    *("unlearn", "attack", "evaluate", "aggregate", "figures", "tables"),
    *("render", "gallery", "attack_figure", "report_pages"),
}


def test_the_smoke_config_overrides_paper_yaml_into_a_tiny_dag_of_every_real_rule(tmp_path):
    result = snakemake("-n", "--configfile", str(PAPER), str(SMOKE), cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    counts = job_counts(out)
    assert set(counts) - {"all", "total"} == REAL_RULES
    # (1 identity x 3 scenarios) x 4 methods + the guide_sample's baseline and GUIDE
    assert counts["unlearn"] == counts["evaluate"] == 14 and counts["attack"] == 4
    # what the smoke run found (issue 12): random weights render no face MTCNN finds, and
    # the full gallery was its longest job
    smoke = yaml.safe_load(SMOKE.read_text())
    assert smoke["evaluation"]["max_no_face_share"] == 1.0
    assert smoke["gallery"] == {"random_faces": 2, "identities": 2}


def smoke_checkouts() -> dict[str, Path]:
    """Local copies of the three repositories: IDUNLEARN_<KEY>_CODE, else resources/code/."""
    return {
        key: Path(
            os.environ.get(f"IDUNLEARN_{key.upper()}_CODE", ROOT / "resources" / "code" / key)
        )
        for key in ("eg3d", "goae", "guide")
    }


@pytest.mark.slow
def test_the_real_smoke_run_executes_every_rule_on_the_real_code(tmp_path):
    """bench/real_smoke.py end to end (about 30 min on 2 cores): only when asked for."""
    checkouts = smoke_checkouts()
    missing = [f"{key} checkout at {path}" for key, path in checkouts.items() if not path.is_dir()]
    if os.environ.get("IDUNLEARN_REAL_SMOKE") != "1":
        missing.insert(0, "IDUNLEARN_REAL_SMOKE=1")
    if missing:
        pytest.skip(f"the real smoke run needs {', '.join(missing)}")
    command = [
        sys.executable,
        str(ROOT / "bench" / "real_smoke.py"),
        "--workdir",
        str(tmp_path / "w"),
    ]
    for key, path in checkouts.items():
        command += [f"--{key}", str(path)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    benchmarks = tmp_path / "w" / "run" / "benchmarks"
    ran = {
        path.relative_to(benchmarks).parts[0].removesuffix(".tsv")
        for path in benchmarks.rglob("*.tsv")
    }
    assert ran == REAL_RULES
    assert (tmp_path / "w" / "run" / "results" / "tables" / "guide_sample.md").is_file()
    assert (tmp_path / "w" / "run" / "preflight.txt").read_text().rstrip().endswith("ready")
