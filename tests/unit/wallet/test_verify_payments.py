"""The verifier's checks of deposits and withdrawals across transaction-events,
payment-events and wallet-events (wallet_svc.verify_payments, wallet_svc.verify)."""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts import payment as pay
from contracts.envelope import Envelope
from contracts.ids import deterministic_id
from contracts.message import Message
from contracts.payment import decode_payment_event
from contracts.transaction import (
    DepositCompleted,
    DepositFailed,
    DepositRequested,
    WithdrawalCompleted,
    WithdrawalDebitFailed,
    WithdrawalFailed,
    WithdrawalRequested,
    decode_transaction_event,
)
from contracts.wallet import (
    HoldCaptured,
    HoldExpired,
    HoldPlaced,
    HoldReleased,
    Posting,
    WalletCredited,
    decode_event,
)
from wallet_svc.verify import Msg, check_sagas, read
from wallet_svc.verify_payments import check_payments

W = "0190f3c2-0000-7000-8000-000000000001"
SETTLEMENT = "system:settlement:pgw"
DEP, WD = "tx-dep", "tx-wd"


@dataclass
class Log:
    """The three topics as the verifier reads them; a payment event's id is derived from
    its payment and type, as transaction_svc derives it (so a replay repeats the id)."""

    tx: list[Msg] = field(default_factory=list)
    payments: list[Msg] = field(default_factory=list)
    wallet: list[Msg] = field(default_factory=list)

    def transaction(self, message: Message) -> None:
        envelope = Envelope.of(message, key="t", producer="transaction_svc")
        self.tx.append(read(0, len(self.tx), envelope.to_bytes(), decode_transaction_event))

    def payment(self, event: pay.PaymentEvent, partition: int = 1, key: str = "") -> None:
        envelope = Envelope.of(
            event,
            key=key or event.payment_id,
            producer="transaction_svc",
            event_id=deterministic_id("payment-event", event.payment_id, type(event).__name__),
        )
        offset = len(self.payments)
        self.payments.append(read(partition, offset, envelope.to_bytes(), decode_payment_event))

    def effect(self, event: Message) -> None:
        envelope = Envelope.of(event, key=W, producer="wallet_svc")
        self.wallet.append(read(0, len(self.wallet), envelope.to_bytes(), decode_event))

    def check(self) -> tuple[list[str], dict[str, int]]:
        problems: list[str] = []
        self.warnings: list[str] = []
        counts = check_payments(self.tx, self.payments, self.wallet, problems, self.warnings)
        return problems, counts


def _money(tx: str, amount: int) -> dict[str, object]:
    return {"payment_id": tx, "wallet_id": W, "amount": amount, "currency": "USD"}


def _tx(tx: str, amount: int) -> dict[str, object]:
    return {"transaction_id": tx, "wallet_id": W, "amount": amount, "currency": "USD",
            "provider": "pgw"}  # fmt: skip


def _credit(tx: str, amount: int) -> WalletCredited:
    return WalletCredited(
        command_id=f"{tx}:credit", wallet_id=W, transaction_id=tx, amount=amount,
        currency="USD", counter_account=SETTLEMENT,
        postings=(Posting(account=SETTLEMENT, amount=-amount, currency="USD"),
                  Posting(account=f"wallet:{W}", amount=amount, currency="USD")),
        ledger=amount, available=amount,
    )  # fmt: skip


def _hold(tx: str, amount: int) -> HoldPlaced:
    return HoldPlaced(command_id=f"{tx}:hold", wallet_id=W, transaction_id=tx, hold_id=tx,
                      amount=amount, currency="USD", expires_at=0, ledger=900,
                      available=900 - amount)  # fmt: skip


