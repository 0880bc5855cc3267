"""One stack per run folder: ``<run dir>/stack.lock`` names the process that owns it.

Two stacks on one run folder share its pid files, so each would stop (or orphan) the
other's processes. The first to start writes its owner's pid and kind into the lock; a
second one is refused while that pid is alive. A lock whose pid is dead (a session that
was killed) is stale and taken over. The check and the write happen under ``flock`` on
the lock file, so two starts at the same moment cannot both win.

Owners: a test session (``StackUnderTest``) is owned by its own process. ``make up``
returns once the stack runs, so it hands its lock to the stack's Postgres server, which
lives until ``make down``; a later ``make up`` on the same folder resumes that stack.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from infra.local.procs import pid_alive, read_pid

LOCK_FILE = "stack.lock"


class StackBusy(RuntimeError):
    """Another live stack owns the run folder."""


@dataclass(frozen=True, slots=True)
class Owner:
    """Who holds a run folder: a pid, what kind of stack (``make up``, ``tests``), since."""

    pid: int
    kind: str
    since: str

    def alive(self) -> bool:
        return pid_alive(self.pid)


def lock_path(run_dir: Path) -> Path:
    return run_dir / LOCK_FILE


@contextlib.contextmanager
def _locked(run_dir: Path) -> Iterator[int]:
    """The lock file, opened (created if missing) and held under an exclusive flock."""
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(run_dir), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # ends the flock too


def _read(fd: int) -> Owner | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 4096).decode(errors="replace")
    try:
        return Owner(**json.loads(text))
    except (ValueError, TypeError):
        return None  # empty (just created) or not ours: nobody holds it


def _write(fd: int, owner: Owner | None) -> None:
    os.ftruncate(fd, 0)
    if owner is not None:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(asdict(owner)).encode())


def holder(run_dir: Path) -> Owner | None:
    """The live owner of ``run_dir``'s stack; None when no lock or a stale one."""
    if not lock_path(run_dir).exists():
        return None
    with _locked(run_dir) as fd:
        owner = _read(fd)
    return owner if owner is not None and owner.alive() else None


def acquire(run_dir: Path, kind: str, pid: int | None = None, resume: bool = False) -> Owner:
    """Take ``run_dir``'s lock for ``pid`` (this process by default). Raises
    :class:`StackBusy` when another live process holds it, unless ``resume`` and the
    holder is a stack of the same ``kind`` (``make up`` run again on its own stack)."""
    me = Owner(pid or os.getpid(), kind, datetime.now(UTC).isoformat(timespec="seconds"))
    with _locked(run_dir) as fd:
        held = _read(fd)
        resumed = resume and held is not None and held.kind == kind
        if held is not None and held.alive() and held.pid != me.pid and not resumed:
            raise StackBusy(
                f"another stack runs in {run_dir}: {held.kind} (pid {held.pid}, since "
                f"{held.since}); stop it or use another PAYSTREAM_RUN_DIR"
            )
        _write(fd, me)
    return me


def hand_over(run_dir: Path, kind: str, pidfile: Path) -> Owner | None:
    """Give the lock to the process of ``pidfile`` (one that outlives this one); None,
    and the lock released, when it does not run."""
    pid = read_pid(pidfile)
    if pid is None:
        release(run_dir)
        return None
    return acquire(run_dir, kind, pid, resume=True)


def release(run_dir: Path) -> None:
    """Free ``run_dir``'s lock if this process or a dead one holds it; raise
    :class:`StackBusy` when another live process does."""
    if not lock_path(run_dir).exists():
        return
    with _locked(run_dir) as fd:
        held = _read(fd)
        if held is not None and held.alive() and held.pid != os.getpid():
            raise StackBusy(f"{run_dir} belongs to another stack: {held.kind} (pid {held.pid})")
        _write(fd, None)
