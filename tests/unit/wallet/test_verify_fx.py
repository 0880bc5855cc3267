"""The verifier over transfers that convert, on logs made by the real saga and decider:
each currency balances through system:fx, the fee stays there with the amount (no credit
moves it), and a reversed conversion moved nothing."""

from __future__ import annotations

from test_verify_merchant_payments import NOW, PAYER, Logs

from contracts.transaction import TransferRequested
from contracts.wallet import FreezeWallet, OpenWallet
from wallet_svc.verify import Replay, check_log
from wallet_svc.verify_fees import check_fees

PAYEE = "wallet-yen"


def converting(tx: str, amount: int, fee: int, to_amount: int) -> TransferRequested:
    return TransferRequested(
        transaction_id=tx, from_wallet_id=PAYER, to_wallet_id=PAYEE, amount=amount,
        currency="USD", deadline=NOW + 30_000, fee=fee, quote_id=f"q-{tx}",
        to_currency="JPY", to_amount=to_amount,
    )  # fmt: skip


def test_conversions_as_the_saga_makes_them_verify() -> None:
    # given a completed conversion of 100 + 3 USD to 15_120 JPY, and one reversed
    logs = Logs()
    logs.decide(OpenWallet(command_id="open-y", wallet_id=PAYEE, owner_id="y", currency="JPY"))
    logs.saga(converting("fx-1", 100, 3, 15_120))
    logs.decide(FreezeWallet(command_id="fz", wallet_id=PAYEE))
    logs.saga(converting("fx-2", 200, 3, 30_240))
    # then every currency's postings sum to zero, with system:fx holding each side
    problems: list[str] = []
    totals = check_log(logs.wallet, problems)
    replay = Replay()
    for m in logs.wallet:
        replay.apply(m, problems)
    assert replay.system[("system:fx", "USD")] == 103
    assert replay.system[("system:fx", "JPY")] == -15_120
    assert totals == {"USD": 0, "JPY": 0}
    # and the fee check passes: no credit moved a fee, and both sagas ended once
    assert check_fees(logs.tx, logs.wallet, problems) == 0
    assert problems == [] and logs.check() == []
