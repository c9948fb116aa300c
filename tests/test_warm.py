"""The warm starter (idunlearn.warm): a step forked from it behaves as `python script.py`,
nobody else gets in, and no client takes the server down.

Each test runs the real client (`python -m idunlearn.job`) in a subprocess with its own
TMPDIR, so it gets a private directory and a server of its own, which the test stops at
the end. The tests of another user's access run a forked child as `nobody` and need root.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import resource
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from idunlearn import warm

STEP = """\
import os, resource, sys, time
own = sorted(m for m in sys.modules if m == "idunlearn" or m.startswith("idunlearn."))
print("argv", sys.argv[1:])
print("cwd", os.getcwd())
print("env", os.environ.get("IDUNLEARN_STEP_VALUE"))
print("secret", os.environ.get("SECRET_TOKEN"))
print("own modules before import", own)
print("server", os.getppid())
print("nice", os.getpriority(os.PRIO_PROCESS, 0))
print("umask", oct(os.umask(0)))
print("nofile", resource.getrlimit(resource.RLIMIT_NOFILE)[0])
print("to stderr", file=sys.stderr)
sys.stdout.flush()
if sys.argv[1] == "sleep":
    time.sleep(60)
if sys.argv[1] == "raise":
    raise RuntimeError("a bug in the step")
if sys.argv[1] == "burn":
    end = time.process_time() + 1.5
    while time.process_time() < end:
        pass
    print("process_time", time.process_time())
    sys.exit(0)
sys.exit(int(sys.argv[1]))
"""
NOBODY = pwd.getpwnam("nobody")
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="another user's access is tried as `nobody`, which needs root"
)


@pytest.fixture
def world():
    """A scripts folder with the step, and a TMPDIR short enough for a socket path."""
    tmp = Path(tempfile.mkdtemp(prefix="warm", dir="/tmp"))
    tmp.chmod(0o1777)  # a shared temp directory, as /tmp is
    (tmp / "scripts").mkdir()
    (tmp / "scripts" / "step.py").write_text(STEP)
    (tmp / "work").mkdir()
    servers: set[int] = set()
    yield tmp, servers
    for pid in servers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def environment(tmp: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TMPDIR": str(tmp), **extra}
    for name in ("SLURM_JOB_ID", "XDG_RUNTIME_DIR"):
        env.pop(name, None)
    return env


def client(
    tmp: Path, log: str, *args: str, warm: str = "1", preload=("numpy",), **popen
) -> subprocess.Popen:
    """The job client running the step; its server preloads only numpy unless told (torch
    takes seconds: one test forks a server with the whole PRELOAD)."""
    env = environment(
        tmp,
        IDUNLEARN_WARM=warm,
        IDUNLEARN_WARM_PRELOAD=",".join(preload),
        IDUNLEARN_STEP_VALUE=log,
        SECRET_TOKEN="hunter2",
    )
    env.update(popen.pop("env", {}))
    command = [sys.executable, "-m", "idunlearn.job", str(tmp / "scripts"), str(tmp / log)]
    return subprocess.Popen(
        [*command, "step", *args], cwd=tmp / "work", env=env, stderr=subprocess.PIPE, **popen
    )


def finish(proc: subprocess.Popen) -> str:
    _, err = proc.communicate(timeout=300)
    return err.decode()


def lines(log: Path) -> dict[str, str]:
    out = {}
    for line in log.read_text().splitlines():
        key, _, value = line.partition(" ")
        out[key] = value
    return out


def server_of(log: Path) -> int:
    return int(lines(log)["server"])


def usage(log: Path) -> dict:
    return json.loads(log.with_suffix(".usage.json").read_text())


def private_dir(tmp: Path) -> Path:
    return tmp / f"idunlearn-{os.getuid()}"


def wait_for(predicate, seconds: float = 300.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def children(pid: int) -> list[int]:
    found = []
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = path.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":  # fields after the name: state, ppid
            found.append(int(path.parent.name))
    return found


def step_pid(log: Path) -> int:
    """The pid of a running step: the server's child that writes `log`."""
    pids = children(server_of(log))
    assert len(pids) == 1, pids
    return pids[0]


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for the server to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def running_step(tmp: Path, servers: set[int], log: str = "log") -> tuple[subprocess.Popen, int]:
    proc = client(tmp, log, "sleep")
    wait_for(lambda: (tmp / log).exists() and "server" in lines(tmp / log))
    servers.add(server_of(tmp / log))
    return proc, step_pid(tmp / log)


