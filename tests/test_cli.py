"""The step CLIs: every option documented, shared defaults, errors (cli.step, idunlearn.job)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from idunlearn.cli import step
from idunlearn.io import ArtefactError
from idunlearn.job import outdate_restored, summary

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))


def command(path: Path) -> click.Command:
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_every_option_of_every_script_has_a_help_text(path):
    options = [p for p in command(path).params if isinstance(p, click.Option)]
    assert options, f"{path.name}: no options found"
    undocumented = [p.opts[0] for p in options if not (p.help or "").strip()]
    assert not undocumented, f"{path.name}: options without help: {undocumented}"


def test_device_defaults_to_auto_in_every_step():
    defaults = {
        path.stem: p.default for path in SCRIPTS for p in command(path).params if p.name == "device"
    }
    assert {"unlearn", "invert", "evaluate", "attack"} <= set(defaults)
    assert set(defaults.values()) == {"auto"}, defaults


def failing(error: Exception) -> click.Command:
    @click.command()
    @step
    def main():
        raise error

    return main


def test_an_expected_error_is_one_line_without_traceback():
    result = CliRunner().invoke(failing(ArtefactError("missing checkpoint: x.pt")))
    assert result.exit_code == 1
    assert result.output.strip() == "Error: missing checkpoint: x.pt"


def test_an_unexpected_error_keeps_its_traceback_and_ends_in_one_error_line():
    result = CliRunner().invoke(failing(ZeroDivisionError("division by zero")))
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1
    assert lines[0] == "Traceback (most recent call last):"
    assert any("raise error" in line for line in lines)
    assert lines[-1] == "Error: unexpected ZeroDivisionError: division by zero"


def test_summary_is_the_last_error_line_and_the_log_path(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("Traceback ...\nError: first\nError: the cause\nWarning: at exit\n\n")
    assert summary(log) == f"Error: the cause (log: {log})"
    log.write_text("Killed\n")
    assert summary(log) == f"Killed (log: {log})"


def test_a_failing_job_logs_everything_and_prints_its_error_on_stderr(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "fail.py").write_text(
        "import sys\nprint('progress', flush=True)\n"
        "print('Error: bad input x', file=sys.stderr)\nsys.exit(3)\n"
    )
    (scripts / "ok.py").write_text("import sys\nprint(sys.executable, sys.argv[1:])\n")
    job = [sys.executable, "-m", "idunlearn.job", str(scripts)]
    log = tmp_path / "logs" / "fail.log"
    failed = subprocess.run([*job, str(log), "fail"], capture_output=True, text=True)
    assert failed.returncode == 3
    assert failed.stderr.strip() == f"Error: bad input x (log: {log})"
    assert log.read_text().splitlines() == ["progress", "Error: bad input x"]
    ok_log = tmp_path / "ok.log"
    ok = subprocess.run([*job, str(ok_log), "ok", "a b"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stderr == ""
    # the step runs under the job's interpreter and gets its arguments unsplit
    assert ok_log.read_text().strip() == f"{sys.executable} ['a b']"


def test_outputs_snakemake_put_back_are_dated_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kept, other = Path("results/kept.pt"), Path("results/other.pt")
    kept.parent.mkdir()
    kept.write_text("old")
    other.write_text("new")
    log = tmp_path / "snakemake.log"
    log.write_text(
        "Error in rule x:\n"
        "Restored previous version of results/kept.pt (updating job failed).\n"
        "Exiting because a job execution failed.\n"
    )
    assert outdate_restored([log, tmp_path / "absent.log"]) == [kept]
    assert kept.stat().st_mtime == 1 and kept.read_text() == "old"
    assert other.stat().st_mtime > 1
