"""A warm interpreter that starts the workflow's steps: torch imported once, forked per step.

Every step is its own `python scripts/<step>.py` process, and on a small machine most of a
short step's time is the start: importing torch, torchvision and pandas takes 4-10 s on
2 cores, against a few seconds of work for many evaluate, render or target jobs. So the
first step of a run starts a server that imports those libraries once and forks a child
per step: the child runs the script as `python script.py` would (its own process, cwd,
argv, log, exit status, umask, resource limits, priority and cgroup), without the
imports. The project's own modules are never preloaded (a child imports them fresh, so an
edited checkout runs its new code), and the server exits after `IDLE_SECONDS` without a
step.

A shared machine is the case this is built for (a login node, a lab server):
- The socket lives in a private directory, `$XDG_RUNTIME_DIR/idunlearn` where that is
  the user's own, else `<tmp>/idunlearn-<uid>`: made with mode 0700 and checked through
  a descriptor opened without following links (a directory, owned by this uid, no group
  or other bits). A directory that fails the check turns warm starts off: steps start
  cold and the console says why.
- Both ends check who is at the other (SO_PEERCRED): the server serves only its own uid,
  and the client sends nothing before it has seen that the socket file and the listening
  process are its own user's.
- A request names a step, not a file: the server runs only `<scripts>/<name>.py` of the
  scripts folder it was started for.
- The client sends the environment a step reads (`ENV_NAMES`, `ENV_PREFIXES`), not its
  whole environment; a step started warm sees only those variables.
- Starting a server is serialised by a `flock` on the private directory, opened without
  following links and waited for at most `START_SECONDS`.
- No client takes the server down: a connection's errors stay with that connection, a
  request must arrive whole within `REQUEST_SECONDS`, a client that goes away takes its
  own step with it (SIGKILL to the step's process group), and a server that exits (or is
  killed) takes its steps with it, so no step writes outputs after its job was reported
  failed. The socket is removed on every exit the server lives through.
- What a step cannot change after the fork is part of the server's key (interpreter,
  import path, scripts folder, PYTHON* variables, cgroup, nice value, hard resource
  limits): clients that differ there get a server of their own. The child sets its
  client's umask and soft limits. Each step's CPU seconds and peak RSS come back from
  `wait4` (the server's child is not in Snakemake's process tree), and its process title
  names the step.

The client (`idunlearn.job`) runs the step cold (a plain subprocess) when the server
cannot be used: IDUNLEARN_WARM=0, inside a SLURM job (the step must run in its
allocation), a socket path too long for AF_UNIX, or a server that does not answer.
The server never initialises CUDA, so forking it is safe on a GPU machine; a server that
finds CUDA initialised refuses to fork and the client starts the step cold.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import random
import re
import resource
import runpy
import selectors
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Third-party libraries the steps import; never the project's own modules (see above).
# IDUNLEARN_WARM_PRELOAD (comma-separated) replaces the list for a new server.
PRELOAD = ("numpy", "pandas", "scipy.linalg", "torch", "torchvision", "lpips")
IDLE_SECONDS = 120.0  # IDUNLEARN_WARM_IDLE_SECONDS overrides it for a new server
START_SECONDS = 120.0  # how long a client waits for a new server's imports
REQUEST_SECONDS = 10.0  # a request must arrive whole within this
REPLY_SECONDS = 5.0  # a send to a client that does not read gives up after this
MAX_REQUEST = 1 << 20  # bytes
POLL_SECONDS = 0.05
MAX_SOCKET_PATH = 100  # bytes; AF_UNIX allows 108 on Linux, 104 on macOS
STEP_NAME = re.compile(r"[a-z][a-z0-9_]*")
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# The environment a step started warm sees: what the steps, torch, CUDA, numpy's BLAS,
# matplotlib, tqdm and the locale read. Everything else (tokens, credentials, a cluster's
# variables) stays with the client.
ENV_NAMES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR"}
    | {"NO_COLOR", "COLUMNS", "LINES", "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV"}
    | {"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"}
)
ENV_PREFIXES = (
    "IDUNLEARN_",
    "PYTHON",
    "LC_",
    "TORCH",
    "PYTORCH_",
    "CUDA_",
    "CUBLAS_",
    "CUDNN_",
    "NVIDIA_",
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "KMP_",
    "MPL",
    "TQDM_",
)
_PEERCRED = struct.Struct("3i")  # pid, uid, gid


class NotPrivate(Exception):
    """A warm-start path another user could reach: steps start cold."""


def enabled() -> bool:
    """Whether steps may run in the warm server here."""
    if os.environ.get("IDUNLEARN_WARM", "1") == "0" or "SLURM_JOB_ID" in os.environ:
        return False
    return hasattr(os, "fork") and hasattr(socket, "AF_UNIX") and sys.platform == "linux"


def step_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The variables a step sees when started warm (ENV_NAMES, ENV_PREFIXES)."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if k in ENV_NAMES or k.startswith(ENV_PREFIXES)}


# --- the private directory --------------------------------------------------------------


def runtime_dir() -> Path:
    """Where this user's warm servers listen: $XDG_RUNTIME_DIR/idunlearn when that is a
    private directory of this user (systemd makes it 0700 per login), else the temp dir."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        with contextlib.suppress(OSError, NotPrivate):
            os.close(private_fd(Path(xdg)))
            return Path(xdg) / "idunlearn"
    return Path(tempfile.gettempdir()) / f"idunlearn-{os.getuid()}"