# --- a step runs as its own command would -------------------------------------------------


def test_a_step_runs_as_its_own_script_with_its_args_cwd_env_log_and_status(world):
    tmp, servers = world
    for i, code in enumerate([0, 3, 0]):
        proc = client(tmp, f"log{i}.log", str(code), "x y", preload=warm.PRELOAD)
        err = finish(proc)
        assert proc.returncode == code
        assert err == ("" if code == 0 else f"to stderr (log: {tmp / f'log{i}.log'})\n")
        out = lines(tmp / f"log{i}.log")
        assert out["argv"] == f"['{code}', 'x y']"
        assert out["cwd"] == str(tmp / "work")
        assert out["env"] == f"log{i}.log"
        assert out["own"] == "modules before import []"  # the project's modules import fresh
        assert "to stderr" in (tmp / f"log{i}.log").read_text()
        assert usage(tmp / f"log{i}.log") | {"wall_s": 0, "cpu_s": 0, "max_rss_mb": 0} == {
            "step": "step",
            "start": "warm",
            "status": code,
            "wall_s": 0,
            "cpu_s": 0,
            "max_rss_mb": 0,
        }
        servers.add(server_of(tmp / f"log{i}.log"))
    assert len(servers) == 1 and servers != {os.getpid()}, "every step forks the one server"


def test_a_warm_step_sees_only_the_documented_environment(world):
    """Tokens and credentials stay with the client; a cold step sees its whole environment."""
    tmp, servers = world
    warm_run = client(tmp, "warm.log", "0", env={"IDUNLEARN_PROBE": "kept"})
    finish(warm_run)
    servers.add(server_of(tmp / "warm.log"))
    cold_run = client(tmp, "cold.log", "0", warm="0")
    finish(cold_run)
    assert lines(tmp / "warm.log")["secret"] == "None"
    assert lines(tmp / "cold.log")["secret"] == "hunter2"
    assert warm.step_environment({"SECRET_TOKEN": "x", "IDUNLEARN_PROBE": "kept", "PATH": "p"}) == {
        "IDUNLEARN_PROBE": "kept",
        "PATH": "p",
    }


def test_a_step_runs_at_its_client_s_priority_umask_and_limits(world):
    """`nice snakemake ...` beside another run stays nice (a server of its own: a fork
    cannot lower its nice value); umask and soft limits are the client's."""
    tmp, servers = world
    base = os.getpriority(os.PRIO_PROCESS, 0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def constrained() -> None:
        os.umask(0o027)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 512), hard))

    finish(client(tmp, "first.log", "0"))
    finish(client(tmp, "limited.log", "0", preexec_fn=constrained))
    finish(client(tmp, "nicer.log", "0", preexec_fn=lambda: os.nice(5)))
    first, limited, nicer = (lines(tmp / f"{n}.log") for n in ("first", "limited", "nicer"))
    servers.update(int(out["server"]) for out in (first, limited, nicer))
    assert first["server"] == limited["server"] != nicer["server"]
    assert usage(tmp / "nicer.log")["start"] == "warm"
    assert first["nice"] == str(base) and nicer["nice"] == str(min(base + 5, 19))
    assert first["umask"] == oct(current := warm.current_umask()) and limited["umask"] == "0o27"
    assert current != 0o027
    assert first["nofile"] == str(soft) and limited["nofile"] == str(min(soft, 512))


def test_a_bug_in_the_step_leaves_its_traceback_in_the_log_and_fails(world):
    tmp, servers = world
    proc = client(tmp, "log", "raise")
    err = finish(proc)
    servers.add(server_of(tmp / "log"))
    assert proc.returncode == 1
    assert "RuntimeError: a bug in the step" in (tmp / "log").read_text()
    assert "RuntimeError: a bug in the step" in err  # idunlearn.job's summary


