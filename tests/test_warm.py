"""The warm starter (idunlearn.warm): a step forked from it behaves as `python script.py`.

Each test runs the real client (`python -m idunlearn.job`) in a subprocess with its own
TMPDIR, so it gets a server of its own, which the test stops at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

STEP = """\
import os, sys, time
own = sorted(m for m in sys.modules if m == "idunlearn" or m.startswith("idunlearn."))
print("argv", sys.argv[1:])
print("cwd", os.getcwd())
print("env", os.environ.get("STEP_VALUE"))
print("own modules before import", own)
print("server", os.getppid())
print("nice", os.getpriority(os.PRIO_PROCESS, 0))
print("to stderr", file=sys.stderr)
sys.stdout.flush()
if sys.argv[1] == "sleep":
    time.sleep(60)
if sys.argv[1] == "raise":
    raise RuntimeError("a bug in the step")
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture
def world():
    """A scripts folder with the step, and a TMPDIR short enough for a socket path."""
    tmp = Path(tempfile.mkdtemp(prefix="warm", dir="/tmp"))
    (tmp / "scripts").mkdir()
    (tmp / "scripts" / "step.py").write_text(STEP)
    (tmp / "work").mkdir()
    servers: set[int] = set()
    yield tmp, servers
    for pid in servers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def client(tmp: Path, log: str, *args: str, warm: str = "1", **popen) -> subprocess.Popen:
    env = {
        **os.environ,
        "TMPDIR": str(tmp),
        "IDUNLEARN_WARM": warm,
        "STEP_VALUE": log,
    }
    env.pop("SLURM_JOB_ID", None)
    command = [sys.executable, "-m", "idunlearn.job", str(tmp / "scripts"), str(tmp / log)]
    return subprocess.Popen(
        [*command, "step", *args], cwd=tmp / "work", env=env, stderr=subprocess.PIPE, **popen
    )


def lines(log: Path) -> dict[str, str]:
    out = {}
    for line in log.read_text().splitlines():
        key, _, value = line.partition(" ")
        out[key] = value
    return out


def server_of(log: Path) -> int:
    return int(lines(log)["server"])


def test_a_step_runs_as_its_own_script_with_its_args_cwd_env_log_and_status(world):
    tmp, servers = world
    for i, code in enumerate([0, 3, 0]):
        proc = client(tmp, f"log{i}", str(code), "x y")
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == code
        out = lines(tmp / f"log{i}")
        assert out["argv"] == f"['{code}', 'x y']"
        assert out["cwd"] == str(tmp / "work")
        assert out["env"] == f"log{i}"
        assert out["own"] == "modules before import []"  # the project's modules import fresh
        assert "to stderr" in (tmp / f"log{i}").read_text()
        servers.add(server_of(tmp / f"log{i}"))
    assert len(servers) == 1 and servers != {os.getpid()}, "every step forks the one server"
    assert err.decode() == ""


def test_a_step_runs_at_its_client_s_priority_not_the_server_s(world):
    """`nice snakemake ...` beside another run sharing the server stays nice."""
    tmp, servers = world
    base = os.getpriority(os.PRIO_PROCESS, 0)
    first = client(tmp, "first", "0")
    first.communicate(timeout=300)
    nicer = client(tmp, "nicer", "0", preexec_fn=lambda: os.nice(5))
    nicer.communicate(timeout=300)
    servers.add(server_of(tmp / "first"))
    assert server_of(tmp / "nicer") == server_of(tmp / "first"), "both steps forked one server"
    assert lines(tmp / "first")["nice"] == str(base)
    assert lines(tmp / "nicer")["nice"] == str(min(base + 5, 19))


def test_a_bug_in_the_step_leaves_its_traceback_in_the_log_and_fails(world):
    tmp, servers = world
    proc = client(tmp, "log", "raise")
    _, err = proc.communicate(timeout=300)
    servers.add(server_of(tmp / "log"))
    assert proc.returncode == 1
    assert "RuntimeError: a bug in the step" in (tmp / "log").read_text()
    assert "RuntimeError: a bug in the step" in err.decode()  # idunlearn.job's summary


def wait_for(predicate, seconds: float = 300.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def step_pid(log: Path) -> int:
    """The pid of a running step: the server's child that writes `log`."""
    server = server_of(log)
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == server:  # fields after the name: state, ppid, ...
            pids.append(int(stat.parent.name))
    assert len(pids) == 1, pids
    return pids[0]


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for the server to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_stopping_or_killing_the_client_stops_its_step(world, sig):
    """Snakemake stopping a job (SIGTERM) stops the step; a client killed outright (SIGKILL)
    takes its step with it too, through the server."""
    tmp, servers = world
    proc = client(tmp, "log", "sleep")
    wait_for(lambda: (tmp / "log").exists() and "server" in lines(tmp / "log"))
    servers.add(server_of(tmp / "log"))
    step = step_pid(tmp / "log")
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    wait_for(lambda: not alive(step), 30)


def test_without_the_server_the_step_is_a_plain_subprocess(world):
    tmp, _ = world
    proc = client(tmp, "log", "5", warm="0")
    proc.communicate(timeout=300)
    assert proc.returncode == 5
    assert server_of(tmp / "log") == proc.pid  # the client's own child
    assert not list(tmp.glob("idunlearn-warm-*.sock"))