def private_fd(path: Path, created: bool = False) -> int:
    """A descriptor of the directory `path`, after checking through it that it is a real
    directory (no link followed), owned by this uid, with no group or other bits; one
    this process just `created` gets mode 0700 first (a umask may have taken bits)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:  # a symlink (ELOOP), a file (ENOTDIR), no permission
        raise NotPrivate(f"{path} is not a directory of this user ({err.strerror})") from err
    info = os.fstat(fd)
    if created and info.st_uid == os.getuid():
        os.fchmod(fd, 0o700)
        info = os.fstat(fd)
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        os.close(fd)
        raise NotPrivate(
            f"{path} is not private (owner uid {info.st_uid}, mode {info.st_mode & 0o777:o};"
            f" needs uid {os.getuid()}, mode 700)"
        )
    return fd


def open_private_dir(path: Path) -> int:
    """Create `path` with mode 0700 if it is missing, then check it (`private_fd`)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return private_fd(path)
    return private_fd(path, created=True)


@contextlib.contextmanager
def locked(fd: int, seconds: float) -> Iterator[bool]:
    """Hold an exclusive flock on `fd` (the private directory) for the block; yields
    whether it was had within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                yield False
                return
            time.sleep(POLL_SECONDS)
    try:
        yield True
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED)."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    return _PEERCRED.unpack(raw)[1]


# --- what a step inherits ----------------------------------------------------------------


def current_umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def rlimits() -> dict[str, list[int]]:
    names = sorted(n for n in dir(resource) if n.startswith("RLIMIT_") and n != "RLIMIT_OFILE")
    return {n: list(resource.getrlimit(getattr(resource, n))) for n in names}


def cgroup() -> str:
    try:
        return Path("/proc/self/cgroup").read_text()
    except OSError:
        return ""


def fixed_context() -> dict:
    """What a forked step cannot change: a server serves only clients that share it."""
    return {
        "executable": sys.executable,
        "path": sys.path[1:],  # sys.path[0], the client's script folder, differs per step
        "python_env": sorted((k, v) for k, v in os.environ.items() if k.startswith("PYTHON")),
        "cgroup": cgroup(),
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "hard_limits": {n: hard for n, (_, hard) in rlimits().items()},
    }


def socket_path(directory: Path, scripts: Path) -> Path:
    """One server per user, scripts folder and fixed context (see `fixed_context`)."""
    key = json.dumps([str(scripts), fixed_context()], sort_keys=True).encode()
    return directory / f"warm-{hashlib.sha256(key).hexdigest()[:16]}.sock"


# --- the server -------------------------------------------------------------------------


@dataclass
class Pending:
    """A connection whose request has not arrived whole yet."""

    conn: socket.socket
    deadline: float
    data: bytes = b""


@dataclass
class Step:
    """A forked step and its client's connection."""

    conn: socket.socket
    pid: int
    client_gone: bool = False
    unread: bytes = b""


