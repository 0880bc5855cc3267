"""The verifier's checks of money through the provider (part of ``wallet_svc.verify``).

A deposit or withdrawal is one payment: its request and terminal event on
``transaction-events``, its steps on ``payment-events`` (``payment_id`` = transaction
id), its effects on ``wallet-events`` (``transaction_id``). :func:`check_payments` reads
the three logs together and checks, for every payment:

- its payment events (each event id counted once: a replay publishes the same id again)
  are all in one partition, keyed by the payment, for its amount, in an order its saga
  makes (:data:`NEXT`: an ``...Initiated`` first, nothing after a terminal), and end in
  the terminal its transaction ended with;
- a completed deposit credited the wallet once, exactly the amount ``ChargeSucceeded``
  charged (its fee on top went to the fee account: ``verify_fees``); a failed one
  credited nothing, and a charge that succeeded was refunded in full, fee included;
- a completed withdrawal was paid out (``PayoutSucceeded``) and its hold captured once,
  exactly its amount and its fee (the fee to the fee account: ``verify_fees``); a failed
  one paid nothing out and captured nothing; one that ended ``WithdrawalDebitFailed`` was
  paid out and captured nothing (a warning: money owed by the wallet, for an operator);
- nothing stays held for a terminal withdrawal: every hold it placed was captured,
  released or expired (a hold settled twice is ``check_log``'s);
- a completed payment to a merchant credited the merchant once, exactly its amount (a
  failed card payment whose card was charged was refunded); its
  refunds (their events keyed by the payment, each with its ``refund_id``) each began
  with ``RefundInitiated`` and ended once, and those completed add up to at most the
  payment.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from contracts import payment as pay
from contracts.transaction import (
    DepositCompleted,
    DepositFailed,
    DepositRequested,
    PaymentCancelled,
    PaymentCompleted,
    PaymentFailed,
    PaymentRequested,
    WithdrawalCompleted,
    WithdrawalDebitFailed,
    WithdrawalFailed,
    WithdrawalRequested,
)
from contracts.wallet import HoldCaptured, HoldExpired, HoldPlaced, HoldReleased, WalletCredited

if TYPE_CHECKING:
    from wallet_svc.verify import Msg

# What may follow each payment event type in one payment's life (None: the first event).
NEXT: dict[str | None, frozenset[str]] = {
    None: frozenset({"DepositInitiated", "WithdrawalInitiated", "PaymentInitiated"}),
    # a card payment's charge comes between, as a deposit's
    "PaymentInitiated": frozenset(
        {"PaymentCompleted", "PaymentFailed", "ChargePending", "ChargeSucceeded", "ChargeFailed"}
    ),
    "DepositInitiated": frozenset({"ChargePending", "ChargeSucceeded", "ChargeFailed"}),
    "ChargePending": frozenset({"ChargeSucceeded", "ChargeFailed", "ChargeVoided"}),
    "ChargeVoided": frozenset({"PaymentCancelled"}),  # a card payment cancelled while pending
    "ChargeSucceeded": frozenset({"DepositCompleted", "ChargeRefunded", "PaymentCompleted"}),
    "ChargeFailed": frozenset({"DepositFailed", "PaymentFailed"}),
    "ChargeRefunded": frozenset({"DepositFailed", "PaymentFailed"}),
    "WithdrawalInitiated": frozenset({"WithdrawalFundsHeld", "WithdrawalFailed"}),
    "WithdrawalFundsHeld": frozenset({"PayoutSucceeded", "PayoutFailed"}),
    "PayoutSucceeded": frozenset({"WithdrawalCompleted", "WithdrawalDebitFailed"}),
    "PayoutFailed": frozenset({"WithdrawalFailed"}),
}
Terminal = (
    DepositCompleted
    | DepositFailed
    | WithdrawalCompleted
    | WithdrawalFailed
    | WithdrawalDebitFailed
    | PaymentCompleted
    | PaymentFailed
    | PaymentCancelled
)
Settled = HoldCaptured | HoldReleased | HoldExpired
E = TypeVar("E", bound=pay.PaymentEvent)


@dataclass
class Payment:
    """What the three logs say about one deposit or withdrawal."""

    kind: str = ""  # "deposit", "withdrawal" or "payment"; "" if its request was not seen
    amount: int = 0
    fee: int = 0  # its request's
    terminal: str = ""  # the type of its terminal transaction event
    steps: list[pay.PaymentEvent] = field(default_factory=list)  # payment events, in order
    partitions: set[int] = field(default_factory=set)
    miskeyed: int = 0  # payment events whose Kafka key is not the payment id
    credited: list[int] = field(default_factory=list)  # WalletCredited amounts
    held: dict[tuple[str, str], int] = field(default_factory=dict)  # (wallet, hold) -> amount
    captured: list[int] = field(default_factory=list)  # HoldCaptured amounts
    settled: set[tuple[str, str]] = field(default_factory=set)
    # a payment's refunds' events by refund id (a card refund's ChargeRefunded among them)
    refunds: dict[str, list[pay.PaymentEvent]] = field(default_factory=dict)

    def step(self, kind: type[E]) -> E | None:
        return next((e for e in self.steps if isinstance(e, kind)), None)


def collect(
    tx_msgs: list[Msg], payment_msgs: list[Msg], wallet_msgs: list[Msg]
) -> dict[str, Payment]:
    """Every payment of the logs, by transaction id."""
    payments: dict[str, Payment] = defaultdict(Payment)
    for m in tx_msgs:
        event = m.message
        if isinstance(event, DepositRequested | WithdrawalRequested | PaymentRequested):
            p = payments[event.transaction_id]
            p.kind = {
                DepositRequested: "deposit",
                WithdrawalRequested: "withdrawal",
                PaymentRequested: "payment",
            }[type(event)]
            p.amount, p.fee = event.amount, event.fee
        elif isinstance(event, Terminal):
            payments[event.transaction_id].terminal = type(event).__name__
    seen: set[str] = set()
    for m in payment_msgs:
        if m.envelope is None or not isinstance(m.message, pay.PaymentEvent):
            continue
        if m.envelope.event_id in seen:
            continue  # the same event published again (a replayed step): one event
        seen.add(m.envelope.event_id)
        p = payments[m.message.payment_id]
        if isinstance(m.message, pay.RefundEvent):
            p.refunds.setdefault(m.message.refund_id, []).append(m.message)
        elif isinstance(m.message, pay.ChargeRefunded) and m.message.transaction_id:
            p.refunds.setdefault(m.message.transaction_id, []).append(m.message)
        else:
            p.steps.append(m.message)
        p.partitions.add(m.partition)
        p.miskeyed += m.envelope.key != m.message.payment_id
    seen.clear()
    for m in wallet_msgs:
        event = m.message
        if m.envelope is None or m.envelope.event_id in seen:
            continue
        seen.add(m.envelope.event_id)
        if not isinstance(event, WalletCredited | HoldPlaced | Settled):
            continue
        if event.transaction_id not in payments:
            continue  # a transfer's, or a hold of no payment
        p = payments[event.transaction_id]
        if isinstance(event, WalletCredited):
            p.credited.append(event.amount)
        elif isinstance(event, HoldPlaced):
            p.held[(event.wallet_id, event.hold_id)] = event.amount
        else:
            p.settled.add((event.wallet_id, event.hold_id))
            if isinstance(event, HoldCaptured):
                p.captured.append(event.amount)
    return payments


def check_order(tid: str, p: Payment, problems: list[str]) -> None:
    """One partition, the saga's order, the payment's amount, ending as the transaction."""
    if len(p.partitions) > 1:
        problems.append(f"payment {tid}: events in partitions {sorted(p.partitions)}")
    if p.miskeyed:
        problems.append(f"payment {tid}: {p.miskeyed} events not keyed by the payment id")
    before: str | None = None
    for event in p.steps:
        kind = type(event).__name__
        if kind not in NEXT.get(before, frozenset()):
            problems.append(f"payment {tid}: {kind} after {before or 'nothing'}")
            break
        before = kind
    else:
        if p.terminal and before != p.terminal:
            problems.append(f"payment {tid}: ended {p.terminal}, its payment events with {before}")
    if any(e.amount != p.amount for e in p.steps):
        problems.append(f"payment {tid}: an event's amount is not the requested {p.amount}")


def check_deposit(tid: str, p: Payment, problems: list[str]) -> None:
    charge = p.step(pay.ChargeSucceeded)
    refund = p.step(pay.ChargeRefunded)
    if p.terminal == "DepositCompleted":
        if charge is None:
            problems.append(f"deposit {tid}: completed without ChargeSucceeded")
        elif p.credited != [charge.amount]:
            problems.append(f"deposit {tid}: charged {charge.amount}, credited {p.credited}")
        if refund is not None:
            problems.append(f"deposit {tid}: completed and refunded")
    elif p.terminal == "DepositFailed":
        if p.credited:
            problems.append(f"deposit {tid}: failed but credited {p.credited}")
        charged = charge.amount + charge.fee if charge else 0
        refunded = refund.amount + refund.fee if refund else 0
        if charge is not None and refunded != charged:
            problems.append(f"deposit {tid}: failed, charged {charged}, refunded {refunded}")


def check_withdrawal(tid: str, p: Payment, problems: list[str]) -> None:
    paid = p.step(pay.PayoutSucceeded)
    if p.terminal == "WithdrawalCompleted":
        if paid is None:
            problems.append(f"withdrawal {tid}: completed without PayoutSucceeded")
        if p.captured != [p.amount + p.fee]:
            problems.append(
                f"withdrawal {tid}: amount {p.amount} and fee {p.fee}, captured {p.captured}"
            )
    elif p.terminal == "WithdrawalFailed":
        if paid is not None:
            problems.append(f"withdrawal {tid}: failed but paid out {paid.amount}")
        if p.captured:
            problems.append(f"withdrawal {tid}: failed but captured {p.captured}")
    elif p.terminal == "WithdrawalDebitFailed":
        if paid is None:
            problems.append(f"withdrawal {tid}: not debited, yet nothing was paid out")
        if p.captured:
            problems.append(f"withdrawal {tid}: not debited but captured {p.captured}")
    if p.terminal:
        for wallet, hold in sorted(set(p.held) - p.settled):
            problems.append(f"withdrawal {tid}: hold {hold} of wallet {wallet} still held")


# a refund's payment events: begun (a refund still running has no end yet), then ended
REFUND_LIVES = (
    ["RefundInitiated"],
    ["RefundInitiated", "RefundCompleted"],
    ["RefundInitiated", "RefundFailed"],
    ["RefundInitiated", "ChargeRefunded"],  # a card payment's refund: the card paid back
    ["RefundInitiated", "ChargeRefunded", "RefundCompleted"],
)


def check_merchant_payment(tid: str, p: Payment, problems: list[str]) -> None:
    """A payment to a merchant: credited once if completed; its refunds whole and within it."""
    if p.terminal == "PaymentCompleted" and p.credited != [p.amount]:
        problems.append(f"payment {tid}: completed for {p.amount}, credited {p.credited}")
    if p.terminal == "PaymentCancelled" and (p.credited or p.step(pay.ChargeSucceeded)):
        problems.append(f"payment {tid}: cancelled but charged or credited {p.credited}")
    charge, back = p.step(pay.ChargeSucceeded), p.step(pay.ChargeRefunded)
    if p.terminal == "PaymentFailed" and charge is not None and back is None:
        problems.append(f"payment {tid}: failed, its card charged {charge.amount}, not refunded")
    refunded = 0
    for refund_id, events in sorted(p.refunds.items()):
        kinds = [type(e).__name__ for e in events]
        if kinds not in REFUND_LIVES:
            problems.append(f"payment {tid}: refund {refund_id} published {kinds}")
        refunded += sum(e.amount for e in events if isinstance(e, pay.RefundCompleted))
    if refunded and p.terminal != "PaymentCompleted":
        problems.append(f"payment {tid}: refunded {refunded} of a payment that did not complete")
    if refunded > p.amount:
        problems.append(f"payment {tid}: refunded {refunded}, more than its {p.amount}")


CHECKS = {"deposit": check_deposit, "withdrawal": check_withdrawal}
CHECKS["payment"] = check_merchant_payment


def check_payments(
    tx_msgs: list[Msg],
    payment_msgs: list[Msg],
    wallet_msgs: list[Msg],
    problems: list[str],
    warnings: list[str],
) -> dict[str, int]:
    """The checks of the module doc; returns the number of deposits, withdrawals and
    payments to merchants. Payment events of a payment with no request on
    ``transaction-events`` (which transaction_svc never makes: it appends the request
    first) are a warning, not checked: the wallet events, where money moves, are checked
    whatever published them (``check_log``), as a transfer's terminal event without its
    request is."""
    counts = {"deposits": 0, "withdrawals": 0, "payments": 0}
    for tid, p in sorted(collect(tx_msgs, payment_msgs, wallet_msgs).items()):
        if not p.kind:
            warnings.append(f"payment {tid}: payment events but no request on transaction-events")
            continue
        counts[f"{p.kind}s"] += 1
        check_order(tid, p, problems)
        CHECKS[p.kind](tid, p, problems)
        if p.terminal == "WithdrawalDebitFailed":
            owed = p.amount + p.fee
            warnings.append(f"withdrawal {tid}: paid out, {owed} not debited (for an operator)")
    return counts
