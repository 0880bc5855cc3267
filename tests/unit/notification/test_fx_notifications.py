"""A transfer that converted tells its payee what arrived, in the payee's currency, and
its sender what left, in the sender's."""

from __future__ import annotations

from contracts.transaction import TransferCompleted
from notification_worker.catalogue import transaction_intents
from notification_worker.render import render


def test_the_payee_of_a_conversion_is_told_the_amount_in_its_own_currency() -> None:
    # given 100.00 USD (+ 0.25 fee) converted to 15_120 JPY
    done = TransferCompleted(
        transaction_id="t", from_wallet_id="usd-wallet", to_wallet_id="jpy-wallet",
        amount=10_000, currency="USD", fee=25, to_currency="JPY", to_amount=15_120,
    )  # fmt: skip
    # when its notifications are made
    sent, received = transaction_intents(done)
    # then the sender reads dollars and the payee yen
    assert (sent.kind, sent.wallet_id) == ("transfer_sent", "usd-wallet")
    assert (sent.context["amount"], sent.context["currency"]) == (10_000, "USD")
    assert (received.kind, received.wallet_id) == ("transfer_received", "jpy-wallet")
    assert (received.context["amount"], received.context["currency"]) == (15_120, "JPY")
    context = {"full_name": "Ada", "category": "transfers"}
    assert "15,120 JPY" in render("transfer_received", "sms", context | received.context).text
    assert "100.00 USD" in render("transfer_sent", "sms", context | sent.context).text


def test_a_plain_transfer_tells_both_the_same_amount() -> None:
    done = TransferCompleted(
        transaction_id="t", from_wallet_id="a", to_wallet_id="b", amount=500, currency="EUR"
    )
    sent, received = transaction_intents(done)
    assert sent.context == received.context
    assert (received.context["amount"], received.context["currency"]) == (500, "EUR")