def _capture(tx: str, amount: int) -> HoldCaptured:
    return HoldCaptured(
        command_id=f"{tx}:capture", wallet_id=W, transaction_id=tx, hold_id=tx, amount=amount,
        released_amount=0, currency="USD", counter_account=SETTLEMENT,
        postings=(Posting(account=f"wallet:{W}", amount=-amount, currency="USD"),
                  Posting(account=SETTLEMENT, amount=amount, currency="USD")),
        ledger=900 - amount, available=900 - amount,
    )  # fmt: skip


def _release(tx: str, amount: int) -> HoldReleased:
    return HoldReleased(command_id=f"{tx}:release", wallet_id=W, transaction_id=tx,
                        hold_id=tx, amount=amount, currency="USD", ledger=900,
                        available=900)  # fmt: skip


def _deposit(log: Log, tx: str = DEP, amount: int = 500, *, credited: int = 500) -> None:
    """A deposit charged ``amount`` and credited ``credited``, logged as its saga does."""
    log.transaction(DepositRequested(**_tx(tx, amount), payment_method_id="pm"))
    log.payment(pay.DepositInitiated(**_money(tx, amount), payment_method_id="pm"))
    log.payment(pay.ChargeSucceeded(**_money(tx, amount), charge_id="ch"))
    log.effect(_credit(tx, credited))
    log.payment(pay.DepositCompleted(**_money(tx, amount)))
    log.transaction(DepositCompleted(**_tx(tx, amount)))


def _held(log: Log, tx: str, amount: int) -> None:
    """A withdrawal requested and its amount held, logged as its saga does."""
    log.transaction(WithdrawalRequested(**_tx(tx, amount), payout_method_id="ba", owner_id="u"))
    log.payment(pay.WithdrawalInitiated(**_money(tx, amount), payout_method_id="ba"))
    log.effect(_hold(tx, amount))
    log.payment(pay.WithdrawalFundsHeld(**_money(tx, amount), hold_id=tx))


def _withdrawal(log: Log, tx: str = WD, amount: int = 300, *, paid: bool = True) -> None:
    """A withdrawal held, then paid out and captured (or its payout failed and released)."""
    _held(log, tx, amount)
    if paid:
        log.payment(pay.PayoutSucceeded(**_money(tx, amount), payout_id="po"))
        log.effect(_capture(tx, amount))
        log.payment(pay.WithdrawalCompleted(**_money(tx, amount)))
        log.transaction(WithdrawalCompleted(**_tx(tx, amount)))
    else:
        log.payment(pay.PayoutFailed(**_money(tx, amount), payout_id=None, failure_reason="x"))
        log.effect(_release(tx, amount))
        log.payment(pay.WithdrawalFailed(**_money(tx, amount), failure_reason="x"))
        log.transaction(WithdrawalFailed(**_tx(tx, amount), reason="x"))


def test_payments_as_their_sagas_make_them_verify_and_a_replayed_event_counts_once() -> None:
    # given a deposit, a withdrawal paid out and one whose payout failed
    log = Log()
    _deposit(log)
    _withdrawal(log)
    _withdrawal(log, "tx-wd-2", paid=False)
    # and the provider worker's answer published again after a replay (the same event id)
    log.payment(pay.ChargeSucceeded(**_money(DEP, 500), charge_id="ch"))
    log.payments.insert(2, log.payments.pop())
    # when checked, then all is well
    assert log.check() == ([], {"deposits": 1, "withdrawals": 2, "payments": 0})


def test_a_deposit_must_credit_once_exactly_what_was_charged() -> None:
    # given a deposit credited 400 for a 500 charge, and one credited twice
    log = Log()
    _deposit(log, "tx-a", credited=400)
    _deposit(log, "tx-b")
    log.effect(_credit("tx-b", 500))
    problems, _ = log.check()
    assert problems == [
        "deposit tx-a: charged 500, credited [400]",
        "deposit tx-b: charged 500, credited [500, 500]",
    ]