@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_a_step_records_its_own_cpu_seconds_and_peak_memory(world, mode):
    tmp, servers = world
    proc = client(tmp, "log.log", "burn", warm="1" if mode == "warm" else "0")
    finish(proc)
    record = usage(tmp / "log.log")
    assert record["start"] == mode and record["status"] == 0
    step_cpu = float(lines(tmp / "log.log")["process_time"])
    assert abs(record["cpu_s"] - step_cpu) <= 0.2 * step_cpu
    assert record["max_rss_mb"] > 5
    if mode == "warm":
        servers.add(server_of(tmp / "log.log"))


def test_a_running_step_carries_its_name_in_its_process_title(world):
    tmp, servers = world
    proc, step = running_step(tmp, servers)
    command = Path(f"/proc/{step}/cmdline").read_text().replace("\0", " ")
    assert "step.py sleep (idunlearn warm step)" in command
    server = Path(f"/proc/{server_of(tmp / 'log')}/cmdline").read_text()
    assert "idunlearn warm server" in server
    proc.kill()
    proc.wait()


def test_without_the_server_the_step_is_a_plain_subprocess(world):
    tmp, _ = world
    proc = client(tmp, "log", "5", warm="0")
    finish(proc)
    assert proc.returncode == 5
    assert server_of(tmp / "log") == proc.pid  # the client's own child
    assert not private_dir(tmp).exists()


def test_inside_a_slurm_job_steps_start_cold(world):
    """A SLURM job's step must run in its allocation, not in a server outside it."""
    tmp, _ = world
    proc = client(tmp, "log", "0", env={"SLURM_JOB_ID": "42"})
    finish(proc)
    assert server_of(tmp / "log") == proc.pid
    assert usage(tmp / "log")["start"] == "cold"


# --- nobody else gets in ---------------------------------------------------------------------


def test_the_socket_lives_in_a_private_directory_even_with_umask_000(world):
    tmp, servers = world
    proc, _ = running_step(tmp, servers)
    directory = private_dir(tmp)
    info = os.lstat(directory)
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == os.getuid()
    (sock,) = directory.glob("warm-*.sock")
    assert stat.S_IMODE(os.lstat(sock).st_mode) & 0o077 == 0
    assert not [p for p in tmp.iterdir() if p.name.startswith("idunlearn-warm")]  # old layout
    proc.kill()
    proc.wait()


@pytest.fixture
def umask_000():
    old = os.umask(0)
    yield
    os.umask(old)


def test_with_umask_000_the_directory_is_made_private(world, umask_000):
    tmp, _ = world
    fd = warm.open_private_dir(private_dir(tmp))
    os.close(fd)
    assert stat.S_IMODE(os.lstat(private_dir(tmp)).st_mode) == 0o700


@pytest.mark.parametrize("plant", ["symlink to a file", "symlink to a directory", "open mode"])
def test_a_planted_or_open_directory_turns_warm_starts_off(world, plant):
    """A link at the directory's path (the old lock followed links and truncated their
    target) or a directory others can enter is refused: the step starts cold, the console
    says why, and the link's target is untouched."""
    tmp, _ = world
    target = tmp / "precious"
    if plant == "symlink to a file":
        target.write_text("keep me")
        private_dir(tmp).symlink_to(target)
    elif plant == "symlink to a directory":
        target.mkdir(mode=0o700)
        private_dir(tmp).symlink_to(target)
    else:
        private_dir(tmp).mkdir()
        private_dir(tmp).chmod(0o777)
    proc = client(tmp, "log", "0")
    err = finish(proc)
    assert proc.returncode == 0 and usage(tmp / "log")["start"] == "cold"
    assert "warm start refused" in err and str(private_dir(tmp)) in err
    if plant == "symlink to a file":
        assert target.read_text() == "keep me"
    if plant == "symlink to a directory":
        assert list(target.iterdir()) == []