class Server:
    """The warm server: listens in the private directory and forks a child per request.

    The selector's data says what each connection is: None (the listener), a Pending
    request, or a running Step."""

    def __init__(self, scripts: Path, path: Path, idle_seconds: float) -> None:
        self.scripts = scripts
        self.path = path
        self.tmp_path = path.with_name(f".{path.name}.{os.getpid()}")
        self.idle_seconds = idle_seconds
        self.context = json.loads(json.dumps(fixed_context()))  # as a request carries it
        self.selector = selectors.DefaultSelector()
        self.steps: dict[int, Step] = {}
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.bound_inode = 0

    def listen(self) -> None:
        """Bind beside `path` and rename onto it: clients only see a socket that listens."""
        self.listener.bind(str(self.tmp_path))
        self.bound_inode = os.lstat(self.tmp_path).st_ino
        self.listener.listen(64)
        self.listener.setblocking(False)
        os.replace(self.tmp_path, self.path)
        self.selector.register(self.listener, selectors.EVENT_READ, None)

    def pending(self) -> list[Pending]:
        return [k.data for k in self.selector.get_map().values() if isinstance(k.data, Pending)]

    def serve(self) -> None:
        last = time.monotonic()
        while self.steps or self.pending() or time.monotonic() - last < self.idle_seconds:
            for key, _ in self.selector.select(POLL_SECONDS):
                try:
                    if key.data is None:
                        self.accept()
                    elif isinstance(key.data, Pending):
                        self.read_request(key.data)
                    else:
                        self.read_step_message(key.data)
                except Exception:  # one connection's fault stays with that connection
                    traceback.print_exc()
                    self.drop(key.data)
            self.expire_pending()
            if self.reap():
                last = time.monotonic()

    def accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        if peer_uid(conn) != os.getuid():  # another user: not a word to them
            conn.close()
            return
        conn.settimeout(REPLY_SECONDS)  # a send never blocks the loop for long
        pending = Pending(conn, time.monotonic() + REQUEST_SECONDS)
        self.selector.register(conn, selectors.EVENT_READ, pending)

    def read_request(self, pending: Pending) -> None:
        chunk = pending.conn.recv(65536)
        if not chunk:
            self.drop(pending)
            return
        pending.data += chunk
        if len(pending.data) > MAX_REQUEST:
            self.reply_and_drop(pending, {"error": "request too large"})
        elif b"\n" in pending.data:
            self.selector.unregister(pending.conn)
            self.start_step(pending.conn, pending.data.split(b"\n", 1)[0])

    def expire_pending(self) -> None:
        now = time.monotonic()
        for pending in self.pending():
            if pending.deadline < now:
                self.reply_and_drop(pending, {"error": f"no request within {REQUEST_SECONDS} s"})

    def start_step(self, conn: socket.socket, line: bytes) -> None:
        try:
            request = json.loads(line)
            problem = self.refusal(request)
        except (ValueError, TypeError, KeyError) as err:
            problem = f"bad request ({err!r})"
        if problem:
            send(conn, {"cold": problem})
            conn.close()
            return
        server_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                conn.close()  # the client must see EOF when the server dies, not the step
                code = self.run_child(request, server_pid)
            finally:
                os._exit(code)
        with contextlib.suppress(OSError):  # the child does it too: whichever runs first
            os.setpgid(pid, pid)
        step = Step(conn, pid)
        self.steps[pid] = step
        self.selector.register(conn, selectors.EVENT_READ, step)
        if not send(conn, {"pid": pid}):
            self.client_gone(step)

    def refusal(self, request: dict) -> str | None:
        """Why this server cannot run the request as its own command would, or None."""
        name = request["name"]
        if not isinstance(name, str) or not STEP_NAME.fullmatch(name):
            return f"not a step name: {name!r}"
        if not (self.scripts / f"{name}.py").is_file():
            return f"no step {name} in {self.scripts}"
        if request["context"] != self.context:
            return "the client's interpreter, cgroup, nice value or hard limits differ"
        kinds = {"args": list, "env": dict, "log": str, "cwd": str, "umask": int}
        if not all(isinstance(request[key], kind) for key, kind in kinds.items()):
            return "bad request: a field of the wrong type"
        if set(request["soft_limits"]) - set(self.context["hard_limits"]):
            return "bad request: unknown resource limits"
        if "torch" in sys.modules and sys.modules["torch"].cuda.is_initialized():
            return "CUDA is initialised in the server"  # never by design: refuse to fork
        return None

    def read_step_message(self, step: Step) -> None:
        """From a running step's client: a forwarded signal, or EOF (its step goes too)."""
        try:
            chunk = step.conn.recv(4096)
        except OSError:
            chunk = b""
        if not chunk:
            self.client_gone(step)
            return
        step.unread += chunk
        while b"\n" in step.unread:
            line, step.unread = step.unread.split(b"\n", 1)
            with contextlib.suppress(ValueError, TypeError, KeyError):
                sig = int(json.loads(line)["signal"])
                if sig in FORWARDED_SIGNALS:
                    kill_group(step.pid, sig)

    def client_gone(self, step: Step) -> None:
        if step.client_gone:
            return
        step.client_gone = True
        kill_group(step.pid, signal.SIGKILL)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(step.conn)
        step.conn.close()

    def reap(self) -> bool:
        """Tell each finished step's client its exit status and usage; whether any ended."""
        ended = False
        for pid, step in list(self.steps.items()):
            try:
                done, status, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: nothing to report
                done, status, usage = pid, -1, None
            if not done:
                continue
            ended = True
            del self.steps[pid]
            if not step.client_gone and usage is not None:
                self.selector.unregister(step.conn)
                send(step.conn, {"status": os.waitstatus_to_exitcode(status), **usage_of(usage)})
            self.client_gone(step)  # closes the connection; the group may hold leftovers
        return ended

    def reply_and_drop(self, pending: Pending, message: dict) -> None:
        send(pending.conn, message)
        self.drop(pending)

    def drop(self, what: Pending | Step | None) -> None:
        """Forget a connection whatever its state; a step's connection ends its step."""
        if isinstance(what, Step):
            self.client_gone(what)
        elif isinstance(what, Pending):
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(what.conn)
            what.conn.close()

    def close(self, reason: str) -> None:
        """Stop every step (none may write after its client hears of the failure), tell
        their clients why, and remove the socket."""
        for sig in FORWARDED_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)  # a second signal must not cut this short
        for step in self.steps.values():
            kill_group(step.pid, signal.SIGKILL)
        for pid, step in self.steps.items():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            if not step.client_gone:
                send(step.conn, {"server_exit": reason})
            step.conn.close()
        self.steps.clear()
        for pending in self.pending():
            pending.conn.close()
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(self.path).st_ino == self.bound_inode:
                self.path.unlink()
        self.tmp_path.unlink(missing_ok=True)
        self.listener.close()

    def run_child(self, request: dict, server_pid: int) -> int:
        """In the forked child: become `python <scripts>/<name>.py args...`; its status."""
        try:
            os.setpgid(0, 0)  # its own group: stopping the step stops what it started
            die_with(server_pid)
            for sig in (*FORWARDED_SIGNALS, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            for key in list(self.selector.get_map().values()):
                key.fileobj.close()  # the listener and the other clients' connections
            self.selector.close()
            become_client(request)
            script = self.scripts / f"{request['name']}.py"
            set_title(f"{script.name} {' '.join(request['args'])} (idunlearn warm step)")
        except BaseException:
            traceback.print_exc()
            return 1
        return run_script(script, request["args"])


def send(conn: socket.socket, message: dict) -> bool:
    """One JSON line to a client; False when it is gone or does not read."""
    try:
        conn.sendall((json.dumps(message) + "\n").encode())
        return True
    except OSError:
        return False


def kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def usage_of(usage: resource.struct_rusage) -> dict[str, float]:
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_mb": usage.ru_maxrss / 1024}


def die_with(server_pid: int) -> None:
    """SIGKILL this process when the server dies (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # 1: PR_SET_PDEATHSIG
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != server_pid:  # the server died before the prctl
        os._exit(1)


def become_client(request: dict) -> None:
    """Take the client's umask, soft limits, directory, environment and log."""
    os.umask(request["umask"])
    for name, (soft, hard) in request["soft_limits"].items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)


