"""CPU per transfer: processes grouped, deltas divided by the transfers completed."""

from __future__ import annotations

from pathlib import Path

from bench.cpu_per_transfer import group_of, per_transfer
from bench.proc import stack_pids


def test_processes_are_grouped_by_what_they_are() -> None:
    assert group_of("postgres: paystream paystream 127.0.0.1(4242) idle") == "postgres"
    assert group_of("java -Xmx768m -cp /x kafka.Kafka server.properties") == "kafka"
    assert group_of("/work/.venv/bin/python -m wallet_svc.projector") == "wallet_svc.projector"
    assert group_of("redis-server 127.0.0.1:6379") == "redis-server"


def test_cpu_per_transfer_sums_a_group_and_ignores_idle_and_gone_processes() -> None:
    before = {
        1: (100, "postgres: a"),
        2: (50, "postgres: b"),
        3: (10, "python -m gateway"),
        4: (5, "python -m idle_thing"),
    }
    after = {
        1: (300, "postgres: a"),  # +200
        2: (150, "postgres: b"),  # +100
        3: (110, "python -m gateway"),  # +100
        4: (5, "python -m idle_thing"),  # nothing spent
        5: (100, "postgres: c"),  # started during the run: all of it counts
    }
    # 100 ticks a second, 10 transfers: 1 tick = 10 ms, so 1 ms per transfer per tick
    shares = per_transfer(before, after, transfers=10, ticks_per_s=100)
    assert shares == {"postgres": 400.0, "gateway": 100.0}


def test_only_the_stack_s_recorded_processes_and_their_descendants_are_counted(
    tmp_path: Path,
) -> None:
    # given a stack that recorded two processes, one with a child and a grandchild
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "postgres.pid").write_text("10\n")
    (tmp_path / "pids" / "gateway.pid").write_text("20")
    parents = {10: 1, 11: 10, 12: 11, 20: 1, 30: 1, 31: 30}  # 30, 31: another stack's
    # then those and the descendants are the stack's, nothing else
    assert stack_pids(tmp_path, parents) == {10, 11, 12, 20}
