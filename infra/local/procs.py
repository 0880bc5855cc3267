"""Starting, watching and stopping local processes by pid file."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f}s")


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie child of ours does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def read_pid(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` while that process runs, else None."""
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None


LOGPUMP = Path(__file__).with_name("logpump.py")


def log_file(run_dir: Path, name: str) -> Path:
    """Where ``spawn`` writes the output of process ``name`` (the newest part: older ones
    are ``<name>.log.1`` ... once rotated, see ``infra.local.logpump``)."""
    return run_dir / "logs" / f"{name}.log"


def spawn(
    name: str,
    argv: Sequence[str],
    run_dir: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in its own process group, its output piped through a log pump
    (``infra.local.logpump``) into ``run_dir/logs/name.log``, rotated by size."""
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    (run_dir / "pids").mkdir(parents=True, exist_ok=True)
    read_end, write_end = os.pipe()
    try:
        subprocess.Popen(
            [sys.executable, str(LOGPUMP), str(log_file(run_dir, name))],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # outlives the launcher; ends when the output closes
        )
        proc = subprocess.Popen(
            list(argv),
            stdout=write_end,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        os.close(read_end)
        os.close(write_end)
    (run_dir / "pids" / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def stop(name: str, run_dir: Path, timeout: float = 20.0) -> bool:
    """SIGTERM the process group of ``name``; SIGKILL it if it lingers. True if it ran."""
    pidfile = run_dir / "pids" / f"{name}.pid"
    pid = read_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and read_pid(pidfile) is not None:
        time.sleep(0.1)
    if read_pid(pidfile) is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    return True


def kill9(name: str, run_dir: Path) -> None:
    """Crash ``name`` on purpose (chaos tests): SIGKILL, no clean shutdown."""
    pid = read_pid(run_dir / "pids" / f"{name}.pid")
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        wait_until(lambda: read_pid(run_dir / "pids" / f"{name}.pid") is None, f"{name} death")
