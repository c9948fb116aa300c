"""How every rule runs its step: `python -m idunlearn.job SCRIPTS LOG NAME ARGS...`.

The step's whole output (the traceback of a bug included) goes to the rule's log;
on failure the step's one-line `Error:` (else its last line) and the log's path are
written to stderr, so the Snakemake console says what went wrong without opening the
log. The step runs under this interpreter: the one Snakemake (or the rule's conda
environment) runs, not whatever `python` comes first on PATH, and, where it can, in a
fork of a warm interpreter that has torch imported already (`idunlearn.warm`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
    script = scripts / f"{name}.py"
    status = warm.run(script, args, log) if warm.enabled() else None
    if status is None:
        with log.open("w") as out:
            status = subprocess.call([sys.executable, str(script), *args], stdout=out, stderr=out)
    if status != 0:
        print(summary(log), file=sys.stderr)
    return 1 if status < 0 else status  # killed by a signal: still a failure


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
