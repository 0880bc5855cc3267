"""What the scheduler tells of a settled run: nothing for one that moved money; its
failure, and the pause it caused, for one that did not; each message's envelope id the
same every time it is sent (a crash before the settle's commit sends it again)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from contracts.schedule import ScheduledRunFailed, SchedulePaused
from transaction_svc.schedules.outcomes import envelope_of, told

AT = datetime(2031, 1, 1, 9, tzinfo=UTC)


def ended(failed: bool, **kw: Any) -> Any:
    """A row of ``store.ended_runs``."""
    row = {"schedule_id": "s1", "run": 3, "at": AT, "transaction_id": "t3", "owner_id": "u1",
           "kind": "transfer", "body": {"amount": 500, "currency": "USD"}, "failed": failed,
           "reason": "insufficient_funds"}  # fmt: skip
    return SimpleNamespace(**(row | kw))


def test_a_run_that_moved_money_is_told_nothing() -> None:
    assert told(ended(False, reason="completed"), 0, False) == []


def test_a_failed_run_is_told_with_why_and_its_occurrence() -> None:
    [failed] = told(ended(True), 1, False)
    assert failed == ScheduledRunFailed(
        schedule_id="s1", owner_id="u1", kind="transfer", run=3, occurrence=1_925_024_400_000,
        amount=500, currency="USD", reason="insufficient_funds", transaction_id="t3",
    )  # fmt: skip


def test_the_failure_that_pauses_the_schedule_tells_the_pause_too() -> None:
    failed, paused = told(ended(True, transaction_id=None, reason="wallet_not_found"), 3, True)
    assert isinstance(failed, ScheduledRunFailed) and failed.transaction_id == ""
    assert paused == SchedulePaused(
        schedule_id="s1", owner_id="u1", kind="transfer", run=3, failures=3, amount=500,
        currency="USD", reason="wallet_not_found",
    )  # fmt: skip


def test_a_message_sent_again_has_the_same_envelope_id_keyed_by_its_schedule() -> None:
    failed, paused = told(ended(True), 3, True)
    first, again = envelope_of(failed, "s1", 3), envelope_of(failed, "s1", 3)
    assert first.event_id == again.event_id and first.key == "schedule:s1"
    assert envelope_of(paused, "s1", 3).event_id != first.event_id
    assert envelope_of(failed, "s1", 4).event_id != first.event_id
