"""The step CLIs: every option documented, shared defaults, errors (cli.step, idunlearn.job)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from idunlearn.cli import step
from idunlearn.io import ArtefactError, UserError
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


@pytest.mark.parametrize(
    "error",
    [ArtefactError("missing checkpoint: x.pt"), UserError("--steps 0: at least 1")],
    ids=["file", "value"],
)
def test_a_users_error_is_one_line_without_traceback(error):
    result = CliRunner().invoke(failing(error))
    assert result.exit_code == 1
    assert result.output == f"Error: {error}\n"


# KeyError, ValueError and FileNotFoundError are a bug's as often as a user's
@pytest.mark.parametrize(
    "error",
    [
        ZeroDivisionError("division by zero"),
        KeyError("id_others"),
        ValueError("bad shape"),
        FileNotFoundError("x.pt"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_an_unexpected_error_keeps_its_traceback_and_ends_in_one_error_line(error):
    result = CliRunner().invoke(failing(error))
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1
    assert lines[0] == "Traceback (most recent call last):"
    assert any("raise error" in line for line in lines)
    assert lines[-1] == f"Error: unexpected {type(error).__name__}: {error}"


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


# A step that reads a record and one field of it: a missing or corrupt record is the
# user's, a record without the field the code expects is a bug (the workflow wrote it).
RECORD_STEP = """
import click
from idunlearn.cli import step
from idunlearn.io import read_json

@click.command()
@click.argument("record")
@step
def main(record):
    print(read_json(record)["id_others"])

if __name__ == "__main__":
    main()
"""


def run_record_step(tmp_path: Path, record: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """The record step as a rule runs it (idunlearn.job, cold): its result and its log."""
    scripts = tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / "record.py").write_text(RECORD_STEP)
    log = tmp_path / "logs" / "record.log"
    command = [sys.executable, "-m", "idunlearn.job", str(scripts), str(log), "record"]
    env = {**os.environ, "IDUNLEARN_WARM": "0"}
    result = subprocess.run([*command, str(record)], capture_output=True, text=True, env=env)
    return result, log


def test_a_key_error_of_a_bug_keeps_its_traceback_in_the_log(tmp_path):
    record = tmp_path / "record.json"
    record.write_text('{"id": 0.5}')
    result, log = run_record_step(tmp_path, record)
    lines = log.read_text().splitlines()
    assert result.returncode == 1
    assert lines[0] == "Traceback (most recent call last):"
    assert '    print(read_json(record)["id_others"])' in lines
    assert lines[-1] == "Error: unexpected KeyError: 'id_others'"
    assert result.stderr == f"Error: unexpected KeyError: 'id_others' (log: {log})\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "missing file: {}"), ("{", "not valid JSON: {} (Expecting property name")],
)
def test_a_missing_or_corrupt_input_is_one_line_without_traceback(tmp_path, content, message):
    record = tmp_path / "record.json"
    if content is not None:
        record.write_text(content)
    result, log = run_record_step(tmp_path, record)
    (line,) = log.read_text().splitlines()
    assert result.returncode == 1
    assert line.startswith("Error: " + message.format(record)), line
    assert result.stderr == f"{line} (log: {log})\n"


# Two kept (update()) outputs: `kept`'s job writes its output, then fails.
KEPT_SNAKEFILE = """
rule all:
    input: "results/kept.pt", "results/other.pt"

rule kept:
    output: update("results/kept.pt")
    shell: "echo new > {output}; exit 1"

rule other:
    output: update("results/other.pt")
    shell: "echo new > {output}"
"""


def test_the_output_snakemake_put_back_is_found_in_its_log_and_dated_back(tmp_path, monkeypatch):
    """The installed Snakemake's own log line (job.RESTORED), not a copy of its wording."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Snakefile").write_text(KEPT_SNAKEFILE)
    kept, other = Path("results/kept.pt"), Path("results/other.pt")
    kept.parent.mkdir()
    kept.write_text("old")
    other.write_text("old")
    command = [sys.executable, "-m", "snakemake", "-c1", "--forceall", "--keep-going"]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode != 0
    assert kept.read_text() == "old" and other.read_text() == "new\n", run.stderr[-3000:]
    logs = sorted((tmp_path / ".snakemake" / "log").glob("*.log"))
    assert outdate_restored([*logs, tmp_path / "absent.log"]) == [kept], run.stderr[-3000:]
    assert kept.stat().st_mtime == 1 and kept.read_text() == "old"
    assert other.stat().st_mtime > 1
