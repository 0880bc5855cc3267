"""Wallet decider: happy paths, every rejection reason, holds, idempotency, snapshots, serde."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from msgspec.structs import replace

from contracts.message import to_payload
from contracts.time import epoch_ms
from contracts.wallet import (
    COMMAND_TYPES,
    CaptureHold,
    CloseWallet,
    CommandRejected,
    CreditRejected,
    CreditWallet,
    DebitRejected,
    DebitWallet,
    ExpireHolds,
    FreezeWallet,
    HoldCaptured,
    HoldExpired,
    HoldPlaced,
    HoldRejected,
    HoldReleased,
    OpenWallet,
    PlaceHold,
    Posting,
    Reason,
    ReleaseHold,
    UnfreezeWallet,
    WalletClosed,
    WalletCommand,
    WalletCredited,
    WalletDebited,
    WalletEvent,
    WalletFrozen,
    WalletOpened,
    WalletUnfrozen,
    decode_command,
    decode_event,
)
from wallet_svc.domain import (
    WalletState,
    WalletStatus,
    decide,
    evolve,
    from_snapshot,
    to_snapshot,
)

NOW = 1_700_000_000_000
W = "w1"
_seq = iter(range(1_000_000))


def cid() -> str:
    return f"c{next(_seq)}"


def run(state: WalletState | None, command: WalletCommand, now: int = NOW):
    """When `command` is decided: return (new state, events)."""
    events = decide(state, command, now)
    s = state or WalletState()
    for e in events:
        s = evolve(s, e)
    return s, events


def given(*commands: WalletCommand, now: int = NOW) -> WalletState:
    s = WalletState()
    for c in commands:
        s, _ = run(s, c, now)
    return s


def opened(balance: int = 0, overdraft: int = 0) -> WalletState:
    s = given(
        OpenWallet(
            command_id="open", wallet_id=W, owner_id="u1", currency="USD", overdraft_limit=overdraft
        )
    )
    if balance:
        s = given_on(s, credit(balance))
    return s


def given_on(state: WalletState, *commands: WalletCommand, now: int = NOW) -> WalletState:
    for c in commands:
        state, _ = run(state, c, now)
    return state


def debit(amount: int, currency: str = "USD", expires_at: int | None = None) -> DebitWallet:
    return DebitWallet(
        command_id=cid(),
        wallet_id=W,
        transaction_id="t1",
        amount=amount,
        currency=currency,
        counter_account="system:in_transit",
        expires_at=expires_at,
    )


def credit(amount: int, currency: str = "USD", **kw) -> CreditWallet:
    return CreditWallet(
        command_id=cid(),
        wallet_id=W,
        transaction_id="t1",
        amount=amount,
        currency=currency,
        counter_account="system:settlement:sim",
        **kw,
    )


def hold(hold_id: str, amount: int, expires_at: int = NOW + 60_000) -> PlaceHold:
    return PlaceHold(
        command_id=cid(),
        wallet_id=W,
        hold_id=hold_id,
        amount=amount,
        currency="USD",
        expires_at=expires_at,
        transaction_id="t-h",
    )


def only(events: list[WalletEvent]) -> WalletEvent:
    assert len(events) == 1, events
    return events[0]


# --- open / admin -------------------------------------------------------------------


def test_open_wallet_creates_an_active_empty_wallet():
    s, events = run(None, OpenWallet(command_id="o", wallet_id=W, owner_id="u", currency="EUR"))
    assert events == [WalletOpened(command_id="o", wallet_id=W, owner_id="u", currency="EUR")]
    assert (s.status, s.ledger, s.available, s.currency) == (WalletStatus.ACTIVE, 0, 0, "EUR")


def test_open_twice_is_rejected_already_exists():
    s = opened()
    _, events = run(s, OpenWallet(command_id=cid(), wallet_id=W, owner_id="u", currency="USD"))
    assert only(events) == CommandRejected(
        command_id=events[0].command_id,
        wallet_id=W,
        command_type="OpenWallet",
        reason="already_exists",
    )


def test_open_with_negative_overdraft_is_invalid_amount():
    _, events = run(
        None,
        OpenWallet(command_id="o", wallet_id=W, owner_id="u", currency="USD", overdraft_limit=-1),
    )
    assert only(events).reason == Reason.INVALID_AMOUNT


def test_freeze_then_unfreeze():
    s, events = run(opened(), FreezeWallet(command_id="f", wallet_id=W, reason="kyc"))
    assert events == [WalletFrozen(command_id="f", wallet_id=W, reason="kyc")]
    assert s.status == WalletStatus.FROZEN
    s, events = run(s, UnfreezeWallet(command_id="u", wallet_id=W))
    assert events == [WalletUnfrozen(command_id="u", wallet_id=W)]
    assert s.status == WalletStatus.ACTIVE


@pytest.mark.parametrize(
    ("state_cmds", "command", "reason"),
    [
        ((), FreezeWallet(command_id="x", wallet_id=W), "wallet_not_found"),
        ((), CloseWallet(command_id="x", wallet_id=W), "wallet_not_found"),
        (("freeze",), FreezeWallet(command_id="x", wallet_id=W), "wallet_frozen"),
        ((), UnfreezeWallet(command_id="x", wallet_id=W), "wallet_not_found"),
        (("open",), UnfreezeWallet(command_id="x", wallet_id=W), "not_frozen"),
        (("close",), FreezeWallet(command_id="x", wallet_id=W), "wallet_closed"),
        (("close",), UnfreezeWallet(command_id="x", wallet_id=W), "wallet_closed"),
        (("close",), CloseWallet(command_id="x", wallet_id=W), "wallet_closed"),
    ],
)
def test_admin_commands_that_do_not_apply_are_command_rejected(state_cmds, command, reason):
    s = WalletState() if not state_cmds else opened()
    if "freeze" in state_cmds:
        s = given_on(s, FreezeWallet(command_id="f0", wallet_id=W))
    if "close" in state_cmds:
        s = given_on(s, CloseWallet(command_id="c0", wallet_id=W))
    before = s.status
    s2, events = run(s, command)
    assert only(events) == CommandRejected(
        command_id="x", wallet_id=W, command_type=type(command).__name__, reason=reason
    )
    assert s2.status == before


def test_close_requires_zero_ledger_and_no_holds():
    s = opened(balance=10)
    _, events = run(s, CloseWallet(command_id=cid(), wallet_id=W))
    assert only(events).reason == Reason.NOT_ZERO_BALANCE
    s = given_on(opened(overdraft=50), hold("h", 20))
    _, events = run(s, CloseWallet(command_id=cid(), wallet_id=W))
    assert only(events).reason == Reason.NOT_ZERO_BALANCE
    s, events = run(opened(), CloseWallet(command_id="cl", wallet_id=W))
    assert events == [WalletClosed(command_id="cl", wallet_id=W)]
    assert s.status == WalletStatus.CLOSED


def test_a_frozen_wallet_with_zero_balance_can_be_closed():
    s = given_on(opened(), FreezeWallet(command_id="f", wallet_id=W))
    s, events = run(s, CloseWallet(command_id="cl", wallet_id=W))
    assert isinstance(only(events), WalletClosed)


# --- debit / credit -----------------------------------------------------------------


def test_debit_moves_money_to_the_counter_account_with_balanced_postings():
    c = debit(30)
    s, events = run(opened(balance=100), c)
    assert only(events) == WalletDebited(
        command_id=c.command_id,
        wallet_id=W,
        transaction_id="t1",
        amount=30,
        currency="USD",
        counter_account="system:in_transit",
        postings=(
            Posting(account="wallet:w1", amount=-30, currency="USD"),
            Posting(account="system:in_transit", amount=30, currency="USD"),
        ),
        ledger=70,
        available=70,
    )
    assert (s.ledger, s.available) == (70, 70)


def test_credit_moves_money_from_the_counter_account():
    c = credit(25)
    s, events = run(opened(), c)
    e = only(events)
    assert isinstance(e, WalletCredited)
    assert e.postings == (
        Posting(account="system:settlement:sim", amount=-25, currency="USD"),
        Posting(account="wallet:w1", amount=25, currency="USD"),
    )
    assert (e.ledger, e.available, s.ledger) == (25, 25, 25)


def test_credit_with_fee_takes_the_fee_from_the_counter_account_to_the_fee_account():
    s, events = run(opened(), credit(100, fee=3))
    e = only(events)
    assert isinstance(e, WalletCredited)
    assert {p.account: p.amount for p in e.postings} == {
        "system:settlement:sim": -103,
        "wallet:w1": 100,
        "system:fees": 3,
    }
    assert s.ledger == 100


@pytest.mark.parametrize(
    ("setup", "command", "reason"),
    [
        ("none", lambda: debit(10), "wallet_not_found"),
        ("funded", lambda: debit(0), "invalid_amount"),
        ("funded", lambda: debit(-5), "invalid_amount"),
        ("funded", lambda: debit(10, currency="EUR"), "currency_mismatch"),
        ("funded", lambda: debit(10, expires_at=NOW), "expired"),
        ("frozen", lambda: debit(10), "wallet_frozen"),
        ("closed", lambda: debit(10), "wallet_closed"),
        ("funded", lambda: debit(101), "insufficient_funds"),
    ],
)
def test_debit_rejections(setup, command, reason):
    s = {
        "none": WalletState(),
        "funded": opened(balance=100),
        "frozen": given_on(opened(balance=100), FreezeWallet(command_id="f", wallet_id=W)),
        "closed": given_on(opened(), CloseWallet(command_id="cl", wallet_id=W)),
    }[setup]
    c = command()
    s2, events = run(s, c)
    assert only(events) == DebitRejected(
        command_id=c.command_id,
        wallet_id=W,
        transaction_id="t1",
        amount=c.amount,
        currency=c.currency,
        reason=reason,
    )
    assert s2.ledger == s.ledger
    assert c.command_id in s2.processed


def test_debit_of_a_float_amount_is_invalid():
    _, events = run(opened(balance=100), debit(1.5))  # type: ignore[arg-type]
    assert only(events).reason == Reason.INVALID_AMOUNT


def test_debit_before_expiry_is_accepted():
    _, events = run(opened(balance=100), debit(10, expires_at=NOW + 1))
    assert isinstance(only(events), WalletDebited)


@pytest.mark.parametrize(
    ("setup", "command", "reason"),
    [
        ("none", lambda: credit(10), "wallet_not_found"),
        ("open", lambda: credit(0), "invalid_amount"),
        ("open", lambda: credit(10, fee=-1), "invalid_amount"),
        ("open", lambda: credit(10, currency="EUR"), "currency_mismatch"),
        ("open", lambda: credit(10, expires_at=NOW - 1), "expired"),
        ("frozen", lambda: credit(10), "wallet_frozen"),
        ("closed", lambda: credit(10), "wallet_closed"),
        ("closed", lambda: credit(10, currency="EUR", compensation=True), "currency_mismatch"),
        ("none", lambda: credit(10, compensation=True), "wallet_not_found"),
    ],
)
def test_credit_rejections(setup, command, reason):
    s = {
        "none": WalletState(),
        "open": opened(),
        "frozen": given_on(opened(), FreezeWallet(command_id="f", wallet_id=W)),
        "closed": given_on(opened(), CloseWallet(command_id="cl", wallet_id=W)),
    }[setup]
    c = command()
    s2, events = run(s, c)
    e = only(events)
    assert isinstance(e, CreditRejected)
    assert (e.reason, e.command_id, e.compensation) == (reason, c.command_id, c.compensation)
    assert s2.ledger == s.ledger


@pytest.mark.parametrize("status", ["frozen", "closed"])
def test_compensating_credit_is_accepted_on_frozen_or_closed_wallets_even_after_expiry(status):
    s = given_on(
        opened(),
        FreezeWallet(command_id="f", wallet_id=W)
        if status == "frozen"
        else CloseWallet(command_id="cl", wallet_id=W),
    )
    s, events = run(s, credit(40, compensation=True, expires_at=NOW - 10))
    e = only(events)
    assert isinstance(e, WalletCredited) and e.compensation
    assert s.ledger == 40


def test_overdraft_allows_debits_down_to_minus_the_limit_and_not_beyond():
    s, events = run(opened(balance=10, overdraft=50), debit(60))
    assert isinstance(only(events), WalletDebited)
    assert (s.ledger, s.available) == (-50, -50)
    _, events = run(s, debit(1))
    assert only(events).reason == Reason.INSUFFICIENT_FUNDS


# --- idempotency --------------------------------------------------------------------


def test_a_duplicate_command_emits_nothing_and_changes_nothing():
    c = debit(30)
    s, first = run(opened(balance=100), c)
    s2, again = run(s, c)
    assert len(first) == 1 and again == []
    assert s2 is s


def test_a_duplicate_of_a_rejected_command_is_also_ignored():
    c = debit(1000)
    s, first = run(opened(balance=100), c)
    s2 = given_on(s, credit(5000))
    assert only(first).reason == Reason.INSUFFICIENT_FUNDS
    assert decide(s2, c, NOW) == []


# --- holds --------------------------------------------------------------------------


def test_place_hold_reduces_available_not_ledger():
    s, events = run(opened(balance=100), hold("h1", 30))
    e = only(events)
    assert isinstance(e, HoldPlaced) and (e.ledger, e.available) == (100, 70)
    assert (s.ledger, s.available, s.held) == (100, 70, 30)


@pytest.mark.parametrize(
    ("setup", "command", "reason"),
    [
        ("none", lambda: hold("h", 10), "wallet_not_found"),
        ("funded", lambda: hold("h", 0), "invalid_amount"),
        ("funded", lambda: hold("h", 101), "insufficient_funds"),
        ("funded", lambda: hold("h", 10, expires_at=NOW), "expired"),
        ("held", lambda: hold("h", 10), "already_exists"),
        ("frozen", lambda: hold("h", 10), "wallet_frozen"),
        (
            "funded",
            lambda: PlaceHold(
                command_id=cid(),
                wallet_id=W,
                hold_id="h",
                amount=5,
                currency="EUR",
                expires_at=NOW + 5,
            ),
            "currency_mismatch",
        ),
    ],
)
def test_place_hold_rejections(setup, command, reason):
    s = {
        "none": WalletState(),
        "funded": opened(balance=100),
        "held": given_on(opened(balance=100), hold("h", 10)),
        "frozen": given_on(opened(balance=100), FreezeWallet(command_id="f", wallet_id=W)),
    }[setup]
    s2, events = run(s, command())
    e = only(events)
    assert isinstance(e, HoldRejected) and e.reason == reason
    assert s2.holds == s.holds


def test_holds_block_debits_of_the_held_money():
    s = given_on(opened(balance=100), hold("h1", 80))
    _, events = run(s, debit(30))
    assert only(events).reason == Reason.INSUFFICIENT_FUNDS


def test_partial_capture_moves_captured_money_out_and_releases_the_rest():
    s = given_on(opened(balance=100), hold("h1", 30))
    c = CaptureHold(
        command_id="cap",
        wallet_id=W,
        hold_id="h1",
        amount=20,
        counter_account="system:settlement:sim",
        transaction_id="t-h",
    )
    s, events = run(s, c)
    e = only(events)
    assert isinstance(e, HoldCaptured)
    assert (e.amount, e.released_amount, e.ledger, e.available) == (20, 10, 80, 80)
    assert e.postings == (
        Posting(account="wallet:w1", amount=-20, currency="USD"),
        Posting(account="system:settlement:sim", amount=20, currency="USD"),
    )
    assert (s.ledger, s.available, s.holds) == (80, 80, ())


def test_capture_is_allowed_on_a_frozen_wallet():
    s = given_on(opened(balance=100), hold("h1", 30), FreezeWallet(command_id="f", wallet_id=W))
    s, events = run(
        s,
        CaptureHold(
            command_id="cap",
            wallet_id=W,
            hold_id="h1",
            amount=30,
            counter_account="system:settlement:sim",
        ),
    )
    assert isinstance(only(events), HoldCaptured)
    assert s.ledger == 70


@pytest.mark.parametrize(
    ("amount", "hold_id", "reason"),
    [(31, "h1", "invalid_amount"), (0, "h1", "invalid_amount"), (5, "nope", "hold_not_found")],
)
def test_capture_rejections(amount, hold_id, reason):
    s = given_on(opened(balance=100), hold("h1", 30))
    s2, events = run(
        s,
        CaptureHold(
            command_id="cap", wallet_id=W, hold_id=hold_id, amount=amount, counter_account="x"
        ),
    )
    assert only(events) == HoldRejected(
        command_id="cap", wallet_id=W, transaction_id="", hold_id=hold_id, reason=reason
    )
    assert s2.ledger == 100 and s2.held == 30


def test_release_frees_the_hold():
    s = given_on(opened(balance=100), hold("h1", 30))
    s, events = run(s, ReleaseHold(command_id="r", wallet_id=W, hold_id="h1"))
    e = only(events)
    assert isinstance(e, HoldReleased) and (e.amount, e.ledger, e.available) == (30, 100, 100)
    _, events = run(s, ReleaseHold(command_id="r2", wallet_id=W, hold_id="h1"))
    assert only(events).reason == Reason.HOLD_NOT_FOUND


def test_hold_commands_on_an_unknown_wallet_are_rejected():
    _, events = run(None, ReleaseHold(command_id="r", wallet_id=W, hold_id="h1"))
    assert only(events).reason == Reason.WALLET_NOT_FOUND


def test_expire_holds_expires_only_due_holds():
    s = given_on(
        opened(balance=100),
        hold("h1", 10, expires_at=NOW + 100),
        hold("h2", 20, expires_at=NOW + 200),
    )
    s, events = run(s, ExpireHolds(command_id="x", wallet_id=W, now=NOW + 150), now=NOW)
    assert events == [
        HoldExpired(
            command_id="x",
            wallet_id=W,
            transaction_id="t-h",
            hold_id="h1",
            amount=10,
            currency="USD",
            ledger=100,
            available=80,
        )
    ]
    assert [h.hold_id for h in s.holds] == ["h2"]


def test_expire_holds_with_nothing_due_emits_nothing():
    s = given_on(opened(balance=100), hold("h1", 10))
    assert decide(s, ExpireHolds(command_id="x", wallet_id=W, now=NOW), NOW) == []


def test_due_holds_expire_before_any_command_so_available_is_never_stale():
    s = given_on(opened(balance=100), hold("h1", 100, expires_at=NOW + 10))
    later = NOW + 10
    s, events = run(s, debit(60), now=later)
    assert [type(e) for e in events] == [HoldExpired, WalletDebited]
    assert (s.ledger, s.available, s.holds) == (40, 40, ())


def test_capture_after_expiry_is_rejected_expired_and_the_money_is_released():
    s = given_on(opened(balance=100), hold("h1", 30, expires_at=NOW + 10))
    s, events = run(
        s,
        CaptureHold(command_id="cap", wallet_id=W, hold_id="h1", amount=30, counter_account="x"),
        now=NOW + 11,
    )
    assert [type(e) for e in events] == [HoldExpired, HoldRejected]
    assert events[1].reason == Reason.EXPIRED
    assert (s.ledger, s.available) == (100, 100)


# --- time, snapshots, serialization -------------------------------------------------


def test_now_may_be_an_aware_datetime():
    assert epoch_ms(datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)) == NOW
    _, events = run(opened(balance=100), debit(10, expires_at=NOW))
    assert only(events).reason == Reason.EXPIRED
    assert (
        decide(
            opened(balance=100),
            debit(10, expires_at=NOW + 1),
            datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        )[0].ledger
        == 90
    )
    with pytest.raises(ValueError):
        epoch_ms(datetime(2023, 1, 1))


def test_snapshot_round_trip_is_json_safe_and_exact():
    s = given_on(
        opened(balance=100, overdraft=20),
        hold("h1", 30),
        debit(10),
        FreezeWallet(command_id="f", wallet_id=W),
    )
    snap = to_snapshot(s)
    restored = from_snapshot(json.loads(json.dumps(snap)))
    assert restored == s
    assert to_snapshot(restored) == snap
    assert decide(restored, debit(5), NOW) != []
    assert decide(restored, FreezeWallet(command_id="f", wallet_id=W), NOW) == []


def _all_events() -> list[WalletEvent]:
    s = opened(balance=100)
    cmds: list[WalletCommand] = [
        debit(10),
        debit(10_000),
        credit(5, fee=1),
        credit(5, currency="EUR"),
        hold("h1", 10),
        hold("h1", 10),
        CaptureHold(command_id=cid(), wallet_id=W, hold_id="h1", amount=5, counter_account="x"),
        hold("h2", 10, expires_at=NOW + 1),
        ExpireHolds(command_id=cid(), wallet_id=W, now=NOW + 5),
        hold("h3", 10),
        ReleaseHold(command_id=cid(), wallet_id=W, hold_id="h3"),
        FreezeWallet(command_id=cid(), wallet_id=W),
        UnfreezeWallet(command_id=cid(), wallet_id=W),
        CloseWallet(command_id=cid(), wallet_id=W),
    ]
    out: list[WalletEvent] = [
        WalletOpened(command_id="o", wallet_id=W, owner_id="u", currency="USD", overdraft_limit=3)
    ]
    for c in cmds:
        s, events = run(s, c)
        out.extend(events)
    return [*out, WalletClosed(command_id="z", wallet_id=W)]


def test_every_event_type_round_trips_through_json():
    events = _all_events()
    assert {type(e).__name__ for e in events} >= {
        "WalletOpened",
        "WalletFrozen",
        "WalletUnfrozen",
        "WalletClosed",
        "WalletDebited",
        "WalletCredited",
        "DebitRejected",
        "CreditRejected",
        "HoldPlaced",
        "HoldCaptured",
        "HoldReleased",
        "HoldExpired",
        "HoldRejected",
        "CommandRejected",
    }
    for e in events:
        wire = json.loads(json.dumps(to_payload(e)))
        assert wire["type"] == type(e).__name__
        assert decode_event(wire) == e


def test_every_command_type_round_trips_through_json():
    samples = [
        OpenWallet(command_id="o", wallet_id=W, owner_id="u", currency="USD"),
        FreezeWallet(command_id="f", wallet_id=W, reason="r"),
        UnfreezeWallet(command_id="u", wallet_id=W),
        CloseWallet(command_id="c", wallet_id=W),
        debit(5, expires_at=NOW),
        replace(debit(5), then=credit(5, fee=1)),  # with its continuation
        credit(5, compensation=True, fee=2),
        hold("h", 1),
        CaptureHold(command_id="k", wallet_id=W, hold_id="h", amount=1, counter_account="x"),
        ReleaseHold(command_id="r", wallet_id=W, hold_id="h"),
        ExpireHolds(command_id="e", wallet_id=W, now=NOW),
    ]
    assert {type(c).__name__ for c in samples} == set(COMMAND_TYPES)
    for c in samples:
        assert decode_command(json.loads(json.dumps(to_payload(c)))) == c


def test_decoding_an_unknown_type_fails_loudly():
    with pytest.raises(ValueError):
        decode_event({"type": "Nope"})
    with pytest.raises(ValueError):
        decode_command({"command_id": "x"})
