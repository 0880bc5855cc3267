"""The notification templates: every kind renders on each channel it has, amounts in
minor units are shown without floats, and HTML is escaped."""

from __future__ import annotations

import pytest

from contracts import payment, transaction, user
from notification_worker.catalogue import Intent, payment_intents, transaction_intents, user_intents
from notification_worker.render import channels_of, duration, money, render

SECURITY_KINDS = ("verify_email", "password_reset", "password_changed")
MONEY_KINDS = (
    "transfer_sent", "transfer_received", "deposit_completed", "deposit_failed",
    "withdrawal_paid_out", "withdrawal_failed", "payment_received", "refund_issued",
    "transfer_failed", "transfer_reversed", "payment_failed",
)  # fmt: skip
CONTEXT = {
    "full_name": "Ada <Lovelace>", "email": "ada@example.com", "category": "transfers",
    "amount": 123456, "currency": "EUR", "fee": 5, "transaction_id": "t-1",
    "reason": "card_declined", "order_id": "order-7", "expires_in": 1800, "how": "reset",
    "link": "https://pay.example.com/reset-password?token=abc",
}  # fmt: skip


def test_money_uses_the_currency_exponent() -> None:
    assert money(123456, "EUR") == "1,234.56 EUR"
    assert money(5, "EUR") == "0.05 EUR"
    assert money(1500, "JPY") == "1,500 JPY"
    assert money(-250, "USD") == "-2.50 USD"
    assert duration(1800) == "30 minutes" and duration(86400) == "1 day"


@pytest.mark.parametrize("kind", SECURITY_KINDS)
def test_security_kinds_go_by_email_only_with_both_bodies(kind: str) -> None:
    assert channels_of(kind) == {"email"}
    mail = render(kind, "email", CONTEXT)
    assert mail.subject and "\n" not in mail.subject
    assert mail.html is not None and "<html" in mail.html
    # the name is escaped in HTML, as typed in plain text
    assert "Ada &lt;Lovelace&gt;" in mail.html and "Ada <Lovelace>" in mail.text


@pytest.mark.parametrize("kind", MONEY_KINDS)
def test_money_kinds_render_on_every_channel(kind: str) -> None:
    assert channels_of(kind) == {"email", "sms", "push"}
    for channel in ("email", "sms", "push"):
        out = render(kind, channel, CONTEXT)
        assert "1,234.56 EUR" in out.subject and "1,234.56 EUR" in out.text
        assert (out.html is not None) == (channel == "email")


def test_links_reach_the_mail_bodies() -> None:
    mail = render("password_reset", "email", CONTEXT)
    assert CONTEXT["link"] in mail.text
    assert 'href="https://pay.example.com/reset-password?token=abc"' in str(mail.html)
    assert "30 minutes" in mail.text


def test_a_missing_variable_is_an_error_not_a_blank() -> None:
    with pytest.raises(Exception, match="link"):
        render("verify_email", "email", {k: v for k, v in CONTEXT.items() if k != "link"})


def test_the_catalogue_names_kinds_that_have_templates() -> None:
    money_args = {"transaction_id": "t", "amount": 1, "currency": "EUR"}
    events = [
        transaction.TransferCompleted(from_wallet_id="a", to_wallet_id="b", **money_args),
        transaction.DepositCompleted(wallet_id="a", provider="p", **money_args),
        transaction.DepositFailed(wallet_id="a", provider="p", reason="r", **money_args),
        transaction.WithdrawalCompleted(wallet_id="a", provider="p", **money_args),
        transaction.WithdrawalFailed(wallet_id="a", provider="p", reason="r", **money_args),
        transaction.TransferFailed(from_wallet_id="a", to_wallet_id="b", reason="r", **money_args),
        transaction.TransferReversed(
            from_wallet_id="a", to_wallet_id="b", reason="r", **money_args
        ),
    ]
    made: list[Intent] = [i for e in events for i in transaction_intents(e)]
    made += user_intents(
        user.EmailVerificationRequested(
            user_id="u", email="e@example.com", full_name="n", request_id="r", expires_in=60
        )
    )
    made += user_intents(
        user.PasswordResetRequested(
            user_id="u", email="e@example.com", full_name="n", request_id="r", expires_in=60
        )
    )
    merchant = {
        "payment_id": "p",
        "wallet_id": "a",
        "amount": 1,
        "currency": "EUR",
        "merchant_id": "m",
        "merchant_wallet_id": "mw",
        "order_id": "o",
    }
    received = payment_intents(payment.PaymentCompleted(**merchant))
    refunded = payment_intents(payment.RefundCompleted(refund_id="r", **merchant))
    by_card = payment_intents(
        payment.RefundCompleted(refund_id="r", **{**merchant, "wallet_id": ""})
    )
    assert [(i.user_id, i.wallet_id) for i in received + refunded] == [("m", None), (None, "a")]
    assert by_card == []  # a card payment's refund has no wallet to tell by
    failed = payment_intents(payment.PaymentFailed(failure_reason="r", **merchant))
    card_failed = payment_intents(
        payment.PaymentFailed(failure_reason="r", **{**merchant, "wallet_id": ""})
    )
    assert [(i.user_id, i.wallet_id) for i in failed] == [(None, "a")] and card_failed == []
    made += received + refunded + failed
    made += user_intents(user.PasswordChanged(
        user_id="u", email="e@example.com", full_name="n", how="change"))  # fmt: skip
    assert {i.kind for i in made} == set(SECURITY_KINDS) | set(MONEY_KINDS)
    # a transfer tells both sides, each by the owner of their wallet; a failed or reversed
    # one tells its sender
    sent, received = transaction_intents(events[0])
    assert (sent.wallet_id, received.wallet_id) == ("a", "b")
    assert [i.wallet_id for e in events[5:] for i in transaction_intents(e)] == ["a", "a"]
    # security mails carry their request, never a token
    assert all(i.link_request == "r" for i in made if i.kind in ("verify_email", "password_reset"))
