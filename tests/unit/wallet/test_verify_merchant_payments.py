"""The verifier's checks of payments to merchants and their refunds (wallet_svc.verify_payments),
on logs made by the real sagas against the real wallet decider."""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from contracts import payment as pay
from contracts.envelope import Envelope
from contracts.payment import decode_payment_event
from contracts.transaction import (
    PaymentFailed,
    PaymentRequested,
    RefundRequested,
    decode_transaction_event,
)
from contracts.wallet import CreditWallet, OpenWallet, decode_event
from transaction_svc.domain import react
from transaction_svc.outbound import outbound
from wallet_svc.domain import WalletState, continuation, decide, evolve
from wallet_svc.verify import Msg, check_sagas, read
from wallet_svc.verify_payments import check_payments

NOW = 1_700_000_000_000
PAYER, SHOP = "wallet-payer", "wallet-shop"


class Logs:
    """The three topics the verifier reads, written as the sagas and the decider write them."""

    def __init__(self) -> None:
        self.tx: list[Msg] = []
        self.payments: list[Msg] = []
        self.wallet: list[Msg] = []
        self.wallets: dict[str, WalletState] = {}
        for w in (PAYER, SHOP):
            self.decide(OpenWallet(command_id=f"open-{w}", wallet_id=w, owner_id=w, currency="USD"))
        self.pay_in(1_000)

    def pay_in(self, amount: int) -> None:
        self.decide(
            CreditWallet(
                command_id="fund", wallet_id=PAYER, transaction_id="fund", amount=amount,
                currency="USD", counter_account="system:settlement:pgw",
            )
        )  # fmt: skip

    def decide(self, command: Any) -> list[Any]:
        state = self.wallets.get(command.wallet_id, WalletState())
        events = decide(state, command, NOW)
        for event in events:
            state = evolve(state, event)
            envelope = Envelope.of(event, key=command.wallet_id, producer="wallet_svc")
            self.wallet.append(read(0, len(self.wallet), envelope.to_bytes(), decode_event))
        self.wallets[command.wallet_id] = state
        then = continuation(command, events)
        return [then] if then is not None else events

    def saga(self, request: Any) -> None:
        state, commands, events = react(None, request, NOW)
        self.publish(events, request)
        while commands:
            for answer in self.decide(commands.pop(0)):
                if type(answer).__name__ == "CreditWallet":
                    commands.append(answer)
                    continue
                state, more, events = react(state, answer, NOW)
                commands += more
                self.publish(events)

    def publish(self, events: list[Any], request: Any = None) -> None:
        for message in [request, *events] if request is not None else events:
            _, envelope = outbound(message, None, None)
            if isinstance(message, pay.PaymentEvent):
                self.payments.append(
                    read(1, len(self.payments), envelope.to_bytes(), decode_payment_event)
                )
            else:
                self.tx.append(read(0, len(self.tx), envelope.to_bytes(), decode_transaction_event))

    def check(self) -> list[str]:
        problems: list[str] = []
        check_payments(self.tx, self.payments, self.wallet, problems, warnings=[])
        check_sagas(self.tx, problems)
        return problems


def payment(amount: int, tx: str = "pay-1") -> PaymentRequested:
    return PaymentRequested(
        transaction_id=tx, from_wallet_id=PAYER, to_wallet_id=SHOP, amount=amount,
        currency="USD", merchant_id="shop", order_id="o-1", provider="wallet",
        deadline=NOW + 30_000,
    )  # fmt: skip


def refund(amount: int, tx: str) -> RefundRequested:
    return RefundRequested(
        transaction_id=tx, payment_id="pay-1", from_wallet_id=SHOP, to_wallet_id=PAYER,
        amount=amount, currency="USD", merchant_id="shop", order_id="o-1",
        deadline=NOW + 30_000,
    )  # fmt: skip


def test_a_payment_and_its_refunds_as_the_sagas_make_them_verify() -> None:
    logs = Logs()
    logs.saga(payment(100))
    logs.saga(refund(30, "ref-1"))
    logs.saga(refund(70, "ref-2"))
    logs.saga(refund(10, "ref-3"))  # the merchant has nothing left: fails, moves nothing
    assert logs.check() == []


def test_refunds_that_add_up_to_more_than_the_payment_are_a_problem() -> None:
    logs = Logs()
    logs.saga(payment(100))
    logs.saga(refund(60, "ref-1"))
    # and a second refund of 60 said to have completed
    forged = [
        pay.RefundInitiated(
            payment_id="pay-1", wallet_id=PAYER, merchant_wallet_id=SHOP, amount=60,
            currency="USD", merchant_id="shop", order_id="o-1", refund_id="ref-2",
        ),
        pay.RefundCompleted(
            payment_id="pay-1", wallet_id=PAYER, merchant_wallet_id=SHOP, amount=60,
            currency="USD", merchant_id="shop", order_id="o-1", refund_id="ref-2",
        ),
    ]  # fmt: skip
    logs.publish(list(forged))
    assert logs.check() == ["payment pay-1: refunded 120, more than its 100"]


def test_a_failed_card_payment_whose_charge_was_not_refunded_is_a_problem() -> None:
    logs = Logs()
    request = replace(payment(100), from_wallet_id="", provider="card", payment_method_id="pm")
    fields = {"payment_id": "pay-1", "wallet_id": SHOP, "amount": 100, "currency": "USD"}
    order = {"merchant_id": "shop", "merchant_wallet_id": SHOP, "order_id": "o-1"}
    logs.publish(
        [
            pay.PaymentInitiated(**fields | {"wallet_id": ""}, **order, provider="card"),
            pay.ChargeSucceeded(**fields, charge_id="ch-1"),
            pay.PaymentFailed(**fields | {"wallet_id": ""}, **order, failure_reason="x"),
            PaymentFailed(
                transaction_id="pay-1", merchant_id="shop", order_id="o-1", amount=100,
                currency="USD", reason="x",
            ),
        ],
        request,
    )  # fmt: skip
    assert logs.check() == [
        "payment pay-1: PaymentFailed after ChargeSucceeded",
        "payment pay-1: failed, its card charged 100, not refunded",
    ]


def test_a_card_payment_cancelled_while_pending_verifies_and_one_that_was_charged_does_not() -> (
    None
):
    # given a card payment whose pending charge the saga saw voided
    request = replace(payment(100), from_wallet_id="", provider="card", payment_method_id="pm")
    fields = {"payment_id": "pay-1", "wallet_id": SHOP, "amount": 100, "currency": "USD"}
    logs = Logs()
    state, _, events = react(None, request, NOW)
    logs.publish(events, request)
    for answer in (
        pay.ChargePending(**fields, charge_id="ch"),
        pay.ChargeVoided(**fields, charge_id="ch"),
    ):
        logs.publish([answer])
        state, _, events = react(state, answer, NOW)
        logs.publish(events)
    # then the logs verify: initiated, pending, voided, cancelled, nothing credited
    assert logs.check() == []
    # and a cancelled payment that had been charged and credited is a problem
    charged = Logs()
    charged.tx, charged.payments = logs.tx, logs.payments[:2]
    charged.publish([pay.ChargeSucceeded(**fields, charge_id="ch")])
    charged.decide(
        CreditWallet(command_id="pay-1:credit", wallet_id=SHOP, transaction_id="pay-1",
                     amount=100, currency="USD", counter_account="system:settlement:pgw")
    )  # fmt: skip
    charged.payments += logs.payments[3:]
    assert "payment pay-1: cancelled but charged or credited [100]" in charged.check()