def test_a_failed_deposit_credits_nothing_and_refunds_a_charge_in_full() -> None:
    log = Log()
    # given a declined deposit that was credited anyway
    log.transaction(DepositRequested(**_tx("tx-a", 70), payment_method_id="pm"))
    log.payment(pay.DepositInitiated(**_money("tx-a", 70), payment_method_id="pm"))
    log.payment(pay.ChargeFailed(**_money("tx-a", 70), charge_id=None, failure_reason="d"))
    log.effect(_credit("tx-a", 70))
    log.payment(pay.DepositFailed(**_money("tx-a", 70), failure_reason="d"))
    log.transaction(DepositFailed(**_tx("tx-a", 70), reason="d"))
    # and a charged deposit that failed without its refund
    log.transaction(DepositRequested(**_tx("tx-b", 80), payment_method_id="pm"))
    log.payment(pay.DepositInitiated(**_money("tx-b", 80), payment_method_id="pm"))
    log.payment(pay.ChargeSucceeded(**_money("tx-b", 80), charge_id="ch"))
    log.payment(pay.DepositFailed(**_money("tx-b", 80), failure_reason="credit_rejected"))
    log.transaction(DepositFailed(**_tx("tx-b", 80), reason="credit_rejected"))
    problems, _ = log.check()
    assert problems == [
        "deposit tx-a: failed but credited [70]",
        "payment tx-b: DepositFailed after ChargeSucceeded",
        "deposit tx-b: failed, charged 80, refunded 0",
    ]


def test_a_withdrawal_captures_its_amount_once_and_a_failed_one_holds_and_pays_nothing() -> None:
    log = Log()
    # given a completed withdrawal of 300 that captured 200
    _withdrawal(log, "tx-a")
    log.wallet[-1] = read(0, 9, Envelope.of(_capture("tx-a", 200), key=W,
                                            producer="w").to_bytes(), decode_event)  # fmt: skip
    # and a failed withdrawal whose hold was never released
    _withdrawal(log, "tx-b", paid=False)
    del log.wallet[-1]
    # and a failed one that was paid out and captured all the same
    log.transaction(WithdrawalRequested(**_tx("tx-c", 5), payout_method_id="ba", owner_id="u"))
    log.payment(pay.WithdrawalInitiated(**_money("tx-c", 5), payout_method_id="ba"))
    log.effect(_hold("tx-c", 5))
    log.payment(pay.PayoutSucceeded(**_money("tx-c", 5), payout_id="po"))
    log.effect(_capture("tx-c", 5))
    log.transaction(WithdrawalFailed(**_tx("tx-c", 5), reason="x"))
    problems, _ = log.check()
    assert problems == [
        "withdrawal tx-a: amount 300 and fee 0, captured [200]",
        f"withdrawal tx-b: hold tx-b of wallet {W} still held",
        "payment tx-c: PayoutSucceeded after WithdrawalInitiated",
        "withdrawal tx-c: failed but paid out 5",
        "withdrawal tx-c: failed but captured [5]",
    ]


def test_a_payments_events_stay_in_one_partition_in_order_for_its_amount() -> None:
    log = Log()
    # given a deposit whose charge answer landed in another partition, keyed otherwise
    log.transaction(DepositRequested(**_tx("tx-a", 10), payment_method_id="pm"))
    log.payment(pay.DepositInitiated(**_money("tx-a", 10), payment_method_id="pm"))
    log.payment(pay.ChargeSucceeded(**_money("tx-a", 10), charge_id="ch"), partition=2, key=W)
    log.effect(_credit("tx-a", 10))
    log.payment(pay.DepositCompleted(**_money("tx-a", 10)))
    log.transaction(DepositCompleted(**_tx("tx-a", 10)))
    # and a deposit whose completion came before its charge, for another amount
    log.transaction(DepositRequested(**_tx("tx-b", 10), payment_method_id="pm"))
    log.payment(pay.DepositInitiated(**_money("tx-b", 10), payment_method_id="pm"))
    log.payment(pay.DepositCompleted(**_money("tx-b", 11)))
    log.payment(pay.ChargeSucceeded(**_money("tx-b", 10), charge_id="ch"))
    log.effect(_credit("tx-b", 10))
    log.transaction(DepositCompleted(**_tx("tx-b", 10)))
    # and payment events of a payment never requested
    log.payment(pay.DepositInitiated(**_money("tx-c", 1), payment_method_id="pm"))
    problems, counts = log.check()
    assert problems == [
        "payment tx-a: events in partitions [1, 2]",
        "payment tx-a: 1 events not keyed by the payment id",
        "payment tx-b: DepositCompleted after DepositInitiated",
        "payment tx-b: an event's amount is not the requested 10",
    ]
    # and the payment never requested is a warning (nothing of it is checked)
    assert log.warnings == ["payment tx-c: payment events but no request on transaction-events"]
    assert counts == {"deposits": 2, "withdrawals": 0, "payments": 0}


