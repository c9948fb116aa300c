"""How every rule runs its step: `python -m idunlearn.job SCRIPTS LOG NAME ARGS...`.

The step's whole output (the traceback of a bug included) goes to the rule's log;
on failure the step's one-line `Error:` (else its last line) and the log's path are
written to stderr, so the Snakemake console says what went wrong without opening the
log. The step runs under this interpreter: the one Snakemake (or the rule's conda
environment) runs, not whatever `python` comes first on PATH, and, where it can, in a
fork of a warm interpreter that has torch imported already (`idunlearn.warm`).

Beside the log, `<log stem>.usage.json` records how the step started (warm or cold), its
exit status, wall seconds, CPU seconds and peak RSS: Snakemake's `benchmark:` files
measure this client's process tree, which a warm step is not in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from idunlearn import warm

# Snakemake's line for an update()-flagged output it put back after its job failed (its
# log says which; no public API does): tests/test_cli.py pins it against the installed
# Snakemake by a real failing rerun.
RESTORED = re.compile(r"^Restored previous version of (.+) \(updating job failed\)\.$", re.M)


def summary(log: Path) -> str:
    """The line that says what went wrong: the last `Error:` line, else the last line."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if line.startswith("Error:")]
    last = errors[-1] if errors else (lines[-1] if lines else "no output")
    return f"{last} (log: {log})"


def run(scripts: Path, log: Path, name: str, args: list[str]) -> int:
    """Run scripts/<name>.py with `args`, its output into `log`; its exit status."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    outcome = warm.run(scripts, name, args, log) if warm.enabled() else None
    started = "warm" if outcome else "cold"
    if outcome is None:
        outcome = run_cold(scripts / f"{name}.py", args, log)
    write_usage(log, name, started, outcome, time.monotonic() - start)
    if outcome.error:
        with log.open("a") as out:
            print(f"Error: {outcome.error}", file=out)
    if outcome.status != 0:
        print(summary(log), file=sys.stderr)
    return 1 if outcome.status < 0 else outcome.status  # killed by a signal: still a failure


def run_cold(script: Path, args: list[str], log: Path) -> warm.Outcome:
    """The step as a plain subprocess of this interpreter; its status and usage."""
    with log.open("w") as out:
        child = subprocess.Popen([sys.executable, str(script), *args], stdout=out, stderr=out)
    try:
        _, status, usage = os.wait4(child.pid, 0)
    except BaseException:  # this client is being stopped: so is its step
        child.kill()
        child.wait()
        raise
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return warm.Outcome(child.returncode, **warm.usage_of(usage))


def usage_path(log: Path) -> Path:
    return log.with_suffix(".usage.json")


def write_usage(log: Path, name: str, started: str, outcome: warm.Outcome, wall: float) -> None:
    """The step's own figures beside its log (this client stays light: no numpy, so no
    idunlearn.io; a measurement, not an artefact a later job reads)."""
    record = {
        "step": name,
        "start": started,
        "status": outcome.status,
        "wall_s": round(wall, 3),
        "cpu_s": round(outcome.cpu_s, 3),
        "max_rss_mb": round(outcome.max_rss_mb, 1),
    }
    path = usage_path(log)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(record) + "\n")
    os.replace(tmp, path)


def outdate_restored(snakemake_logs: list[Path]) -> list[Path]:
    """Date back each output that Snakemake restored after its job failed.

    The restored copy gets a new mtime, so the next run would take it as up to date;
    dated back to 1970 it is kept, and older than its inputs.
    """
    text = "".join(log.read_text(errors="replace") for log in snakemake_logs if log.is_file())
    restored = [Path(match) for match in RESTORED.findall(text)]
    for path in restored:
        if path.exists():
            os.utime(path, (1, 1), follow_symlinks=False)  # not 0: Snakemake takes 0 as no time
    return restored


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m idunlearn.job SCRIPTS LOG NAME [ARGS...]", file=sys.stderr)
        return 2
    scripts, log, name, *args = argv
    return run(Path(scripts), Path(log), name, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
