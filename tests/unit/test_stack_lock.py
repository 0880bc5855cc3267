"""One stack per run folder (infra.local.lock): the launcher and the test stacks refuse a
folder another live stack owns, and take over a lock whose owner died.

No backing service is started: each refusal happens before anything would be.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local import lock
from infra.local.__main__ import LAUNCHER, main
from infra.testing.stack import TEST_SESSION, StackUnderTest


@pytest.fixture
def other_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not this one (the owner of another stack)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_folder_owned_by_a_live_stack_is_refused_to_another(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    # given a test session of another process owning the folder
    lock.acquire(tmp_path, TEST_SESSION, other_process.pid)
    # when this process wants it, as a test session or as the launcher (even resuming)
    for kind, resume in ((TEST_SESSION, False), (LAUNCHER, True)):
        with pytest.raises(lock.StackBusy, match=f"pid {other_process.pid}"):
            lock.acquire(tmp_path, kind, resume=resume)
    # then the owner is unchanged, and it cannot be released from here either
    assert owner_of(tmp_path) == (other_process.pid, TEST_SESSION)
    with pytest.raises(lock.StackBusy):
        lock.release(tmp_path)


def owner_of(run_dir: Path) -> tuple[int, str] | None:
    held = lock.holder(run_dir)
    return (held.pid, held.kind) if held else None


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    # given the lock of a session that was killed
    lock.acquire(tmp_path, TEST_SESSION, dead_pid())
    assert lock.holder(tmp_path) is None
    # when a new stack starts on the folder, then it owns it
    me = lock.acquire(tmp_path, TEST_SESSION)
    assert lock.holder(tmp_path) == me
    lock.release(tmp_path)
    assert lock.holder(tmp_path) is None


def test_the_launcher_resumes_its_own_stack_handed_to_a_longer_lived_process(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    # given `make up` that handed its lock to the stack's Postgres
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "postgres.pid").write_text(str(other_process.pid))
    lock.acquire(tmp_path, LAUNCHER, resume=True)
    handed = lock.hand_over(tmp_path, LAUNCHER, tmp_path / "pids" / "postgres.pid")
    assert handed is not None and lock.holder(tmp_path) == handed
    assert handed.pid == other_process.pid
    # when `make up` runs again, then it resumes that stack; a test session is refused
    assert lock.acquire(tmp_path, LAUNCHER, resume=True).kind == LAUNCHER
    lock.hand_over(tmp_path, LAUNCHER, tmp_path / "pids" / "postgres.pid")
    with pytest.raises(lock.StackBusy, match=LAUNCHER):
        lock.acquire(tmp_path, TEST_SESSION)


def test_of_processes_starting_together_exactly_one_owns_the_folder(tmp_path: Path) -> None:
    # given four processes that each try to take the folder and then stay alive a while
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from infra.local import lock
        try:
            lock.acquire(Path({str(tmp_path)!r}), "test session")
        except lock.StackBusy:
            print("refused", flush=True)
        else:
            print("owner", flush=True)
        time.sleep(2)
    """)
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outcomes = sorted(p.communicate(timeout=30)[0].strip() for p in procs)
    # then one owned it and three were refused
    assert outcomes == ["owner", "refused", "refused", "refused"]


def test_make_up_and_down_are_refused_on_a_folder_a_test_session_owns(
    tmp_path: Path, other_process: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a live test session owning the run folder
    monkeypatch.setenv("PAYSTREAM_RUN_DIR", str(tmp_path))
    lock.acquire(tmp_path, TEST_SESSION, other_process.pid)
    # when `make up` / `make down` run on it, then they exit 1 having started nothing
    assert main(["up", "--local"]) == 1
    assert main(["down", "--local"]) == 1
    assert not (tmp_path / "pids").exists() and not (tmp_path / "logs").exists()
    assert owner_of(tmp_path) == (other_process.pid, TEST_SESSION)


def test_a_test_stack_is_refused_on_a_folder_another_stack_owns(
    tmp_path: Path, other_process: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given `make up`'s stack owning the run folder
    monkeypatch.setenv("PAYSTREAM_RUN_DIR", str(tmp_path))
    lock.acquire(tmp_path, LAUNCHER, other_process.pid)
    # when a test session opens its stack there, then it is refused before starting any
    with pytest.raises(lock.StackBusy, match=LAUNCHER):
        StackUnderTest().open()
    assert not (tmp_path / "pids").exists()
