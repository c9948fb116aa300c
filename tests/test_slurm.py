"""The workflow on a real SLURM cluster, through profiles/slurm (+ profiles/slurm-test).

Needs a running SLURM whose client commands work from here, e.g. the one-node cluster of
ci/slurm (as root: ci/slurm/install.sh && ci/slurm/start.sh; later ci/slurm/stop.sh).
Skipped when `sinfo` does not answer. Run with `pytest -m slurm -s` to see the timings.

Each run works in its own copy of the repository (without outputs), so the repository's
own results/ are never touched.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import TinyRun

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "config" / "config.yaml"
# The SLURM runs' config, written into their working directory: the tiny config's world
# and identities with fewer methods (each job runs cold on the 2-core test node, so the
# whole tiny DAG took ~30 minutes). Its jobs are jobs of the tiny DAG: every row of its
# all.csv must equal the shared local tiny run's row of that scenario, identity and method.
CONFIGFILE = "slurm.yaml"
SLURM_METHODS = ("baseline", "guide", "encoder")  # the GUIDE objective and the encoder kind
# Relative tolerance for numeric cells of the compared all.csv (0.0: exact).
CSV_REL_TOL = 1e-6
ROW_KEY = ("scenario", "identity", "method")
# Rules whose jobs never go to SLURM: localrules, and rules without shell/run (all).
LOCAL_RULES = {
    "all",
    "aggregate",
    "tables",
    "figures",
    "report",
    "attack_figure",
    "report_pages",
    "multi_report",
}
# Rules whose SLURM jobs must have asked for a GPU (set-resources in profiles/slurm).
GPU_RULES = {"unlearn", "evaluate"}
# The resume test redoes REDO_JOBS jobs of CANCEL_RULE (and what depends on them) and
# cancels one of them with scancel while it runs. A rule late in the DAG keeps it short.
CANCEL_RULE = "evaluate"
REDO_JOBS = 2
# Seconds one Snakemake run may take before the test stops it (SIGINT cancels its jobs):
# the tiny DAG is ~100 SLURM jobs at ~12 s of polling each, more on a loaded machine.
RUN_TIMEOUT = 2700

PROFILE_ARGS = ["--profile", "profiles/slurm", "--profile", "profiles/slurm-test"]
# No implicit profiles/default workflow profile: both runs get exactly these settings.
COMMON_ARGS = ["--configfile", CONFIGFILE, "--workflow-profile", "none"]
# Top-level entries the copy of the repository leaves out: VCS, outputs, caches.
NOT_COPIED = {
    ".git",
    ".snakemake",
    "results",
    "resources",
    "logs",
    "benchmarks",
    ".pytest_cache",
    ".ruff_cache",
    ".venv",
}


@dataclass
class Run:
    workdir: Path
    returncode: int
    seconds: float
    log: str

    @property
    def slurm_run_id(self) -> str:
        match = re.search(r"SLURM run ID: (\S+)", self.log)
        assert match, f"no SLURM run ID in the Snakemake log:\n{tail(self.log)}"
        return match.group(1)


@dataclass(frozen=True)
class SlurmJob:
    job_id: str
    state: str
    rule: str
    wildcards: str

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.wildcards


def tail(text: str, lines: int = 60) -> str:
    """The part of a Snakemake log worth showing: from its first error on, else its end."""
    all_lines = text.splitlines()
    first_error = next((i for i, ln in enumerate(all_lines) if "Error in rule" in ln), None)
    if first_error is not None:
        return "\n".join(all_lines[first_error : first_error + 2 * lines])
    return "\n".join(all_lines[-lines:])


def slurm_problem() -> str | None:
    """Why no SLURM job can run here, or None when one can."""
    if shutil.which("sinfo") is None:
        return "no SLURM here (sinfo not found); start one with ci/slurm/start.sh"
    try:
        out = subprocess.run(
            ["sinfo", "--noheader", "--format=%T"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return "sinfo timed out: is slurmctld running? (ci/slurm/start.sh)"
    if out.returncode != 0:
        return f"sinfo failed ({out.stderr.strip()}): is slurmctld running? (ci/slurm/start.sh)"
    states = {s.rstrip("*~#!%$@^-") for s in out.stdout.split()}
    if not states & {"idle", "mixed", "allocated", "completing"}:
        return f"no SLURM node can take jobs (node states: {sorted(states) or 'none'})"
    return None


@pytest.fixture(scope="module", autouse=True)
def slurm_cluster() -> None:
    problem = slurm_problem()
    if problem:
        pytest.skip(problem)


def copy_repo(dest: Path) -> Path:
    def ignore(directory: str, names: list[str]) -> set[str]:
        top = Path(directory).resolve() == REPO
        return {n for n in names if (top and n in NOT_COPIED) or n == "__pycache__"}

    shutil.copytree(REPO, dest, symlinks=True, ignore=ignore)
    return dest


def start(workdir: Path, args: list[str]) -> tuple[subprocess.Popen, Path, float]:
    log_path = workdir.parent / f"{workdir.name}-snakemake-{time.monotonic_ns()}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            ["snakemake", *args],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return proc, log_path, time.monotonic()


def finish(workdir: Path, proc: subprocess.Popen, log_path: Path, t0: float) -> Run:
    try:
        proc.wait(timeout=max(1.0, RUN_TIMEOUT - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        # SIGINT, not SIGTERM: only on SIGINT does Snakemake scancel its jobs.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        pytest.fail(f"snakemake ran over {RUN_TIMEOUT} s:\n{tail(log_path.read_text())}")
    return Run(workdir, proc.returncode, time.monotonic() - t0, log_path.read_text())


def snakemake(workdir: Path, args: list[str]) -> Run:
    return finish(workdir, *start(workdir, args))


def slurm_jobs(run_id: str) -> list[SlurmJob]:
    """The jobs of one Snakemake run, as the controller knows them (for MinJobAge)."""
    out = subprocess.run(
        [
            "squeue",
            "--states=all",
            "--noheader",
            f"--name={run_id}",
            "--format=%i|%T|%k",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    jobs = []
    for line in out.splitlines():
        job_id, state, comment = line.strip().split("|", 2)
        # The plugin's comment: rule_<rule>[_wildcards_<values joined by _>].
        rule, _, wildcards = comment.removeprefix("rule_").partition("_wildcards_")
        jobs.append(SlurmJob(job_id, state, rule, wildcards))
    return jobs


def job_stats(log: str) -> Counter:
    """Jobs per rule, from the 'Job stats' table Snakemake prints before running."""
    match = re.search(r"^Job stats:\n.*?\n-+ +-+\n(.*?)^total +\d+", log, re.S | re.M)
    assert match, f"no job stats in the Snakemake log:\n{tail(log)}"
    return Counter({r: int(n) for r, n in re.findall(r"^(\S+) +(\d+)$", match.group(1), re.M)})


def output_summary(workdir: Path, *extra: str) -> list[dict[str, str]]:
    """`snakemake --summary`: one row per output file with its rule, status and plan."""
    out = subprocess.run(
        ["snakemake", "--summary", *COMMON_ARGS, *extra],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if "\t" in ln]
    return list(csv.DictReader(lines, delimiter="\t"))


def slurm_config() -> dict:
    config = yaml.safe_load(TINY.read_text())
    config["methods"] = {name: config["methods"][name] for name in SLURM_METHODS}
    config["ablations"] = {"alpha_max": [], "global": False, "d": []}
    config["attacks"]["methods"] = ["guide"]
    config["render"] = {"methods": ["guide"], "seeds": [0]}
    config["multi"]["methods"] = []
    return config


def same_cell(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return math.isclose(float(a), float(b), rel_tol=CSV_REL_TOL, abs_tol=1e-12)
    except ValueError:
        return False


def assert_same_outputs(got: Path, expected: Path) -> None:
    """Every row of the SLURM run's all.csv is the local run's row of its key, on the
    cells the SLURM run filled (the cut attacks only GUIDE: the other methods' attack
    cells stay empty there); GUIDE's rows fill the same cells in both."""
    name = "results/metrics/all.csv"
    assert (expected / name).is_file(), f"the local run did not write {name}"
    assert (got / name).is_file(), f"the SLURM run did not write {name}"
    local = {tuple(r[k] for k in ROW_KEY): r for r in csv.DictReader((expected / name).open())}
    rows = list(csv.DictReader((got / name).open()))
    assert len(rows) == len(SLURM_METHODS) * 3, f"{name}: {len(rows)} rows"
    for row in rows:
        key = tuple(row[k] for k in ROW_KEY)
        assert key in local, f"{name}: the local run has no row {key}"
        filled = {c: v for c, v in row.items() if v != ""}
        if row["method"] == "guide":  # attacked in both runs: the same cells filled
            expected_filled = {c for c, v in local[key].items() if v != ""}
            assert filled.keys() == expected_filled, f"{name} row {key}: other cells filled"
        differ = {
            c: (v, local[key].get(c)) for c, v in filled.items() if not same_cell(v, local[key][c])
        }
        assert not differ, f"{name} row {key} differs (SLURM, local): {differ}"


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory) -> Run:
    work = copy_repo(tmp_path_factory.mktemp("slurm") / "repo")
    (work / CONFIGFILE).write_text(yaml.safe_dump(slurm_config(), sort_keys=False))
    run = snakemake(work, [*PROFILE_ARGS, *COMMON_ARGS])
    assert run.returncode == 0, f"SLURM run failed:\n{tail(run.log)}"
    return run


