"""Money that only an operator can settle is told to its owner as an alert: a withdrawal
paid out whose wallet could not be debited, and a transfer whose reversal failed. Alerts
go by email and cannot be turned off, like security messages."""

from __future__ import annotations

import msgspec
import pytest

from contracts.topics import TRANSACTION_EVENTS
from contracts.transaction import TransferReversalFailed, WithdrawalDebitFailed
from notification_worker.catalogue import Intent, intents
from notification_worker.notifier import WANTED
from notification_worker.preferences import channels_for, effective, merged
from notification_worker.render import Rendered, channels_of, render
from notification_worker.schemas import PreferencesIn

READER = {"full_name": "Ada <Lovelace>", "email": "ada@example.com", "category": "alerts"}
NOBODY_WANTS_ANYTHING = {c: {"email": False, "sms": False, "push": False} for c in effective(None)}

DEBIT_FAILED = WithdrawalDebitFailed(
    transaction_id="w1", wallet_id="wal-1", amount=4_200, currency="EUR", provider="bank",
    reason="paid out, rehold insufficient_funds", fee=50,
)  # fmt: skip
REVERSAL_FAILED = TransferReversalFailed(
    transaction_id="t1", from_wallet_id="wal-1", to_wallet_id="wal-2", amount=4_200,
    currency="EUR", reason="wallet_closed",
)  # fmt: skip


def _alert(event: object) -> tuple[Intent, Rendered, tuple[str, str]]:
    """The one notification ``event`` makes (an alert, by email only), its mail, and the
    mail's two bodies."""
    [intent] = intents(TRANSACTION_EVENTS, event)
    assert intent.category == "alerts" and channels_of(intent.kind) == {"email"}
    mail = render(intent.kind, "email", READER | intent.context)
    assert mail.html is not None
    return intent, mail, (mail.text, mail.html)


def test_a_withdrawal_paid_out_but_not_debited_tells_the_owner_what_the_wallet_owes() -> None:
    # when the withdrawal's terminal event is read from transaction-events
    intent, mail, bodies = _alert(DEBIT_FAILED)
    # then the wallet's owner gets an alert
    assert (intent.kind, intent.wallet_id, intent.user_id) == (
        "withdrawal_debit_failed", "wal-1", None,
    )  # fmt: skip
    assert mail.subject == "Your withdrawal of 42.00 EUR could not be taken from your wallet"
    # and both bodies say it was paid out, why the debit failed and what is owed, fee included
    for body in bodies:
        assert "paid out to your bank account" in body
        assert "(paid out, rehold insufficient_funds)" in body
        assert "still owes 42.50 EUR, fee included" in body and "w1" in body
    assert "Ada &lt;Lovelace&gt;" in bodies[1] and "alerts about money" in bodies[1]


def test_a_withdrawal_without_a_fee_owes_just_its_amount() -> None:
    free = msgspec.structs.replace(DEBIT_FAILED, fee=0)
    _, mail, _ = _alert(free)
    text = mail.text
    assert "still owes 42.00 EUR." in text and "fee included" not in text


def test_a_failed_reversal_tells_the_sender_only() -> None:
    intent, mail, bodies = _alert(REVERSAL_FAILED)
    # the sender hears (their money left their wallet); the payee got nothing to hear of
    assert (intent.kind, intent.wallet_id) == ("transfer_reversal_failed", "wal-1")
    assert mail.subject == "Your transfer of 42.00 EUR could not be returned to your wallet"
    for body in bodies:
        assert "returning it to your wallet failed as well (wallet_closed)" in body
        assert "held by paystream until it is settled" in body and "t1" in body


@pytest.mark.parametrize("event", [DEBIT_FAILED, REVERSAL_FAILED])
def test_the_worker_reads_each_alerts_event(event: object) -> None:
    # (types outside WANTED are skipped by their header, never reaching the catalogue)
    assert type(event).__name__ in WANTED[TRANSACTION_EVENTS]


def test_alerts_cannot_be_turned_off() -> None:
    # even a user who turned every switch off (or had one stored by hand) gets them by email
    assert channels_for("alerts", NOBODY_WANTS_ANYTHING) == ("email",)
    assert "alerts" not in merged(None, {"alerts": {"email": False}, "transfers": {}})
    assert effective(NOBODY_WANTS_ANYTHING)["alerts"] == {"email": True}
    # and the API's model refuses to turn them off, or to add a channel
    for body in ({"alerts": {"email": False}}, {"alerts": {"push": True}}):
        with pytest.raises(ValueError, match="alerts"):
            PreferencesIn.model_validate(body)
