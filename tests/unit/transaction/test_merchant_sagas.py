"""Payments to a merchant from a wallet or a card and their refunds, against the real
wallet decider (and a provider that answers as pgw does): where the money ends on every
path, the events each publishes, replays, and the state the command API stores being
enough to append the request again."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace
from test_provider_sagas import Provider
from test_provider_sagas import run as run_with_provider
from test_saga import NOW, Bank

from contracts import payment as pay
from contracts import transaction as tx
from contracts.provider import ProviderCommand, RefundCharge
from contracts.wallet import FreezeWallet
from transaction_svc.domain import SagaState, SagaStatus, react, saga_from_dict, saga_to_dict
from transaction_svc.outbound import outbound
from transaction_svc.start import request_of

DEADLINE = NOW + 30_000
PAYER, MERCHANT = "P", "M"


def payment(amount: int = 100, tx_id: str = "pay1") -> tx.PaymentRequested:
    return tx.PaymentRequested(
        transaction_id=tx_id,
        from_wallet_id=PAYER,
        to_wallet_id=MERCHANT,
        amount=amount,
        currency="USD",
        merchant_id="merchant-1",
        order_id="order-7",
        provider="wallet",
        deadline=DEADLINE,
    )


def refund(amount: int, tx_id: str = "ref1") -> tx.RefundRequested:
    return tx.RefundRequested(
        transaction_id=tx_id,
        payment_id="pay1",
        from_wallet_id=MERCHANT,
        to_wallet_id=PAYER,
        amount=amount,
        currency="USD",
        merchant_id="merchant-1",
        order_id="order-7",
        deadline=DEADLINE,
    )


def run(bank: Bank, request: Any, replay: bool = False) -> tuple[SagaState | None, list[Any]]:
    """Drive one saga to quiescence; with ``replay`` every answer is reacted to twice and
    the state goes through its stored form (what a crash before a commit replays)."""
    state, commands, events = react(None, request, NOW)
    public = list(events)
    while commands:
        answers, chained = bank.worker(commands.pop(0), NOW)
        commands += chained
        for answer in answers * (2 if replay else 1):
            state, more, events = react(state, answer, NOW)
            state = saga_from_dict(saga_to_dict(state)) if state else state
            commands += more
            public += events
    return state, public


def names(events: list[Any]) -> list[str]:
    return [f"{type(e).__module__.rsplit('.', 1)[1]}.{type(e).__name__}" for e in events]


def bank_with(payer: int = 500, merchant: int = 0) -> Bank:
    bank = Bank()
    bank.open(PAYER, payer)
    bank.open(MERCHANT, merchant)
    return bank


@given(replay=st.booleans())
def test_a_wallet_payment_moves_the_amount_from_payer_to_merchant_once(replay: bool) -> None:
    # given a payer with 500 and a merchant with nothing
    bank = bank_with(payer=500)
    # when the payer pays 100 for an order
    state, events = run(bank, payment(100), replay)
    # then the merchant has 100, the payer 400, nothing is in transit
    assert state is not None and state.status is SagaStatus.COMPLETED
    assert (bank.ledger(PAYER), bank.ledger(MERCHANT)) == (400, 100)
    assert bank.balances["system:in_transit"] == 0
    assert names(events) == [
        "payment.PaymentInitiated",
        "transaction.PaymentCompleted",
        "payment.PaymentCompleted",
    ]
    done = events[-1]
    assert (done.payment_id, done.merchant_id, done.order_id) == ("pay1", "merchant-1", "order-7")
    assert (done.wallet_id, done.merchant_wallet_id, done.amount) == (PAYER, MERCHANT, 100)


def test_a_payment_the_payer_cannot_cover_fails_and_moves_nothing() -> None:
    bank = bank_with(payer=50)
    state, events = run(bank, payment(100))
    assert state is not None and state.status is SagaStatus.FAILED
    assert state.failure_reason == "insufficient_funds"
    assert (bank.ledger(PAYER), bank.ledger(MERCHANT)) == (50, 0)
    assert names(events) == [
        "payment.PaymentInitiated",
        "transaction.PaymentFailed",
        "payment.PaymentFailed",
    ]
    assert events[-1].failure_reason == "insufficient_funds"


def test_a_frozen_merchant_wallet_gives_the_payer_the_money_back_and_the_payment_fails() -> None:
    bank = bank_with(payer=500)
    bank.handle(FreezeWallet(command_id="fz", wallet_id=MERCHANT))
    state, events = run(bank, payment(100))
    assert state is not None and state.status is SagaStatus.REVERSED
    assert (bank.ledger(PAYER), bank.ledger(MERCHANT)) == (500, 0)
    assert bank.balances["system:in_transit"] == 0
    assert names(events)[-2:] == ["transaction.PaymentFailed", "payment.PaymentFailed"]
    assert events[-1].failure_reason == "wallet_frozen"


@given(replay=st.booleans())
def test_a_refund_gives_the_payer_back_part_of_the_payment(replay: bool) -> None:
    # given a completed payment of 100
    bank = bank_with(payer=500)
    run(bank, payment(100))
    # when the merchant refunds 30
    state, events = run(bank, refund(30), replay)
    # then 30 went back: the merchant has 70, the payer 430
    assert state is not None and state.status is SagaStatus.COMPLETED
    assert (bank.ledger(PAYER), bank.ledger(MERCHANT)) == (430, 70)
    assert names(events) == [
        "payment.RefundInitiated",
        "transaction.RefundCompleted",
        "payment.RefundCompleted",
    ]
    assert all(e.payment_id == "pay1" for e in events)
    assert (events[-1].refund_id, events[-1].amount) == ("ref1", 30)
    assert (events[-1].wallet_id, events[-1].merchant_wallet_id) == (PAYER, MERCHANT)


def test_a_refund_the_merchant_wallet_cannot_cover_fails_and_moves_nothing() -> None:
    # given a paid merchant who has since spent the money (only 20 left)
    bank = bank_with(payer=500)
    run(bank, payment(100))
    run(bank, refund(80, "ref0"))
    # when a refund of 30 is asked for
    state, events = run(bank, refund(30))
    # then it fails insufficient_funds and nothing moved
    assert state is not None and state.status is SagaStatus.FAILED
    assert state.failure_reason == "insufficient_funds"
    assert (bank.ledger(PAYER), bank.ledger(MERCHANT)) == (480, 20)
    assert names(events)[-2:] == ["transaction.RefundFailed", "payment.RefundFailed"]


def test_a_refund_to_a_frozen_payer_wallet_goes_back_to_the_merchant() -> None:
    bank = bank_with(payer=500)
    run(bank, payment(100))
    bank.handle(FreezeWallet(command_id="fz", wallet_id=PAYER))
    state, events = run(bank, refund(100))
    assert state is not None and state.status is SagaStatus.REVERSED
    assert (bank.ledger(PAYER), bank.ledger(MERCHANT)) == (400, 100)
    assert events[-1].failure_reason == "wallet_frozen"


def test_the_stored_first_state_appends_the_same_request_again() -> None:
    for request in (payment(100), refund(30)):
        state, _, _ = react(None, request, NOW)
        assert state is not None
        assert request_of(saga_from_dict(saga_to_dict(state))) == request


def test_refund_events_of_one_payment_have_distinct_ids_and_the_payments_key() -> None:
    # two refunds of one payment publish the same types: their ids must differ
    bank = bank_with(payer=500)
    run(bank, payment(100))
    _, first = run(bank, refund(10, "ref-a"))
    _, second = run(bank, refund(10, "ref-b"))
    envelopes = [
        outbound(e, None, None)[1] for e in [*first, *second] if isinstance(e, pay.PaymentEvent)
    ]
    assert len({e.event_id for e in envelopes}) == len(envelopes) == 4
    assert {e.key for e in envelopes} == {"pay1"}


def card_payment(method: str = "card", amount: int = 100) -> tx.PaymentRequested:
    return tx.PaymentRequested(
        transaction_id="pay1",
        from_wallet_id="",
        to_wallet_id=MERCHANT,
        amount=amount,
        currency="USD",
        merchant_id="merchant-1",
        order_id="order-7",
        provider="card",
        deadline=DEADLINE,
        payment_method_id=method,
        owner_id="payer",
    )


@given(replay=st.booleans())
def test_a_card_payment_charges_once_and_credits_the_merchant_from_settlement(
    replay: bool,
) -> None:
    bank, provider = bank_with(payer=0), Provider()
    state, events = run_with_provider(bank, provider, card_payment(), replay)
    assert state is not None and state.status is SagaStatus.COMPLETED
    assert provider.charges == {"pay1:charge": 100}
    assert bank.ledger(MERCHANT) == 100 and bank.balances["system:settlement:pgw"] == -100
    assert state.charge_id == "pay1:charge"
    # (the provider's answers are the provider worker's to publish)
    assert names(events) == [
        "payment.PaymentInitiated",
        "transaction.PaymentCompleted",
        "payment.PaymentCompleted",
    ]
    assert events[0].provider == "card"


def test_a_declined_card_payment_fails_and_credits_nothing() -> None:
    bank, provider = bank_with(payer=0), Provider()
    state, events = run_with_provider(bank, provider, card_payment("declined"))
    assert state is not None and state.status is SagaStatus.FAILED
    assert state.failure_reason == "card_declined" and bank.ledger(MERCHANT) == 0
    assert names(events)[-2:] == ["transaction.PaymentFailed", "payment.PaymentFailed"]


def test_a_card_payment_to_a_frozen_merchant_wallet_is_refunded_to_the_card() -> None:
    bank, provider = bank_with(payer=0), Provider()
    bank.handle(FreezeWallet(command_id="fz", wallet_id=MERCHANT))
    state, events = run_with_provider(bank, provider, card_payment())
    assert state is not None and state.status is SagaStatus.FAILED
    assert provider.refunds == {"pay1:charge": 100}  # the whole charge back
    assert bank.ledger(MERCHANT) == 0
    assert events[-1].failure_reason == "wallet_frozen"


def test_a_card_payments_stored_first_state_appends_the_same_request_again() -> None:
    state, commands, _ = react(None, card_payment(), NOW)
    assert state is not None and state.status is SagaStatus.CHARGING
    assert [type(c).__name__ for c in commands] == ["ChargeCard"]
    assert request_of(saga_from_dict(saga_to_dict(state))) == card_payment()


class CardProvider(Provider):
    """As pgw through transaction_svc's provider client: a card payment's refund is
    answered keyed by the payment, naming the refund's transaction."""

    def handle(self, c: ProviderCommand) -> list[Any]:
        if isinstance(c, RefundCharge) and c.payment_id:
            self.refunds[c.idempotency_key] = c.amount  # keyed: asked twice, one refund
            base = {"wallet_id": c.wallet_id, "amount": c.amount, "currency": c.currency}
            answer = pay.ChargeRefunded(
                **base, payment_id=c.payment_id, charge_id=c.charge_id, refund_id="rf",
                transaction_id=c.transaction_id,
            )  # fmt: skip
            return [answer]
        return super().handle(c)


