"""The verifier's check of fees (wallet_svc.verify_fees) on logs made by the real sagas
against the real wallet decider: a completed payment's, deposit's or withdrawal's fee
reached the fee account once, a failed or reversed one moved none, and a log that says
otherwise is a problem."""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace
from test_verify_merchant_payments import NOW, PAYER, Logs, payment

from contracts import payment as pay
from contracts.provider import ChargeCard, ProviderCommand, RefundCharge, SendPayout
from contracts.transaction import (
    DepositRequested,
    PaymentCompleted,
    WithdrawalCompleted,
    WithdrawalRequested,
    decode_transaction_event,
)
from contracts.wallet import FreezeWallet, HoldCaptured
from transaction_svc.outbound import outbound
from wallet_svc.verify import read
from wallet_svc.verify_fees import check_fees


def fee_problems(logs: Logs) -> tuple[list[str], int]:
    problems: list[str] = []
    moved = check_fees(logs.tx, logs.wallet, problems)
    return problems, moved


def test_payments_with_fees_as_the_sagas_make_them_verify() -> None:
    # given a payment of 100 with a fee of 7, one the payer cannot cover, and one reversed
    logs = Logs()
    logs.saga(replace(payment(100, "pay-1"), fee=7))
    logs.saga(replace(payment(5_000, "pay-2"), fee=7))  # insufficient funds: fails
    logs.decide(FreezeWallet(command_id="fz", wallet_id="wallet-shop"))
    logs.saga(replace(payment(100, "pay-3"), fee=7))  # the shop refuses the credit
    # then the fee account got 7, once, and nothing is a problem
    assert fee_problems(logs) == ([], 7)
    assert logs.check() == []


def test_a_completion_naming_another_fee_than_was_moved_is_a_problem() -> None:
    logs = Logs()
    logs.saga(replace(payment(100, "pay-1"), fee=7))
    # and the same payment said to have completed again with a fee of 9
    forged = PaymentCompleted(
        transaction_id="pay-1", merchant_id="shop", order_id="o-1", amount=100, currency="USD",
        fee=9,
    )  # fmt: skip
    _, envelope = outbound(forged, None, None)
    logs.tx.append(read(0, len(logs.tx), envelope.to_bytes(), decode_transaction_event))
    problems, _ = fee_problems(logs)
    assert problems == [
        "fee: transaction pay-1 should have moved 9, moved 7",
        "fee: transaction pay-1 asked 7, completed 9",
    ]


class ProviderLogs(Logs):
    """The logs with a provider that charges, refunds and pays out as pgw does (a payout
    to the account ``closed`` fails), its answers published as the provider worker does."""

    def decide(self, command: Any) -> list[Any]:
        if not isinstance(command, ProviderCommand):
            return super().decide(command)
        base = {"payment_id": command.transaction_id, "wallet_id": command.wallet_id}
        base |= {"amount": command.amount, "currency": command.currency}
        answer: Any
        match command:
            case ChargeCard():
                answer = pay.ChargeSucceeded(**base, charge_id="ch", fee=command.fee)
            case RefundCharge():
                answer = pay.ChargeRefunded(**base, charge_id="ch", refund_id="rf", fee=command.fee)
            case SendPayout(payment_method_id="closed"):
                answer = pay.PayoutFailed(**base, payout_id="po", failure_reason="account_closed")
            case SendPayout():
                answer = pay.PayoutSucceeded(**base, payout_id="po")
        self.publish([answer])
        return [answer]


def deposit(tx: str, amount: int, fee: int) -> DepositRequested:
    return DepositRequested(
        transaction_id=tx, wallet_id=PAYER, amount=amount, currency="USD", provider="pgw",
        deadline=NOW + 30_000, payment_method_id="card", owner_id="payer", fee=fee,
    )  # fmt: skip


def withdrawal(tx: str, amount: int, fee: int, account: str = "bank") -> WithdrawalRequested:
    return WithdrawalRequested(
        transaction_id=tx, wallet_id=PAYER, amount=amount, currency="USD", provider="pgw",
        payout_method_id=account, owner_id="payer", deadline=NOW + 30_000, fee=fee,
    )  # fmt: skip


def test_deposits_and_withdrawals_with_fees_as_the_sagas_make_them_verify() -> None:
    # given a deposit with a fee of 12, a withdrawal with 5, one whose payout fails, one
    # the wallet cannot cover with its fee, and a deposit the frozen wallet refuses
    logs = ProviderLogs()
    logs.saga(deposit("dep-1", 500, 12))
    logs.saga(withdrawal("wd-1", 300, 5))
    logs.saga(withdrawal("wd-2", 100, 5, "closed"))
    logs.saga(withdrawal("wd-3", 1_195, 6))  # 1_195 left: not with the fee
    logs.decide(FreezeWallet(command_id="fz", wallet_id=PAYER))
    logs.saga(deposit("dep-2", 500, 12))
    # then the fee account got 12 + 5, once each, and nothing is a problem
    assert fee_problems(logs) == ([], 17)
    assert logs.check() == []
    assert logs.wallets[PAYER].ledger == 1_000 + 500 - 305


def test_a_withdrawal_whose_capture_moved_another_fee_is_a_problem() -> None:
    logs = ProviderLogs()
    logs.saga(withdrawal("wd-1", 300, 5))
    # and its completion said to have charged 9
    forged = WithdrawalCompleted(
        transaction_id="wd-1", wallet_id=PAYER, amount=300, currency="USD", provider="pgw", fee=9
    )
    logs.tx = [m for m in logs.tx if not isinstance(m.message, WithdrawalCompleted)]
    logs.publish([forged])
    problems, moved = fee_problems(logs)
    assert moved == 5 and [
        m.message.fee for m in logs.wallet if isinstance(m.message, HoldCaptured)
    ] == [5]
    assert problems == [
        "fee: transaction wd-1 should have moved 9, moved 5",
        "fee: transaction wd-1 asked 5, completed 9",
    ]