def test_every_withdrawal_needs_exactly_one_terminal_event() -> None:
    log = Log()
    _withdrawal(log, "tx-a")
    log.transaction(WithdrawalRequested(**_tx("tx-b", 1), payout_method_id="ba", owner_id="u"))
    problems: list[str] = []
    assert check_sagas(log.tx, problems) == 2
    assert problems == ["saga tx-b has 0 terminal events (expected 1)"]


def test_a_payment_ends_on_payment_events_as_its_transaction_ended() -> None:
    # given a deposit completed on transaction-events whose DepositCompleted payment
    # event was never published
    log = Log()
    _deposit(log)
    del log.payments[-1]
    problems, _ = log.check()
    assert problems == [f"payment {DEP}: ended DepositCompleted, its payment events with "
                        "ChargeSucceeded"]  # fmt: skip


def _paid_not_debited(log: Log, tx: str, amount: int, *, paid: bool = True) -> None:
    """A withdrawal whose hold expired before its capture and whose wallet could not be
    held again, logged as its saga does (``paid``: whether its payout succeeded)."""
    _held(log, tx, amount)
    if paid:
        log.payment(pay.PayoutSucceeded(**_money(tx, amount), payout_id="po"))
    log.effect(HoldExpired(command_id=f"{tx}:capture", wallet_id=W, transaction_id=tx,
                           hold_id=tx, amount=amount, currency="USD", ledger=900,
                           available=900))  # fmt: skip
    reason = "paid out, rehold insufficient_funds"
    log.payment(pay.WithdrawalDebitFailed(**_money(tx, amount), failure_reason=reason))
    log.transaction(WithdrawalDebitFailed(**_tx(tx, amount), reason=reason))


def test_a_withdrawal_paid_out_but_not_debited_ends_once_and_is_a_warning() -> None:
    # given a withdrawal paid out whose wallet could not be debited after its hold expired
    log = Log()
    _paid_not_debited(log, "tx-a", 40)
    # then its terminal event ends its saga, the payment checks pass, and an operator is told
    problems: list[str] = []
    assert check_sagas(log.tx, problems) == 1 and problems == []
    assert log.check() == ([], {"deposits": 0, "withdrawals": 1, "payments": 0})
    assert log.warnings == ["withdrawal tx-a: paid out, 40 not debited (for an operator)"]


def test_not_debited_needs_a_payout_and_no_capture() -> None:
    # given one "not debited" with no payout, and one whose hold was captured after all
    log = Log()
    _paid_not_debited(log, "tx-a", 40, paid=False)
    _paid_not_debited(log, "tx-b", 50)
    log.effect(_capture("tx-b", 50))
    problems, _ = log.check()
    assert problems == [
        "payment tx-a: WithdrawalDebitFailed after WithdrawalFundsHeld",
        "withdrawal tx-a: not debited, yet nothing was paid out",
        "withdrawal tx-b: not debited but captured [50]",
    ]