def as_nobody_here() -> None:
    os.setgroups([])
    os.setgid(NOBODY.pw_gid)
    os.setuid(NOBODY.pw_uid)


def as_nobody(action) -> str:
    """Run `action()` in a forked child as user nobody; what it returns (or raises)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        result = "?"
        try:
            as_nobody_here()
            result = str(action())
        except BaseException as err:
            result = f"{type(err).__name__}: {err}"
        finally:
            os.write(write, result.encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        result = pipe.read()
    os.waitpid(pid, 0)
    return result


def try_request(path: Path, tmp: Path) -> str:
    """Connect to `path`, ask for the step and say what came back."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(30)
    conn.connect(str(path))
    request = warm.request_for("step", ["0"], tmp / "intruder.log")
    try:
        conn.sendall((json.dumps(request) + "\n").encode())
        return f"reply {conn.recv(4096)!r}"
    except (BrokenPipeError, ConnectionResetError):  # closed on them before they spoke
        return "reply b''"


@needs_root
def test_another_user_cannot_reach_or_use_the_server(world, umask_000):
    """Nobody gets in: the directory stops them, and where it would not (opened here on
    purpose) the server checks the peer's uid and says nothing to them."""
    tmp, servers = world
    proc, _ = running_step(tmp, servers)
    (sock,) = private_dir(tmp).glob("warm-*.sock")
    assert as_nobody(lambda: try_request(sock, tmp)).startswith("PermissionError")
    private_dir(tmp).chmod(0o777)
    sock.chmod(0o777)
    assert as_nobody(lambda: try_request(sock, tmp)) == "reply b''"
    assert not (tmp / "intruder.log").exists()
    proc.kill()
    proc.wait()


