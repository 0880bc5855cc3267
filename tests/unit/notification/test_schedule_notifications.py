"""A schedule's owner hears of each failed run and of the pause that follows failures:
the scheduler's messages become notifications to the owner, in the category of what the
schedule runs, rendered on every channel their templates have."""

from __future__ import annotations

from contracts.schedule import ScheduledRunFailed, SchedulePaused
from notification_worker.catalogue import intents
from notification_worker.render import channels_of, render

READER = {"full_name": "Ada", "email": "ada@example.com"}


def test_a_failed_run_tells_its_owner_why_and_that_nothing_moved() -> None:
    # given run 4 of a transfer schedule of 12.50 EUR, refused for want of funds
    failed = ScheduledRunFailed(
        schedule_id="s1", owner_id="u1", kind="transfer", run=4, occurrence=0, amount=1_250,
        currency="EUR", reason="insufficient_funds", transaction_id="t4",
    )  # fmt: skip
    # when it is read from transaction-events
    [intent] = intents("transaction-events", failed)
    # then its owner is told, as of a transfer, on every channel
    assert (intent.kind, intent.user_id, intent.category) == (
        "scheduled_run_failed", "u1", "transfers",
    )  # fmt: skip
    assert channels_of(intent.kind) == {"email", "sms", "push"}
    mail = render(intent.kind, "email", READER | {"category": "transfers"} | intent.context)
    assert mail.subject == "Your scheduled transfer of 12.50 EUR failed"
    assert "Run 4" in mail.text and "insufficient_funds" in mail.text and "t4" in mail.text
    assert mail.html is not None and "s1" in mail.html


def test_a_run_refused_when_submitted_has_no_transaction_to_name() -> None:
    refused = ScheduledRunFailed(
        schedule_id="s1", owner_id="u1", kind="payment", run=1, occurrence=0, amount=5,
        currency="JPY", reason="limit_exceeded",
    )  # fmt: skip
    [intent] = intents("transaction-events", refused)
    assert intent.category == "merchant"
    text = render(intent.kind, "email", READER | {"category": "merchant"} | intent.context).text
    assert "5 JPY" in text and "limit_exceeded" in text and "Transaction:" not in text


def test_a_pause_after_failures_tells_the_owner_to_resume_it() -> None:
    paused = SchedulePaused(
        schedule_id="s1", owner_id="u1", kind="transfer", run=3, failures=3, amount=1_250,
        currency="EUR", reason="wallet_frozen",
    )  # fmt: skip
    [intent] = intents("transaction-events", paused)
    assert (intent.kind, intent.user_id) == ("schedule_paused", "u1")
    mail = render(intent.kind, "email", READER | {"category": "transfers"} | intent.context)
    assert mail.subject == "Your scheduled transfer of 12.50 EUR is paused"
    assert "3 times in a row" in mail.text and "wallet_frozen" in mail.text
    assert "resume" in render(intent.kind, "sms", READER | intent.context).text
