"""The verifier over transfers that convert, on logs made by the real saga and decider:
each currency balances through system:fx, the credit moves the fee to system:fees in the
payer's currency (the fee check counts it), and a reversed conversion moved nothing."""

from __future__ import annotations

import dataclasses

import msgspec
from test_verify_merchant_payments import NOW, PAYER, Logs

from contracts.transaction import TransferRequested
from contracts.wallet import FreezeWallet, OpenWallet, WalletCredited
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
    assert replay.system[("system:fx", "USD")] == 100
    assert replay.system[("system:fees", "USD")] == 3
    assert replay.system[("system:fx", "JPY")] == -15_120
    assert totals == {"USD": 0, "JPY": 0}
    # and the fee check passes: the completed one's credit moved its fee, the reversed
    # one's nothing, and both sagas ended once
    assert check_fees(logs.tx, logs.wallet, problems) == 3
    assert problems == [] and logs.check() == []


def test_a_conversion_whose_credit_moved_no_fee_is_a_problem() -> None:
    # given a completed conversion whose credit (as before fees reached system:fees)
    # moved no fee
    logs = Logs()
    logs.decide(OpenWallet(command_id="open-y", wallet_id=PAYEE, owner_id="y", currency="JPY"))
    logs.saga(converting("fx-1", 100, 3, 15_120))
    feeless = [
        dataclasses.replace(m, message=msgspec.structs.replace(m.message, fee=0))
        if isinstance(m.message, WalletCredited)
        else m
        for m in logs.wallet
    ]
    # then the fee check says what it should have moved
    problems: list[str] = []
    check_fees(logs.tx, feeless, problems)
    assert problems == ["fee: transaction fx-1 should have moved 3, moved 0"]
