"""What makes a job rerun, and what a failed rerun leaves behind (issue 17).

A finished tiny run is built without running a job: every output of the DAG is created
empty, then `snakemake --touch --forceall` records each job's metadata (params, code,
inputs) as a real run would. Dry runs against that state count the jobs a change plans.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from idunlearn.checkpoints import save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "config" / "config.yaml"


def snakemake(*args: str, cwd: Path, root: Path = ROOT, env=None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "-s", str(root / "Snakefile"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)


def planned(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Jobs per rule of a dry run's job stats ({} when there is nothing to do)."""
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", out, re.M)}


def reorder(value, order):
    """The same config with every mapping's keys in `order` (sorted or reversed), except
    the order of the `methods` entries: it is Table 1's row order, the tables' content."""
    if not isinstance(value, dict):
        return value
    keys = order(list(value))
    result = {key: reorder(value[key], order) for key in keys}
    if "methods" in value and isinstance(value["methods"], dict):
        result["methods"] = {key: result["methods"][key] for key in value["methods"]}
    return result


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A working directory where the tiny config's whole DAG is done (touched)."""
    work = tmp_path_factory.mktemp("finished")
    summary = snakemake("--configfile", str(TINY), "--summary", cwd=work)
    assert summary.returncode == 0, summary.stderr[-3000:]
    for line in summary.stdout.splitlines()[1:]:
        path = work / line.split("\t")[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    touched = snakemake("--configfile", str(TINY), "--touch", "--forceall", "-c1", cwd=work)
    assert touched.returncode == 0, touched.stderr[-3000:]
    assert planned(snakemake("--configfile", str(TINY), "-n", cwd=work)) == {}
    return work


def dry_run_of(work: Path, config: dict, name: str) -> subprocess.CompletedProcess:
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return snakemake("--configfile", str(path), "-n", cwd=work)


def dry_run(work: Path, config: dict, name: str) -> dict[str, int]:
    return planned(dry_run_of(work, config, name))


@pytest.mark.slow
@pytest.mark.parametrize("order", [sorted, lambda keys: keys[::-1]], ids=["sorted", "reversed"])
def test_the_same_config_in_another_key_order_plans_no_job(finished, order):
    config = reorder(yaml.safe_load(TINY.read_text()), order)
    assert list(config) != list(yaml.safe_load(TINY.read_text()))
    assert dry_run(finished, config, "reordered") == {}


@pytest.mark.slow
def test_a_changed_value_still_plans_its_jobs(finished):
    """The check above is not blind: a real change to the unlearning schedule reruns
    every unlearn job (and what reads them), nothing upstream."""
    config = yaml.safe_load(TINY.read_text())
    config["unlearn"]["steps"] += 1
    jobs = dry_run(finished, config, "steps")
    assert jobs["unlearn"] == 30  # 3 identities x 10 distinct runs (methods and ablations)
    assert "invert" not in jobs and "train_generator" not in jobs


def planned_jobs(work: Path, config: dict, name: str) -> list[tuple[str, str]]:
    """(rule, first output) of every job a dry run of `config` plans."""
    result = dry_run_of(work, config, name)
    planned(result)  # fails on a failed dry run
    return re.findall(r"^rule (\w+):\n(?:    .*\n)*?    output: ([^,\n ]+)", result.stdout, re.M)


# Jobs that read every method's results: any change to any method reruns them (seconds).
SUMMARIES = {"aggregate", "tables", "figures", "report_pages", "sweep_figure", "all"}


def unlearning_jobs(jobs: list[tuple[str, str]]) -> list[str]:
    """The unlearn, evaluate and attack outputs among `jobs` (the costly ones)."""
    return sorted(out for rule, out in jobs if rule in {"unlearn", "evaluate", "attack"})


@pytest.mark.slow
def test_one_method_s_option_plans_only_that_method_s_jobs(finished):
    config = yaml.safe_load(TINY.read_text())
    config["methods"]["feature"]["num_positive"] += 1
    jobs = planned_jobs(finished, config, "feature")
    expected = sorted(
        f"results/{rule}/{scenario}/{scenario}00/feature.{ext}"
        for rule, ext in (("unlearn", "pt"), ("evaluate", "json"), ("attack", "json"))
        for scenario in ("random", "ind", "ood")
    )
    assert unlearning_jobs(jobs) == expected
    # and what shows those three identities' results: their gallery and attack figure
    others = {rule for rule, _ in jobs} - SUMMARIES - {"unlearn", "evaluate", "attack"}
    assert others <= {"gallery", "attack_figure"}, others


@pytest.mark.slow
def test_one_more_ablation_value_plans_only_its_jobs(finished):
    config = yaml.safe_load(TINY.read_text())
    config["ablations"]["d"].append(15)
    jobs = planned_jobs(finished, config, "d15")
    assert unlearning_jobs(jobs) == [
        "results/evaluate/ood/ood00/d15.json",
        "results/unlearn/ood/ood00/d15.pt",
    ]
    assert [out for rule, out in jobs if rule == "target"] == [
        "results/target/ood/ood00/ufo_d15.pt"
    ]
    assert {rule for rule, _ in jobs} <= SUMMARIES | {"unlearn", "evaluate", "target"}


def copy_repository(dest: Path) -> Path:
    """The parts of the repository the workflow runs from, at `dest`."""
    dest.mkdir()
    for name in ("Snakefile", "workflow", "scripts", "src", "config", "envs"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, dest / name)
    return dest


@pytest.mark.slow
def test_paths_with_spaces_and_a_failed_rerun_that_keeps_the_old_file(tmp_path):
    """Repository and working directory with spaces, another python first on PATH: the
    world's first three jobs run.
    Then a wrong-kind generator.pt makes train_encoder rerun and fail: the console shows
    the step's error and log, and the valid encoder.pt is still there, unchanged."""
    repo = copy_repository(tmp_path / "a repo")
    work = tmp_path / "a work dir"
    work.mkdir()
    # jobs import the copy, and run the interpreter Snakemake runs in: not PATH's python
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("python", "python3"):
        (fake / name).write_text("#!/bin/sh\necho 'Error: not this python' >&2\nexit 7\n")
        (fake / name).chmod(0o755)
    path = f"{fake}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), "PATH": path}
    args = ("--configfile", str(TINY), "-c1", "results/world/encoder.pt")
    first = snakemake(*args, cwd=work, root=repo, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    encoder = work / "results" / "world" / "encoder.pt"
    good = encoder.read_bytes()
    save_checkpoint(work / "results" / "world" / "generator.pt", "encoder", {"w": torch.ones(1)})
    rerun = snakemake(*args, cwd=work, root=repo, env=env)
    assert rerun.returncode != 0
    assert "rule train_encoder" in rerun.stderr
    log = "logs/train_encoder.log"
    assert re.search(
        rf"^Error: checkpoint .*generator\.pt holds a 'encoder'.*\(log: {log}\)$",
        rerun.stderr,
        re.M,
    ), rerun.stderr[-3000:]
    assert "Traceback" not in (work / log).read_text()
    assert encoder.read_bytes() == good
    # kept, but not trusted: the next run redoes the job
    again = planned(snakemake(*args, "-n", cwd=work, root=repo, env=env))
    assert again.get("train_encoder") == 1, again
