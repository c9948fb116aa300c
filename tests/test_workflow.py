"""The workflow itself: lint, config validation, the whole DAG on the tiny config."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "config" / "config.yaml"


def snakemake(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True)


def write_config(tmp_path: Path, change) -> Path:
    config = yaml.safe_load(TINY.read_text())
    change(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_lint_is_clean(tmp_path):
    result = snakemake("--lint", "--configfile", str(TINY), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def test_default_config_dry_run_shows_the_whole_dag(tmp_path):
    config_file = str(ROOT / "config" / "config.yaml")
    result = snakemake("-n", "--cores", "2", "--configfile", config_file, cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    rules = ("dataset", "train_generator", "invert", "target", "unlearn", "evaluate", "attack")
    for rule in (*rules, "tables"):
        assert f"rule {rule}:" in out
    # one attack job per identity of each attacked scenario for each attacked method
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    attacks = config["attacks"]
    identities = sum(config["identities"][s] for s in attacks["scenarios"])
    assert out.count("rule attack:") == identities * len(attacks["methods"])
    assert out.count("rule attack_figure:") == identities
    assert "results/attack/ood/ood02/guide.json" in out
    assert attacks["scenarios"] == ["ood"]
    assert "results/attack/random/random00/" not in out
    # the world's critical path on both cores, everything else on one
    threaded = {"train_generator", "train_encoder"}
    for job in re.split(r"\n(?:local)?rule ", out)[1:]:
        name = job.split(":", 1)[0]
        threads = 2 if name in threaded else 1
        assert (f"threads: {threads}" in job) or (threads == 1 and "threads:" not in job), job


def test_fewer_cores_schedule_fewer_slots_but_keep_the_configs_torch_threads(tmp_path):
    """Snakemake caps a job's threads at --cores; torch's thread count splits float sums,
    so a 1-core run given the capped count would train another world."""
    config_file = str(ROOT / "config" / "config.yaml")
    result = snakemake("-n", "-p", "--cores", "1", "--configfile", config_file, cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    for job in re.split(r"\n(?:local)?rule ", out)[1:]:
        name = job.split(":", 1)[0]
        if name in ("train_generator", "train_encoder"):
            assert "--threads 2" in job and "threads: 2" not in job, job


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c: c["unlearn"].update(stpes=3), "stpes"),
        (lambda c: c["unlearn"].update(steps="many"), "many"),
        (lambda c: c["methods"]["guide"].update(alpha=3), "alpha"),
        (lambda c: c.update(lpips={"net": "resnet", "random_backbone": True}), "resnet"),
        (lambda c: c["attacks"].update(methods=["guide", "gide"]), "gide"),
        (lambda c: c["attacks"]["relearn"].update(ks=[0]), "ks"),
        (lambda c: c["identities"].update(ood=10), "identities.ood: 10 asked for"),
        (lambda c: c.update(colour="red"), "'colour' was unexpected"),
    ],
)
def test_a_bad_config_fails_before_any_job_naming_the_key(tmp_path, change, named):
    config = write_config(tmp_path, change)
    result = snakemake("-n", "--configfile", str(config), cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert named in out
    assert len(out.splitlines()) < 10, out  # the key and value, not the whole schema
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_tiny_workflow_end_to_end(tiny_run):
    tmp_path = tiny_run  # the shared run (conftest.py): its report is tested in a browser
    results = tmp_path / "results"
    for name in ("table1", "table2", "table3", "table4"):
        for ext in ("csv", "md", "tex"):
            assert (results / "tables" / f"{name}.{ext}").stat().st_size > 0
    for name in ("qualitative", "tradeoff", "d_ablation", "strength_sweep"):
        assert (results / "figures" / f"{name}.png").stat().st_size > 0
    assert (results / "world" / "targets_grid.png").stat().st_size > 0
    quality = json.loads((results / "world" / "quality.json").read_text())
    assert 0.5 <= quality["verification_auc_eval"] <= 1.0
    assert 0.0 <= quality["inversion_encoder"]["mean_rank_score"] <= 1.0
    assert quality["frechet_generator_vs_data"] >= 0
    assert quality["median_w_id_norm"] == pytest.approx(50.0, rel=0.2)
    metrics = (results / "metrics" / "all.csv").read_text().splitlines()
    header = metrics[0].split(",")
    assert header[:4] == ["scenario", "identity", "method", "run"]
    ids = [float(row.split(",")[header.index("id")]) for row in metrics[1:]]
    assert all(-1.0 <= v <= 1.0 for v in ids)
    # attacks (relearn ks 1 and 3): columns joined to the attacked runs, others blank
    attacked = set(yaml.safe_load(TINY.read_text())["attacks"]["methods"])
    for column in ("id_reinv_encoder", "id_reinv_optim", "id_search", "id_relearn_3"):
        assert column in header
        for row in metrics[1:]:
            cells = row.split(",")
            value = cells[header.index(column)]
            assert (value != "") == (cells[header.index("run")] in attacked), (column, row)
            assert value == "" or -1.0 <= float(value) <= 1.0
    # every long step says where it is: a progress bar in its log (issue 15)
    bars = {
        "train_generator.log": "train_generator",
        "invert/ood/ood00.log": "invert",
        "unlearn/ood/ood00/guide.log": "unlearn",
        "evaluate/ood/ood00/guide.log": "samples",
        "attack/ood/ood00/guide.log": "relearn",
        "gallery/ood/ood00.log": "gallery",
    }
    for log, bar in bars.items():
        assert f"{bar}: 100%" in (tmp_path / "logs" / log).read_text(), log
    attack = json.loads((results / "attack" / "ood" / "ood00" / "guide.json").read_text())
    assert attack["settings"]["reinversion_kinds"] == ["encoder", "optimisation"]
    assert -1.0 <= attack["id_others_reinv_optim"] <= 1.0
    assert (tmp_path / "benchmarks" / "attack" / "ood" / "ood00" / "guide.tsv").is_file()
    assert "ID relearn-3" in (results / "tables" / "attacks.md").read_text()
    assert "relearn" not in (results / "tables" / "table1.md").read_text()
    claims = (results / "tables" / "claims.csv").read_text().splitlines()
    assert claims[0].startswith("claim,statement,scenario,method,versus,metric,n,mean_diff")
    assert len(claims) > 1 and all(",too few identities," in row for row in claims[1:])  # n = 1
    # what users look at: renders, retained faces and attack pictures per identity
    for scenario, identity in (("random", "random00"), ("ind", "ind00"), ("ood", "ood00")):
        for name in ("gallery", "attacks"):
            assert (results / "figures" / f"{name}_{scenario}_{identity}.png").stat().st_size
        gallery = json.loads((results / "gallery" / scenario / f"{identity}.json").read_text())
        assert len(gallery["faces"]) == 4 + 2  # random_faces + the other identities
        assert set(gallery["id"]) == set(yaml.safe_load(TINY.read_text())["methods"])
        for method in ("guide", "encoder"):
            assert (results / "render" / scenario / identity / f"{method}.png").stat().st_size
    renders = np.load(results / "attack" / "ood" / "ood00" / "guide.npz")
    assert {"source", "unattacked", "reinv_optim", "search", "relearn_3"} <= set(renders.files)
    # many identities: sugar at N = 2, simultaneous and after each sequential arrival
    multi = (results / "tables" / "multi.csv").read_text().splitlines()
    assert [row.split(",")[:3] for row in multi[1:]] == [
        ["sugar", "sequential", "2"],
        ["sugar", "simultaneous", "2"],
    ]
    arrival = json.loads(
        (results / "multi_evaluate" / "sugar" / "sequential" / "1.json").read_text()
    )
    assert arrival["identities"] == ["multi00"] and 0 <= arrival["retain_id_mean"] <= 1
    for name in ("multi_n", "multi_sequential"):
        assert (results / "figures" / f"{name}.png").stat().st_size > 0
    # cached: a second run has nothing to do
    again = snakemake("--cores", "2", "--configfile", str(TINY), "-n", cwd=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr
    # bad input to a step: a method name that is not configured, an identity that does not exist
    shutil.copy(TINY, tmp_path / "tiny.yaml")
    step = [sys.executable, str(ROOT / "scripts" / "unlearn.py")]
    world = results / "world"
    bad_method = subprocess.run(
        [
            *step,
            "--generator",
            str(world / "generator.pt"),
            "--inversion",
            str(results / "invert" / "ood" / "ood00.pt"),
            "--target",
            str(results / "target" / "ood" / "ood00" / "average.pt"),
            "--loss-identity",
            str(world / "identity_loss.pt"),
            "--method",
            "nope",
            "--settings",
            json.dumps({"kind": "nope"}),
            "--seed",
            "0",
            "--out",
            str(tmp_path / "x.pt"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad_method.returncode != 0
    assert bad_method.stderr.strip().splitlines()[-1].startswith("Error: method 'nope'")
    bad_identity = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "invert.py"),
            "--identities",
            str(results / "identities.tsv"),
            "--dataset",
            str(world / "dataset.npz"),
            "--generator",
            str(world / "generator.pt"),
            "--encoder",
            str(world / "encoder.pt"),
            "--scenario",
            "ood",
            "--identity",
            "ood42",
            "--seed",
            "0",
            "--out",
            str(tmp_path / "y.pt"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad_identity.returncode != 0
    assert "identity 'ood42'" in bad_identity.stderr
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()
