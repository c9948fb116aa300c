import os
import subprocess
import sys
from pathlib import Path

import pytest

# tests import their small helpers (tiny.py) by name
sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole DAG on the tiny config, run once per session: the end-to-end test and the
    browser test of its report share it (CI runs the tiny DAG once). IDUNLEARN_TINY_RUN
    names a folder to run it in instead (kept: a finished run is only brought up to date)."""
    given = os.environ.get("IDUNLEARN_TINY_RUN")
    run = Path(given) if given else tmp_path_factory.mktemp("tiny_run")
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--cores", "2"]
    command += ["--configfile", str(ROOT / "tests" / "config" / "config.yaml")]
    result = subprocess.run(command, cwd=run, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return run
