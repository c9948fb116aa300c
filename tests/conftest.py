import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

# tests import their small helpers (tiny.py) by name
sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class TinyRun:
    path: Path
    seconds: float  # wall time of the Snakemake run (0 when it had nothing left to do)


@pytest.fixture(scope="session")
def tiny_run_timed(tmp_path_factory) -> TinyRun:
    """The whole DAG on the tiny config, run once per session on 2 cores: the end-to-end
    test, the browser test of its report and the SLURM test's comparison share it (CI runs
    the tiny DAG locally once). IDUNLEARN_TINY_RUN names a folder to run it in instead
    (kept: a finished run is only brought up to date)."""
    given = os.environ.get("IDUNLEARN_TINY_RUN")
    run = Path(given) if given else tmp_path_factory.mktemp("tiny_run")
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--cores", "2"]
    command += ["--configfile", str(ROOT / "tests" / "config" / "config.yaml")]
    start = time.monotonic()
    result = subprocess.run(command, cwd=run, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return TinyRun(run, time.monotonic() - start)


@pytest.fixture(scope="session")
def tiny_run(tiny_run_timed: TinyRun) -> Path:
    return tiny_run_timed.path