def card_refund(amount: int, tx_id: str = "ref1") -> tx.RefundRequested:
    return replace(refund(amount, tx_id), to_wallet_id="", charge_id="pay1:charge")


@given(replay=st.booleans())
def test_a_card_payments_refund_debits_the_merchant_then_refunds_the_card(replay: bool) -> None:
    # given a card payment of 100 credited to the merchant
    bank, provider = bank_with(payer=0), CardProvider()
    run_with_provider(bank, provider, card_payment())
    # when the merchant refunds 30 of it
    state, events = run_with_provider(bank, provider, card_refund(30), replay)
    # then the merchant paid 30 into the provider's settlement and the card got 30 back once
    assert state is not None and state.status is SagaStatus.COMPLETED
    assert bank.ledger(MERCHANT) == 70 and bank.balances["system:settlement:pgw"] == -70
    assert provider.refunds == {"ref1:refund": 30}
    assert names(events) == [
        "payment.RefundInitiated",
        "transaction.RefundCompleted",
        "payment.RefundCompleted",
    ]
    assert all(e.payment_id == "pay1" for e in events if isinstance(e, pay.PaymentEvent))


def test_a_card_refund_the_merchant_cannot_cover_refunds_nothing() -> None:
    bank, provider = bank_with(payer=0), CardProvider()
    run_with_provider(bank, provider, card_payment(amount=100))
    run_with_provider(bank, provider, card_refund(80, "ref0"))
    state, events = run_with_provider(bank, provider, card_refund(30))
    assert state is not None and state.status is SagaStatus.FAILED
    assert state.failure_reason == "insufficient_funds"
    assert provider.refunds == {"ref0:refund": 80} and bank.ledger(MERCHANT) == 20
    assert names(events)[-2:] == ["transaction.RefundFailed", "payment.RefundFailed"]