def listen_as_nobody(path: Path, ready: Path, heard: Path) -> str:
    """A listener of user nobody at `path`: records what any client sends it."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    ready.write_text("ready")
    listener.settimeout(60)
    with contextlib.suppress(TimeoutError):
        conn, _ = listener.accept()
        conn.settimeout(5)
        with contextlib.suppress(TimeoutError):
            heard.write_bytes(conn.recv(65536) or b"<closed>")
    return "done"


def computed_socket_path(tmp: Path) -> Path:
    """The socket path the client computes, asked of its own interpreter and environment."""
    code = (
        "from pathlib import Path; from idunlearn import warm;"
        f"print(warm.socket_path(warm.runtime_dir(), Path({str(tmp / 'scripts')!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=environment(tmp), capture_output=True, text=True
    )
    return Path(out.stdout.strip())


@needs_root
@pytest.mark.parametrize("placement", ["their directory", "their socket in ours"])
def test_a_listener_planted_by_another_user_is_never_used(world, placement):
    """Another user who computes the path and listens there first hears nothing: not in a
    directory they made at the private path, nor behind a socket file moved into ours."""
    tmp, _ = world
    path = computed_socket_path(tmp)
    lair = tmp / "lair"
    lair.mkdir()
    lair.chmod(0o777)
    ready, heard = lair / "ready", lair / "heard"
    listener = os.fork()
    if listener == 0:
        try:
            as_nobody_here()
            listen_as_nobody(lair / path.name, ready, heard)
        finally:
            os._exit(0)
    try:
        wait_for(ready.exists, 30)
        if placement == "their directory":  # the attacker made the private path first
            os.chown(lair, NOBODY.pw_uid, NOBODY.pw_gid)
            lair.chmod(0o700)
            lair.rename(path.parent)
            heard = path.parent / "heard"
        else:
            os.close(warm.open_private_dir(path.parent))
            (lair / path.name).rename(path)
            os.chown(path, os.getuid(), os.getgid(), follow_symlinks=False)
        proc = client(tmp, "log", "0")
        err = finish(proc)
    finally:
        os.kill(listener, signal.SIGTERM)
        os.waitpid(listener, 0)
    assert proc.returncode == 0 and usage(tmp / "log")["start"] == "cold"
    assert "warm start refused" in err
    assert not heard.exists() or heard.read_bytes() == b"<closed>", "nothing was sent"


# --- no client takes the server down ---------------------------------------------------------


def raw(tmp: Path) -> socket.socket:
    (sock,) = private_dir(tmp).glob("warm-*.sock")
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(str(sock))
    return conn


def request_line(tmp: Path, log: str, *args: str) -> bytes:
    env = environment(tmp)
    code = (
        "import json, sys; from pathlib import Path; from idunlearn import warm;"
        f"print(json.dumps(warm.request_for('step', {list(args)!r}, Path({str(tmp / log)!r}))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp / "work", capture_output=True, check=True
    )
    return out.stdout


@pytest.mark.parametrize(
    "misbehaviour",
    [
        "closes at once",
        "half a request",
        "nested garbage",
        "reads no pid",
        "killed mid-step",
        "never finishes",
    ],
)
def test_a_misbehaving_client_leaves_the_server_serving(world, misbehaviour):
    tmp, servers = world
    finish(client(tmp, "first.log", "0"))
    server = server_of(tmp / "first.log")
    servers.add(server)
    conn = raw(tmp)
    if misbehaviour == "half a request":
        conn.sendall(request_line(tmp, "x.log", "0")[:50])
    elif misbehaviour == "nested garbage":  # json.loads raises RecursionError
        conn.sendall(b"[" * 100_000 + b"\n")
    elif misbehaviour == "reads no pid":
        conn.sendall(request_line(tmp, "x.log", "sleep"))
    elif misbehaviour == "killed mid-step":
        conn.sendall(request_line(tmp, "x.log", "sleep"))
        assert b"pid" in conn.recv(4096)
        (step,) = children(server)
    elif misbehaviour == "never finishes":
        conn.sendall(b'{"name": "step"')  # no newline: the server must not wait for it
    if misbehaviour != "never finishes":
        conn.close()
    if misbehaviour == "killed mid-step":
        wait_for(lambda: not alive(step), 30)  # its step went with it
    proc = client(tmp, "next.log", "0")
    assert finish(proc) == "" and proc.returncode == 0
    assert server_of(tmp / "next.log") == server, "the same server served the next request"
    if misbehaviour == "never finishes":
        conn.settimeout(warm.REQUEST_SECONDS + 10)
        assert b"no request within" in conn.recv(4096)  # then dropped
    wait_for(lambda: children(server) == [], 30)  # no step of a gone client runs on


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_stopping_or_killing_the_client_stops_its_step(world, sig):
    """Snakemake stopping a job (SIGTERM) stops the step; a client killed outright (SIGKILL)
    takes its step with it too, through the server."""
    tmp, servers = world
    proc, step = running_step(tmp, servers)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    wait_for(lambda: not alive(step), 30)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_server_that_dies_takes_its_steps_and_says_so(world, sig):
    tmp, servers = world
    proc, step = running_step(tmp, servers)
    server = server_of(tmp / "log")
    os.kill(server, sig)
    err = finish(proc)
    assert proc.returncode == 1
    assert not alive(step)
    assert "the warm server exited while step step" in err
    assert ("SIGTERM" in err) == (sig == signal.SIGTERM)
    assert "the warm server exited" in (tmp / "log").read_text()
    if sig == signal.SIGTERM:
        assert list(private_dir(tmp).iterdir()) == []


@pytest.mark.parametrize("how", ["idle", "SIGTERM"])
def test_the_socket_is_removed_when_the_server_exits(world, how):
    tmp, servers = world
    proc = client(tmp, "log", "0", env={"IDUNLEARN_WARM_IDLE_SECONDS": "1"})
    finish(proc)
    server = server_of(tmp / "log")
    if how == "SIGTERM":
        os.kill(server, signal.SIGTERM)
    wait_for(lambda: not alive(server), 60)
    assert list(private_dir(tmp).iterdir()) == []


def test_a_temp_directory_that_cannot_be_used_means_a_cold_start(tmp_path, monkeypatch, capsys):
    def unwritable(path: Path) -> int:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(warm, "open_private_dir", unwritable)
    assert warm.run(tmp_path, "step", [], tmp_path / "log") is None
    assert "no warm start, step step starts cold" in capsys.readouterr().err
