"""CPU time of processes, read from /proc: the one reader every bench uses.

Ticks are ``utime + stime`` of ``/proc/<pid>/stat`` (``TICKS`` per second)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def ticks_of(pids: list[int]) -> int:
    """Ticks of CPU the processes ``pids`` have used (0 for one that is gone)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat(pid)
            total += int(fields[11]) + int(fields[12])
    return total


def cpu_of(pid: int | None) -> float:
    """Seconds of CPU process ``pid`` has used (0 without a pid)."""
    return 0.0 if pid is None else ticks_of([pid]) / TICKS


def own_cpu() -> float:
    """Seconds of CPU this process has used."""
    times = os.times()
    return times.user + times.system


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (ticks, command line) for every process we can read."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(entry.name)
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        out[int(entry.name)] = (int(fields[11]) + int(fields[12]), cmd[:90])
    return out


def parents() -> dict[int, int]:
    """pid -> parent pid for every process we can read."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                out[int(entry.name)] = int(_stat(entry.name)[1])
    return out


def stack_pids(run_dir: Path, parent_of: dict[int, int]) -> set[int]:
    """The processes of the stack of ``run_dir``: those its launcher recorded
    (``pids/*.pid``) and their descendants (Postgres's backends), given each process's
    parent (``parent_of``), so other stacks on the machine are not counted."""
    roots = set()
    for pid_file in (run_dir / "pids").glob("*.pid"):
        with contextlib.suppress(ValueError):
            roots.add(int(pid_file.read_text().strip()))
    children: dict[int, list[int]] = {}
    for pid, parent in parent_of.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def machine_busy_ticks() -> int:
    """Ticks both cores spent busy since boot (all but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values) - values[3] - values[4]