def test_a_card_refunds_answer_is_keyed_by_the_payment_with_its_own_event_id() -> None:
    answers = [
        pay.ChargeRefunded(
            payment_id="pay1", wallet_id=MERCHANT, amount=10, currency="USD",
            charge_id="pay1:charge", refund_id="rf", transaction_id=r,
        )
        for r in ("ref-a", "ref-b")
    ]  # fmt: skip
    envelopes = [outbound(a, None, None)[1] for a in answers]
    assert {e.key for e in envelopes} == {"pay1"}
    assert envelopes[0].event_id != envelopes[1].event_id
    assert request_of(saga_from_dict(saga_to_dict(react(None, card_refund(5), NOW)[0]))) == (
        card_refund(5)
    )


@given(replay=st.booleans(), late=st.sampled_from(["ChargeSucceeded", "ChargeFailed", None]))
def test_a_pending_card_payment_whose_charge_is_voided_is_cancelled_and_moves_nothing(
    replay: bool, late: str | None
) -> None:
    # given a card payment whose charge the provider left pending
    bank, provider = bank_with(payer=0), Provider()
    state, _ = run_with_provider(bank, provider, card_payment("async"), replay)
    assert state is not None and state.status is SagaStatus.CHARGING and state.charge_id == "ch"
    base = {"payment_id": "pay1", "wallet_id": MERCHANT, "amount": 100, "currency": "USD"}
    # when the provider says the charge was voided (the payer cancelled it), maybe twice
    voided = pay.ChargeVoided(**base, charge_id="ch")
    state, commands, ended = react(state, voided, NOW)
    again = react(state, voided, NOW) if replay else (state, [], [])
    # then the payment is cancelled, nothing is credited, and both topics are told once
    assert state is not None and state.status is SagaStatus.CANCELLED and not commands
    assert again == (state, [], [])
    assert names(ended) == ["transaction.PaymentCancelled", "payment.PaymentCancelled"]
    assert ended[1].merchant_id == "merchant-1" and ended[1].order_id == "order-7"
    assert bank.ledger(MERCHANT) == 0 and provider.charges == {}
    # and a decision that could not have happened (the void won) changes nothing
    if late == "ChargeSucceeded":
        assert react(state, pay.ChargeSucceeded(**base, charge_id="ch"), NOW) == (state, [], [])
    elif late == "ChargeFailed":
        failed = pay.ChargeFailed(**base, charge_id="ch", failure_reason="x")
        assert react(state, failed, NOW) == (state, [], [])
    # and the payment's events keep their ids and key
    topic, envelope = outbound(ended[1], None, None)
    assert (topic, envelope.key) == ("payment-events", "pay1")
    assert outbound(ended[1], "other", None)[1].event_id == envelope.event_id


def test_a_charge_voided_before_it_was_decided_fails_a_deposit() -> None:
    # a deposit is never cancelled through the API, but a voided charge still ends it
    deposit = tx.DepositRequested(
        transaction_id="dep1", wallet_id=MERCHANT, amount=50, currency="USD",
        payment_method_id="async", owner_id="o", provider="pgw",
    )  # fmt: skip
    bank, provider = bank_with(), Provider()
    state, _ = run_with_provider(bank, provider, deposit)
    base = {"payment_id": "dep1", "wallet_id": MERCHANT, "amount": 50, "currency": "USD"}
    state, _, events = react(state, pay.ChargeVoided(**base, charge_id="ch"), NOW)
    assert state is not None and state.status is SagaStatus.FAILED
    assert state.failure_reason == "charge_voided" and bank.ledger(MERCHANT) == 0
    assert names(events) == ["transaction.DepositFailed", "payment.DepositFailed"]
