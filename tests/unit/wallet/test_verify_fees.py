"""The verifier's check of fees (wallet_svc.verify_fees) on logs made by the real sagas
against the real wallet decider: a completed payment's fee reached the fee account once,
a failed or reversed one moved none, and a log that says otherwise is a problem."""

from __future__ import annotations

from msgspec.structs import replace
from test_verify_merchant_payments import Logs, payment

from contracts.transaction import PaymentCompleted, decode_transaction_event
from contracts.wallet import FreezeWallet
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
