"""The local stack's process logs are rotated by size (``infra.local.logpump``, which
``infra.local.procs.spawn`` pipes every process through)."""

from __future__ import annotations

import sys
from pathlib import Path

from infra.local.procs import log_file, read_pid, spawn, stop, wait_until

NOISE = "import sys\nfor i in range(200): print(f'line {i:03d} ' + 'x' * 90, flush=True)"


def settled(path: Path, last: str) -> bool:
    return path.exists() and path.read_text().rstrip("\n").endswith(last)


def test_a_process_writing_past_the_size_leaves_the_newest_files_rotated(tmp_path: Path) -> None:
    # given a process spawned with 1000-byte logs and two kept files, writing ~20 KB
    env = {"PAYSTREAM_LOG_MAX_BYTES": "1000", "PAYSTREAM_LOG_BACKUPS": "2"}
    spawn("noisy", [sys.executable, "-c", NOISE], tmp_path, env=env)
    log = log_file(tmp_path, "noisy")
    wait_until(lambda: read_pid(tmp_path / "pids" / "noisy.pid") is None, "noisy's end", 20)
    wait_until(lambda: settled(log, "line 199 " + "x" * 90), "the last line", 20)
    # then the log and two older files are kept, none past the size, the oldest dropped
    kept = sorted(p.name for p in log.parent.iterdir())
    assert kept == ["noisy.log", "noisy.log.1", "noisy.log.2"]
    assert all((log.parent / name).stat().st_size <= 1000 for name in kept)
    # and together, oldest first, they hold the last lines in order
    lines = "".join((log.parent / n).read_text() for n in reversed(kept)).splitlines()
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == list(range(200 - len(numbers), 200)) and len(numbers) >= 18


def test_a_running_process_s_lines_reach_its_file_as_it_writes_them(tmp_path: Path) -> None:
    # given a process that writes one line, then keeps running
    code = "import time; print('listening', flush=True); time.sleep(30)"
    spawn("waiting", [sys.executable, "-c", code], tmp_path)
    try:
        # then the line is in its log while it still runs (tests and operators read it)
        wait_until(lambda: settled(log_file(tmp_path, "waiting"), "listening"), "the line", 10)
        assert read_pid(tmp_path / "pids" / "waiting.pid") is not None
    finally:
        assert stop("waiting", tmp_path)