def set_title(title: str) -> None:
    """The process title `ps` shows (and, cut to 15 bytes, `top`)."""
    import setproctitle

    setproctitle.setproctitle(title)


def run_script(script: Path, args: list[str]) -> int:
    """Run `script` as __main__ with `args`, as `python script args` would; its status."""
    fresh_interpreter_state(script)
    sys.argv = [str(script), *args]
    code = 0
    try:
        runpy.run_path(str(script), run_name="__main__")
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


def fresh_interpreter_state(script: Path) -> None:
    """What differs between a fresh `python script.py` and a fork of the server."""
    for name in [m for m in sys.modules if m == "idunlearn" or m.startswith("idunlearn.")]:
        del sys.modules[name]  # the project's modules import fresh: an edit is seen
    sys.path[0] = str(script.resolve().parent)
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


def serve(scripts: Path, path: Path, idle_seconds: float) -> None:
    """Check the directory, preload, listen on `path` and serve until idle or signalled."""
    os.umask(0o077)  # the socket file is the owner's alone too
    os.close(private_fd(path.parent))
    set_title(f"idunlearn warm server {scripts}")
    for name in os.environ.get("IDUNLEARN_WARM_PRELOAD", ",".join(PRELOAD)).split(","):
        with contextlib.suppress(ImportError, ValueError):  # the report env has no torch
            __import__(name.strip())
    server = Server(scripts, path, idle_seconds)

    def stop(sig: int, _frame: object) -> None:
        raise SystemExit(f"signal {signal.Signals(sig).name}")

    for sig in FORWARDED_SIGNALS:
        signal.signal(sig, stop)
    reason = "it was idle"
    try:
        server.listen()
        server.serve()
    except SystemExit as exit_:
        reason = f"it received {exit_.code}"
    except BaseException as err:
        reason = f"it failed ({type(err).__name__}: {err})"
        raise
    finally:
        server.close(reason)


