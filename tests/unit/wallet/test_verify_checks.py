"""The verifier's checks read the log through the contract classes (wallet_svc.verify)."""

from __future__ import annotations

import msgspec

from contracts.envelope import Envelope
from contracts.message import Message
from contracts.transaction import (
    TransferCompleted,
    TransferFailed,
    TransferRequested,
    decode_transaction_event,
)
from contracts.wallet import (
    HoldReleased,
    Posting,
    WalletCredited,
    WalletDebited,
    WalletOpened,
    decode_event,
)
from wallet_svc.verify import Msg, Replay, check_log, check_sagas, read

W = "0190f3c2-0000-7000-8000-000000000001"


def _msg(message: Message, offset: int, event_id: str | None = None) -> Msg:
    envelope = Envelope.of(message, key=W, producer="wallet_svc", event_id=event_id)
    return read(0, offset, envelope.to_bytes(), decode_event)


def _credit(amount: int, ledger: int, command_id: str = "c-1") -> WalletCredited:
    return WalletCredited(
        command_id=command_id, wallet_id=W, transaction_id="t-1", amount=amount,
        currency="USD", counter_account="system:deposits",
        postings=(Posting(account="system:deposits", amount=-amount, currency="USD"),
                  Posting(account=f"wallet:{W}", amount=amount, currency="USD")),
        ledger=ledger, available=ledger,
    )  # fmt: skip


def _opened() -> WalletOpened:
    return WalletOpened(command_id="open", wallet_id=W, owner_id="u-1", currency="USD")


def test_a_record_is_read_through_the_envelope_and_the_payload_contract() -> None:
    good = _msg(_credit(5, 5), 3)
    assert isinstance(good.message, WalletCredited) and good.message.postings[1].amount == 5
    assert read(0, 4, b"\xffnot json", decode_event) == Msg(0, 4, None)
    other = Envelope.of(TransferFailed(transaction_id="t", from_wallet_id="a", to_wallet_id="b",
                                       amount=1, currency="USD", reason="x"),
                        key="t", producer="transaction_svc")  # fmt: skip
    not_a_wallet_event = read(0, 5, other.to_bytes(), decode_event)
    assert not_a_wallet_event.envelope == other and not_a_wallet_event.message is None


def test_the_replay_checks_the_balances_each_event_carries() -> None:
    replay, problems = Replay(), list[str]()
    for m in [_msg(_opened(), 0), _msg(_credit(5, 5), 1), _msg(_credit(5, 99, "c-2"), 2)]:
        replay.apply(m, problems)
    replay.apply(read(0, 3, b"{}", decode_event), problems)
    assert replay.balances() == {W: (10, 10, "active")}
    assert replay.money_events == 2 and replay.undecodable == 1
    assert replay.system == {("system:deposits", "USD"): -10}
    assert len(problems) == 1 and "carries 99/99, replay gives 10/10" in problems[0]


def test_the_log_check_finds_unbalanced_postings_repeats_and_double_effects() -> None:
    lopsided = WalletDebited(
        command_id="c-9", wallet_id=W, transaction_id="t-9", amount=3, currency="USD",
        counter_account="system:in_transit",
        postings=(Posting(account=f"wallet:{W}", amount=-3, currency="USD"),),
        ledger=0, available=0,
    )  # fmt: skip
    release = HoldReleased(command_id="r", wallet_id=W, transaction_id="t", hold_id="h",
                           amount=1, currency="USD", ledger=0, available=0)  # fmt: skip
    release_again = msgspec.structs.replace(release, command_id="r-2")
    msgs = [
        _msg(_credit(5, 5), 0, event_id="e-1"),
        _msg(_credit(5, 5), 1, event_id="e-1"),  # the same event again
        _msg(_credit(5, 10), 2, event_id="e-2"),  # a second effect of command c-1
        _msg(lopsided, 3, event_id="e-3"),
        _msg(release, 4, event_id="e-4"),
        _msg(release_again, 5, event_id="e-5"),  # the same hold settled again
    ]
    problems: list[str] = []
    totals = check_log(msgs, problems)
    assert problems == [
        "duplicate event id e-1 at 0:1",
        "command c-1 has two effects: e-1 and e-2",
        "unbalanced postings in event e-3: {'USD': -3}",
        f"hold h of wallet {W} settled twice (e-5)",
        "conservation: postings in USD sum to -3, not 0",
    ]
    assert totals == {"USD": -3}


def test_every_saga_needs_exactly_one_terminal_event_a_repeated_record_counting_once() -> None:
    def tx(message: Message) -> Msg:
        envelope = Envelope.of(message, key="t", producer="transaction_svc")
        return read(0, 0, envelope.to_bytes(), decode_transaction_event)

    legs = {"from_wallet_id": "a", "to_wallet_id": "b", "amount": 1, "currency": "USD"}
    requested = [tx(TransferRequested(transaction_id=t, deadline=0, **legs)) for t in "xyz"]
    done = [tx(TransferCompleted(transaction_id=t, **legs)) for t in "xzz"]
    sent_again = done[0]  # x's end written twice (a retried send): the same event, once
    problems: list[str] = []
    assert check_sagas([*requested, *done, sent_again], problems) == 3
    assert problems == [
        "saga y has 0 terminal events (expected 1)",
        "saga z has 2 terminal events (expected 1)",
    ]
