"""Property tests: random command sequences over a few wallets keep every invariant."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.wallet import (
    CaptureHold,
    CloseWallet,
    CreditWallet,
    DebitWallet,
    ExpireHolds,
    FreezeWallet,
    OpenWallet,
    PlaceHold,
    ReleaseHold,
    UnfreezeWallet,
    WalletCommand,
    WalletEvent,
)
from wallet_svc.domain import (
    WalletState,
    decide,
    evolve,
    from_snapshot,
    to_snapshot,
    wallet_account,
)

WALLETS = {"a": "USD", "b": "USD", "c": "EUR"}
KINDS = (
    ["debit"] * 6 + ["credit"] * 5 + ["comp"] * 2 + ["hold"] * 5 + ["capture"] * 4
    + ["release", "expire", "freeze", "unfreeze", "close", "open"] + ["dup"] * 3
)  # fmt: skip
COUNTERS = ["system:in_transit", "system:settlement:sim", "system:fees"]

step = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(KINDS),
        "wallet": st.sampled_from(sorted(WALLETS)),
        "amount": st.one_of(*[st.integers(1, 40)] * 4, st.integers(1, 300), st.integers(-1, 0)),
        "other_currency": st.sampled_from([False] * 9 + [True]),
        "hold": st.integers(min_value=0, max_value=3),
        "dt": st.one_of(st.just(0), st.integers(0, 50), st.integers(0, 1_000)),
        "ttl": st.one_of(st.integers(-100, 10), st.integers(1, 20_000)),
        "fee": st.integers(min_value=0, max_value=3),
        "overdraft": st.sampled_from([0, 0, 50]),
        "counter": st.sampled_from(COUNTERS),
        "pick": st.integers(min_value=0, max_value=10_000),
    }
)


@dataclass
class World:
    now: int = 1_000_000
    states: dict[str, WalletState] = field(default_factory=dict)
    log: dict[str, list[WalletEvent]] = field(default_factory=dict)
    sent: list[WalletCommand] = field(default_factory=list)
    balances: Counter[tuple[str, str]] = field(default_factory=Counter)


def build(world: World, i: int, d: dict) -> WalletCommand:
    w, amount, cid = d["wallet"], d["amount"], f"cmd-{i}"
    currency = ("EUR" if WALLETS[w] == "USD" else "USD") if d["other_currency"] else WALLETS[w]
    hold_id, expires = f"h{d['hold']}", world.now + d["ttl"]
    live = world.states[w].holds if w in world.states else ()
    if live and d["kind"] in ("capture", "release") and d["hold"] > 0:
        hold_id = live[d["hold"] % len(live)].hold_id  # usually target a live hold
    money = {"command_id": cid, "wallet_id": w, "transaction_id": f"t{i}", "amount": amount}
    match d["kind"]:
        case "open":
            return OpenWallet(command_id=cid, wallet_id=w, owner_id="u", currency=WALLETS[w],
                              overdraft_limit=d["overdraft"])  # fmt: skip
        case "debit":
            return DebitWallet(**money, currency=currency, counter_account=d["counter"],
                               expires_at=expires)  # fmt: skip
        case "credit" | "comp":
            return CreditWallet(**money, currency=currency, counter_account=d["counter"],
                                expires_at=expires, compensation=d["kind"] == "comp",
                                fee=d["fee"])  # fmt: skip
        case "hold":
            return PlaceHold(command_id=cid, wallet_id=w, hold_id=hold_id, amount=amount,
                             currency=currency, expires_at=expires)  # fmt: skip
        case "capture":
            return CaptureHold(command_id=cid, wallet_id=w, hold_id=hold_id, amount=amount,
                               counter_account=d["counter"])  # fmt: skip
        case "release":
            return ReleaseHold(command_id=cid, wallet_id=w, hold_id=hold_id)
        case "expire":
            return ExpireHolds(command_id=cid, wallet_id=w, now=world.now)
        case "freeze":
            return FreezeWallet(command_id=cid, wallet_id=w)
        case "unfreeze":
            return UnfreezeWallet(command_id=cid, wallet_id=w)
        case "close":
            return CloseWallet(command_id=cid, wallet_id=w)
    return (
        world.sent[d["pick"] % len(world.sent)]
        if world.sent
        else build(world, i, {**d, "kind": "open"})
    )


def check_event(world: World, state: WalletState, event: WalletEvent) -> WalletState:
    """Apply one event and assert the per-event invariants."""
    per_currency: Counter[str] = Counter()
    for p in getattr(event, "postings", ()):
        per_currency[p.currency] += p.amount
        world.balances[(p.account, p.currency)] += p.amount
    assert all(v == 0 for v in per_currency.values()), event
    state = evolve(state, event)
    if hasattr(event, "ledger"):
        assert (event.ledger, event.available) == (state.ledger, state.available), event
    return state


def check_state(world: World, s: WalletState) -> None:
    assert s.available <= s.ledger
    assert s.ledger >= -s.overdraft_limit
    assert s.available >= -s.overdraft_limit
    if s.currency:
        assert world.balances[(wallet_account(s.wallet_id), s.currency)] == s.ledger


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([0, 50]), min_size=3, max_size=3),
    st.lists(step, min_size=10, max_size=80),
)
def test_random_command_sequences_keep_every_invariant(overdrafts, steps):
    world = World()
    opens = [
        {**steps[0], "kind": "open", "wallet": w, "overdraft": o}
        for w, o in zip(sorted(WALLETS), overdrafts, strict=True)
    ]
    funding = [
        {**steps[0], "kind": "credit", "wallet": w, "amount": 100, "other_currency": False,
         "ttl": 1, "counter": "system:settlement:sim"}
        for w in sorted(WALLETS)
    ]  # fmt: skip
    for i, d in enumerate(opens + funding + steps):
        world.now += d["dt"]
        command = build(world, i, d)
        w = command.wallet_id
        before = world.states.get(w, WalletState())
        duplicate = command.command_id in before.processed
        events = decide(before, command, world.now)
        world.sent.append(command)
        if duplicate:
            assert events == []
        s = before
        for e in events:
            assert (e.command_id, e.wallet_id) == (command.command_id, w)
            s = check_event(world, s, e)
        world.states[w] = s
        world.log.setdefault(w, []).extend(events)
        check_state(world, s)

    for currency in ("USD", "EUR"):
        assert sum(v for (_, c), v in world.balances.items() if c == currency) == 0
    for w, s in world.states.items():
        replayed = WalletState()
        for e in world.log.get(w, []):
            replayed = evolve(replayed, e)
        assert replayed == s
        assert from_snapshot(json.loads(json.dumps(to_snapshot(s)))) == s