# --- the client -------------------------------------------------------------------------


@dataclass
class Outcome:
    """How a step ended: its exit status and usage, or the server's reason it stopped."""

    status: int
    cpu_s: float = float("nan")
    max_rss_mb: float = float("nan")
    error: str | None = None


def connect(path: Path) -> socket.socket | None:
    """A connection to the server at `path` after checking it is this user's (the socket
    file and the listening process); None if none listens there."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
        raise NotPrivate(f"{path} is not a socket of this user (owner uid {info.st_uid})")
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None
    if (uid := peer_uid(conn)) != os.getuid():
        conn.close()
        raise NotPrivate(f"the server at {path} runs as uid {uid}, not {os.getuid()}")
    return conn


def start_server(scripts: Path, path: Path, directory_fd: int) -> socket.socket | None:
    """Start a server for `path` unless another client did meanwhile; a connection to it."""
    with locked(directory_fd, START_SECONDS) as have_lock:
        if not have_lock:
            return None
        conn = connect(path)
        if conn is not None:
            return conn
        idle = os.environ.get("IDUNLEARN_WARM_IDLE_SECONDS", str(IDLE_SECONDS))
        starting = subprocess.Popen(
            [sys.executable, "-m", "idunlearn.warm", str(scripts), str(path), idle],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=step_environment(),
            start_new_session=True,
        )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and starting.poll() is None:
            conn = connect(path)
            if conn is not None:
                return conn
            time.sleep(0.1)
    return None


def server(scripts: Path) -> socket.socket | None:
    """A connection to this user's server for `scripts`, started first if none listens."""
    directory = runtime_dir()
    directory_fd = open_private_dir(directory)
    try:
        path = socket_path(directory, scripts)
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            return None
        return connect(path) or start_server(scripts, path, directory_fd)
    finally:
        os.close(directory_fd)


def request_for(name: str, args: list[str], log: Path) -> dict:
    context = fixed_context()
    return {
        "name": name,
        "args": args,
        "log": str(log.resolve()),
        "cwd": os.getcwd(),
        "env": step_environment(),
        "umask": current_umask(),
        "soft_limits": rlimits(),
        "context": context,
    }


def run(scripts: Path, name: str, args: list[str], log: Path) -> Outcome | None:
    """Run step `name` of `scripts` with `args` in the warm server, output to `log`; None
    when the server cannot take it (the caller then starts the step cold)."""
    try:
        conn = server(scripts.resolve())
    except NotPrivate as err:
        print(f"warning: warm start refused, step {name} starts cold: {err}", file=sys.stderr)
        return None
    except OSError as err:  # e.g. a temp directory this user cannot write
        print(f"warning: no warm start, step {name} starts cold: {err}", file=sys.stderr)
        return None
    if conn is None:
        return None
    with conn, conn.makefile("rb") as replies:
        conn.settimeout(REQUEST_SECONDS + START_SECONDS)  # until the step is forked
        if not send(conn, request_for(name, args, log)):
            return None
        first = read_reply(replies)
        if first is None or "pid" not in first:
            return None  # refused, or gone before the fork: start the step cold
        conn.settimeout(None)  # a step may take hours
        previous = {
            sig: signal.signal(sig, lambda s, _: send(conn, {"signal": s}))
            for sig in FORWARDED_SIGNALS
        }
        try:
            last = read_reply(replies)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    if last is None or "status" not in last:
        cause = last.get("server_exit", "of an error") if last else "it stopped answering"
        return Outcome(
            status=1,
            error=f"the warm server exited while step {name} (pid {first['pid']}) ran,"
            f" because {cause}; the step was stopped with it",
        )
    return Outcome(last["status"], last["cpu_s"], last["max_rss_mb"])


def read_reply(replies) -> dict | None:
    """The server's next JSON line; None if it closed, timed out or sent garbage."""
    try:
        line = replies.readline()
        reply = json.loads(line) if line else None
    except (OSError, ValueError):
        return None
    return reply if isinstance(reply, dict) else None


if __name__ == "__main__":
    serve(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
