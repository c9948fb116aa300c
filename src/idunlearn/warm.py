"""A warm interpreter that starts the workflow's steps: torch imported once, forked per step.

Every step is its own `python scripts/<step>.py` process, and on a small machine most of a
short step's time is the start: importing torch, torchvision (with torch._dynamo) and
pandas takes 4-10 s on 2 cores, against a few seconds of work for many evaluate, render
or target jobs. So the first step of a run starts a server that imports those libraries
once and then forks a child per step: the child runs the script exactly as `python
script.py` would (its own process, cwd, environment, argv, log, exit status), without the
imports. The project's own modules are never preloaded (a child imports them fresh, so an
edited checkout runs its new code), and the server exits after `IDLE_SECONDS` without a
step.

The client (`idunlearn.job`) falls back to a plain subprocess when the server cannot be
used: IDUNLEARN_WARM=0, inside a SLURM job (the step must run in its allocation), or when
no server answers. A step killed through its client (Snakemake stopping a job) is killed,
and a client that dies (SIGKILL) takes its step with it: the server watches the
connection.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import random
import runpy
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Third-party libraries the steps import; never the project's own modules (see above).
PRELOAD = ("numpy", "pandas", "scipy.linalg", "torch", "torchvision", "lpips")
IDLE_SECONDS = 120.0
START_SECONDS = 120.0  # how long a client waits for a new server's imports
POLL_SECONDS = 0.05
MAX_SOCKET_PATH = 100  # bytes; AF_UNIX allows 108 on Linux, 104 on macOS


def enabled() -> bool:
    """Whether steps may run in the warm server here."""
    if os.environ.get("IDUNLEARN_WARM", "1") == "0" or "SLURM_JOB_ID" in os.environ:
        return False
    return hasattr(os, "fork") and hasattr(socket, "AF_UNIX")


def socket_path() -> Path:
    """One server per interpreter and import path (a worktree's PYTHONPATH, a venv), per user.

    sys.path[0] (the client's working directory under `python -m`) is left out."""
    key = json.dumps([sys.executable, sys.path[1:]]).encode()
    digest = hashlib.sha256(key).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"idunlearn-warm-{os.getuid()}-{digest}.sock"


# --- the server -------------------------------------------------------------------------


@dataclass
class Step:
    conn: socket.socket
    pid: int
    orphaned: bool = False  # its client went away


def serve(path: Path) -> None:
    """Preload, listen on `path`, fork a child per request; exit when idle."""
    for name in PRELOAD:
        __import__(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = path.with_name(f"{path.name}.{os.getpid()}")
    listener.bind(str(tmp))
    listener.listen(64)
    os.replace(tmp, path)  # clients only ever see a socket that listens
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    steps: dict[int, Step] = {}  # by child pid
    last = time.monotonic()
    try:
        while steps or time.monotonic() - last < IDLE_SECONDS:
            for key, _ in selector.select(POLL_SECONDS):
                if key.fileobj is listener:
                    conn, _ = listener.accept()
                    step = start_step(conn, listener, steps)
                    if step:
                        steps[step.pid] = step
                        selector.register(conn, selectors.EVENT_READ, step)
                elif not key.fileobj.recv(1):  # the client went away: so does its step
                    selector.unregister(key.fileobj)
                    key.data.orphaned = True
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(key.data.pid, signal.SIGTERM)
            for pid, status in reap(steps):
                step = steps.pop(pid)
                if not step.orphaned:
                    selector.unregister(step.conn)
                    with contextlib.suppress(OSError):
                        step.conn.sendall(f"{status}\n".encode())
                step.conn.close()
                last = time.monotonic()
    finally:
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_ino == os.fstat(listener.fileno()).st_ino:
                path.unlink()
        listener.close()


def reap(steps: dict[int, Step]) -> Iterator[tuple[int, int]]:
    """(pid, exit status) of finished children; a signal's death as -signal, as Popen has it."""
    for pid in list(steps):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            yield pid, os.waitstatus_to_exitcode(status)


def read_request(conn: socket.socket) -> dict:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("the client closed the connection mid-request")
        data += chunk
    return json.loads(data)


def start_step(conn: socket.socket, listener: socket.socket, steps: dict[int, Step]) -> Step | None:
    """Fork the child of one request and tell the client its pid."""
    try:
        request = read_request(conn)
    except (ConnectionError, ValueError):
        conn.close()
        return None
    pid = os.fork()
    if pid == 0:
        listener.close()
        for other in steps.values():
            other.conn.close()
        os._exit(run_child(conn, request))
    with contextlib.suppress(OSError):  # the child does it too: whichever runs first
        os.setpgid(pid, pid)
    conn.sendall(f"{pid}\n".encode())
    return Step(conn, pid)


def run_child(conn: socket.socket, request: dict) -> int:
    """In the forked child: become `python script args...` and run it; its exit status."""
    conn.close()
    os.setpgid(0, 0)  # its own group: stopping the step stops what it started
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    if "nice" in request:  # `nice snakemake ...` holds; a lower nice than the server's
        with contextlib.suppress(PermissionError):  # needs root
            os.setpriority(os.PRIO_PROCESS, 0, request["nice"])
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    fresh_interpreter_state(request["script"])
    sys.argv = [request["script"], *request["args"]]
    code = 0
    try:
        runpy.run_path(request["script"], run_name="__main__")
    except SystemExit as exit_:
        code = exit_code(exit_.code)
    except BaseException:  # what an uncaught exception does to `python script.py`
        traceback.print_exc()
        code = 1
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()  # what interpreter shutdown would run
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def fresh_interpreter_state(script: str) -> None:
    """What differs between a fresh `python script.py` and a fork of the server."""
    for name in [m for m in sys.modules if m == "idunlearn" or m.startswith("idunlearn.")]:
        del sys.modules[name]  # the project's modules import fresh: an edit is seen
    sys.path[0] = str(Path(script).resolve().parent)
    random.seed()  # fresh entropy, as a new interpreter has (steps seed their own)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads and threads.isdigit():  # read by OpenMP when the server loaded torch
        import torch

        torch.set_num_threads(int(threads))


def exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


# --- the client -------------------------------------------------------------------------


def connect(path: Path, wait: float = 0.0, starting: subprocess.Popen | None = None):
    """A connection to the server at `path`, trying for `wait` seconds while the server
    being started (`starting`) is alive; None if none answers."""
    deadline = time.monotonic() + wait
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(str(path))
            return conn
        except OSError:
            conn.close()
            if time.monotonic() >= deadline or (starting and starting.poll() is not None):
                return None
            time.sleep(0.1)


def server(path: Path) -> socket.socket | None:
    """A connection to the server at `path`, started first if none listens."""
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        return None
    conn = connect(path)
    if conn:
        return conn
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one client starts it; the others wait for it
        conn = connect(path)
        if conn is None:
            starting = subprocess.Popen(
                [sys.executable, "-m", "idunlearn.warm", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            conn = connect(path, START_SECONDS, starting)
    return conn


def run(script: Path, args: list[str], log: Path) -> int | None:
    """Run `script args` in the warm server, output to `log`; its exit status, or None
    when no server could take it (the caller then starts the step itself)."""
    conn = server(socket_path())
    if conn is None:
        return None
    request = {
        "script": str(script),
        "args": args,
        "log": str(log.resolve()),
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
    }
    with conn, conn.makefile("r") as replies:
        conn.sendall((json.dumps(request) + "\n").encode())
        pid_line = replies.readline()
        if not pid_line:
            return None  # the server went away before it forked: start the step here
        pid = int(pid_line)

        def forward(sig: int, _frame: object) -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, forward)
        status = replies.readline()
    return int(status) if status else -signal.SIGKILL


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