def test_workflow_runs_as_slurm_jobs(tiny_run_timed: TinyRun, slurm_run: Run, capsys) -> None:
    jobs = slurm_jobs(slurm_run.slurm_run_id)
    not_completed = [j for j in jobs if j.state != "COMPLETED"]
    assert not not_completed, f"SLURM jobs that did not complete: {not_completed}"

    # Every job of a non-local rule ran as exactly one SLURM job; no local rule did.
    stats = job_stats(slurm_run.log)
    per_rule = Counter(j.rule for j in jobs)
    expected = Counter({r: n for r, n in stats.items() if r not in LOCAL_RULES})
    assert per_rule == expected, f"SLURM jobs per rule {dict(per_rule)}, expected {expected}"
    assert len({j.key for j in jobs}) == len(jobs), "a job was submitted twice"

    # A step inside a SLURM job starts cold, in its allocation; the localrules' steps on
    # the submitting (login) node start warm, from the user's private server.
    usage = [json.loads(p.read_text()) for p in slurm_run.workdir.glob("logs/**/*.usage.json")]
    starts = {(u["step"] in LOCAL_RULES, u["start"]) for u in usage}
    assert starts == {(False, "cold"), (True, "warm")}, starts

    # The plugin kept one sbatch log per job (slurm-keep-successful-logs).
    logged = {p.stem for p in (slurm_run.workdir / "logs" / "slurm").rglob("*.log")}
    assert logged == {j.job_id for j in jobs}

    # The GPU rules asked SLURM for a GPU.
    for job in jobs:
        if job.rule in GPU_RULES:
            info = subprocess.run(
                ["scontrol", "show", "job", job.job_id],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert "gpu" in info, f"{job} ran without a GPU request"

    local = tiny_run_timed
    with capsys.disabled():
        print(
            f"\nSLURM test: {len(jobs)} SLURM jobs ({dict(sorted(per_rule.items()))}); "
            f"wall time SLURM {slurm_run.seconds:.0f} s, local (--cores 2) "
            f"{local.seconds:.0f} s, overhead {slurm_run.seconds - local.seconds:+.0f} s"
        )

    assert_same_outputs(slurm_run.workdir, local.path)


def cancel_running_job(proc: subprocess.Popen, log_path: Path, rule: str) -> SlurmJob:
    """Wait until a job of `rule` of this run is RUNNING, then scancel it."""
    run_id = None
    while proc.poll() is None:
        if run_id is None:
            match = re.search(r"SLURM run ID: (\S+)", log_path.read_text())
            run_id = match and match.group(1)
        if run_id:
            running = [j for j in slurm_jobs(run_id) if j.rule == rule and j.state == "RUNNING"]
            if running:
                subprocess.run(["scancel", running[0].job_id], check=True, timeout=30)
                return running[0]
        time.sleep(0.2)
    log = tail(log_path.read_text())
    pytest.fail(f"the run ended before a {rule} job could be cancelled:\n{log}")


def test_scancel_then_rerun_resumes(tiny_run_timed: TinyRun, slurm_run: Run, capsys) -> None:
    # Start from the finished SLURM run without the outputs of REDO_JOBS jobs of CANCEL_RULE
    # and of all that depends on them (what --forcerun would redo): the runs below redo
    # just those jobs. A job is known by its log file. In the SLURM run's own directory (so
    # after the test above): in a copy, the rules' absolute script paths (params) would
    # differ and Snakemake would redo everything.
    work = slurm_run.workdir
    jobs: dict[str, list[str]] = {}
    for row in output_summary(work):
        if row["rule"] == CANCEL_RULE:
            jobs.setdefault(row["log-file(s)"], []).append(row["output_file"])
    assert len(jobs) >= REDO_JOBS, f"fewer than {REDO_JOBS} {CANCEL_RULE} jobs: {jobs}"
    chosen = [f for log in sorted(jobs)[:REDO_JOBS] for f in jobs[log]]
    for row in output_summary(work, "--forcerun", *chosen):
        if row["plan"] != "no update":
            (work / row["output_file"]).unlink(missing_ok=True)

    args = [*PROFILE_ARGS, *COMMON_ARGS]
    proc, log_path, t0 = start(work, args)
    victim = cancel_running_job(proc, log_path, CANCEL_RULE)
    first = finish(work, proc, log_path, t0)
    assert first.returncode != 0, f"snakemake exited 0 after scancel:\n{tail(first.log)}"
    planned = job_stats(first.log)
    assert planned[CANCEL_RULE] == REDO_JOBS, f"the run planned more than intended: {planned}"
    jobs1 = {j.job_id: j for j in slurm_jobs(first.slurm_run_id)}
    assert jobs1[victim.job_id].state == "CANCELLED"
    completed1 = {j.key for j in jobs1.values() if j.state == "COMPLETED"}

    # Outputs the first run left finished: the rerun must not touch them.
    finished = {
        r["output_file"]: (work / r["output_file"]).stat().st_mtime_ns
        for r in output_summary(work)
        if r["plan"] == "no update" and (work / r["output_file"]).exists()
    }
    assert finished

    second = snakemake(work, args)
    assert second.returncode == 0, f"the rerun failed:\n{tail(second.log)}"
    keys2 = {j.key for j in slurm_jobs(second.slurm_run_id)}
    assert victim.key in keys2, "the rerun did not redo the cancelled job"
    assert not keys2 & completed1, f"the rerun redid finished jobs: {keys2 & completed1}"
    touched = [f for f, mtime in finished.items() if (work / f).stat().st_mtime_ns != mtime]
    assert not touched, f"the rerun rewrote finished outputs: {touched}"

    with capsys.disabled():
        print(
            f"\nSLURM resume test: cancelled {victim.rule} job {victim.job_id}; "
            f"first run {first.seconds:.0f} s (exit {first.returncode}, "
            f"{len(completed1)} SLURM jobs completed), rerun {second.seconds:.0f} s "
            f"({len(keys2)} SLURM jobs)"
        )
    assert_same_outputs(work, tiny_run_timed.path)
