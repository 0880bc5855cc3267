"""Balance projection (pure): a batch of real wallet-event envelopes -> the rows to write."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from contracts.envelope import Envelope
from contracts.wallet import (
    CaptureHold,
    CreditWallet,
    DebitWallet,
    FreezeWallet,
    HoldPlaced,
    HoldReleased,
    OpenWallet,
    PlaceHold,
    WalletCommand,
    command_envelope,
)
from wallet_svc.domain import (
    WalletState,
    decide,
    evolve,
)
from wallet_svc.projection import (
    Record,
    check_envelope,
    entry_amount,
    project_batch,
    system_deltas,
)
from wallet_svc.wire import event_envelopes

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


class Log:
    """Decide commands in order and keep their events as the projector reads them from the
    wire (``check_envelope``)."""

    def __init__(self) -> None:
        self.states: dict[str, WalletState] = {}
        self.records: list[Record] = []

    def run(self, command: WalletCommand, partition: int = 0) -> list[Envelope]:
        state = self.states.get(command.wallet_id)
        events = decide(state, command, NOW)
        for e in events:
            state = evolve(state or WalletState(), e)
        if state is not None:
            self.states[command.wallet_id] = state
        cause = command_envelope(command, "test")
        out = []
        for env in event_envelopes(events, cause, NOW):
            envelope, event = check_envelope(env.to_bytes())
            self.records.append(Record(partition, len(self.records), envelope, event))
            out.append(envelope)
        return out


def _wallet() -> str:
    return str(uuid.uuid4())


def test_open_credit_debit_last_event_wins_and_entries_are_signed() -> None:
    # given a wallet opened, credited 1000 from a provider and debited 300 to in-transit
    log, w = Log(), _wallet()
    log.run(OpenWallet(command_id="o", wallet_id=w, owner_id="u1", currency="USD"))
    log.run(
        CreditWallet(command_id="c", wallet_id=w, transaction_id="t1", amount=1000,
                     currency="USD", counter_account="system:settlement:sim")
    )  # fmt: skip
    log.run(
        DebitWallet(command_id="d", wallet_id=w, transaction_id="t2", amount=300,
                    currency="USD", counter_account="system:in_transit")
    )  # fmt: skip
    # when the batch is projected
    rows = project_batch(log.records)
    # then one wallet is opened, its final balances are the last event's, entries are signed
    assert [(o[0], o[1], o[2], o[3]) for o in rows.opened] == [(w, "u1", "USD", 0)]
    patch = rows.patches[w]
    assert (patch.ledger, patch.available, patch.status) == (700, 700, None)
    assert [(e[3], e[4], e[6], e[7]) for e in rows.entries] == [
        ("WalletCredited", 1000, 1000, 1000),
        ("WalletDebited", -300, 700, 700),
    ]
    assert all(e[2] in ("t1", "t2") for e in rows.entries)
    # and each money event's postings are kept in order
    credited = rows.entries[0][0]
    assert rows.postings[credited] == [
        (0, "system:settlement:sim", -1000, "USD"),
        (1, f"wallet:{w}", 1000, "USD"),
    ]


def test_system_account_deltas_are_summed_per_account_and_shard() -> None:
    # given credits on two partitions from the same settlement account
    log, a, b = Log(), _wallet(), _wallet()
    for w, part in ((a, 0), (b, 3)):
        log.run(OpenWallet(command_id=f"o{w}", wallet_id=w, owner_id="u", currency="EUR"), part)
        for i in range(2):
            log.run(
                CreditWallet(command_id=f"c{w}{i}", wallet_id=w, transaction_id="t", amount=50,
                             currency="EUR", counter_account="system:settlement:sim", fee=5)
            , part)  # fmt: skip
    # when projected
    deltas = system_deltas(project_batch(log.records))
    # then each shard (partition) holds its own delta; wallets are not system accounts
    assert deltas == {
        ("system:settlement:sim", "EUR", 0): -110,
        ("system:settlement:sim", "EUR", 3): -110,
        ("system:fees", "EUR", 0): 10,
        ("system:fees", "EUR", 3): 10,
    }


def test_only_inserted_entries_count_toward_system_deltas() -> None:
    log, w = Log(), _wallet()
    log.run(OpenWallet(command_id="o", wallet_id=w, owner_id="u", currency="USD"))
    log.run(
        CreditWallet(command_id="c", wallet_id=w, transaction_id="t", amount=10,
                     currency="USD", counter_account="system:x")
    )  # fmt: skip
    assert system_deltas(project_batch(log.records), inserted=set()) == {}


def test_holds_move_available_only_and_capture_moves_the_ledger() -> None:
    log, w = Log(), _wallet()
    log.run(OpenWallet(command_id="o", wallet_id=w, owner_id="u", currency="USD"))
    log.run(
        CreditWallet(command_id="c", wallet_id=w, transaction_id="t", amount=500,
                     currency="USD", counter_account="system:settlement:sim")
    )  # fmt: skip
    far = int(NOW.timestamp() * 1000) + 60_000
    log.run(
        PlaceHold(command_id="h", wallet_id=w, hold_id="h1", amount=200, currency="USD",
                  expires_at=far)
    )  # fmt: skip
    log.run(
        CaptureHold(command_id="cap", wallet_id=w, hold_id="h1", amount=150,
                    counter_account="system:payouts")
    )  # fmt: skip
    rows = project_batch(log.records)
    kinds = [(e[3], e[4], e[6], e[7]) for e in rows.entries]
    assert kinds == [
        ("WalletCredited", 500, 500, 500),
        ("HoldPlaced", -200, 500, 300),
        ("HoldCaptured", -150, 350, 350),
    ]
    assert rows.patches[w].ledger == 350 and rows.patches[w].available == 350


def test_rejections_and_status_events_change_no_balance_but_notify() -> None:
    log, w = Log(), _wallet()
    log.run(OpenWallet(command_id="o", wallet_id=w, owner_id="u", currency="USD"))
    log.run(FreezeWallet(command_id="f", wallet_id=w, reason="kyc"))
    log.run(
        DebitWallet(command_id="d", wallet_id=w, transaction_id="t", amount=1,
                    currency="USD", counter_account="system:x")
    )  # fmt: skip
    rows = project_batch(log.records)
    assert rows.entries == [] and rows.postings == {}
    assert rows.patches[w].status == "frozen" and rows.patches[w].ledger is None
    assert [(n["key"], n["type"], n["reason"]) for n in rows.notices] == [
        ("o", "WalletOpened", None),
        ("f", "WalletFrozen", "kyc"),
        ("d", "DebitRejected", "wallet_frozen"),
    ]


def test_expired_holds_do_not_notify_before_the_commands_own_event() -> None:
    # given a hold that expired when the next debit was decided (same command id)
    log, w = Log(), _wallet()
    log.run(OpenWallet(command_id="o", wallet_id=w, owner_id="u", currency="USD"))
    log.run(
        CreditWallet(command_id="c", wallet_id=w, transaction_id="t", amount=100,
                     currency="USD", counter_account="system:s")
    )  # fmt: skip
    past = int(NOW.timestamp() * 1000)  # expires_at <= now: expired at the next decision
    log.states[w] = evolve(
        log.states[w],
        decide(
            log.states[w],
            PlaceHold(command_id="h", wallet_id=w, hold_id="h1", amount=10, currency="USD",
                      expires_at=past),
            past - 10,
        )[0],
    )  # fmt: skip
    out = log.run(
        DebitWallet(command_id="d", wallet_id=w, transaction_id="t", amount=5,
                    currency="USD", counter_account="system:s")
    )  # fmt: skip
    assert [e.type for e in out] == ["HoldExpired", "WalletDebited"]
    rows = project_batch(log.records)
    assert [n["type"] for n in rows.notices if n["key"] == "d"] == ["WalletDebited"]
    assert [e[3] for e in rows.entries][-2:] == ["HoldExpired", "WalletDebited"]


@pytest.mark.parametrize(
    "envelope",
    [
        [],
        {"type": "WalletOpened", "producer": "p", "key": "k", "payload": {}},
        {"type": "WalletDebited", "producer": "p", "key": "k",
         "payload": {"type": "WalletDebited", "command_id": "c", "wallet_id": str(uuid.uuid4())}},
        {"type": "WalletFrozen", "producer": "p", "key": "k",
         "payload": {"type": "WalletFrozen", "command_id": "c", "wallet_id": "not-a-uuid"}},
    ],
)  # fmt: skip
def test_poison_is_refused(envelope: Any) -> None:
    with pytest.raises(ValueError):
        check_envelope(orjson.dumps(envelope))
    with pytest.raises(ValueError):
        check_envelope(b"not json")


def test_entry_amount_without_postings_follows_available() -> None:
    hold: dict[str, Any] = {"command_id": "c", "wallet_id": str(uuid.uuid4()),
                            "transaction_id": "t", "hold_id": "h", "amount": 40,
                            "currency": "USD", "ledger": 0, "available": 0}  # fmt: skip
    assert entry_amount(HoldReleased(**hold)) == 40
    assert entry_amount(HoldPlaced(**hold, expires_at=0)) == -40


def test_a_type_the_projection_does_not_know_passes_and_changes_nothing() -> None:
    future = Envelope(type="WalletRenamed", producer="wallet_svc", key="w",
                      payload={"type": "WalletRenamed", "wallet_id": "w"})  # fmt: skip
    envelope, event = check_envelope(future.to_bytes())
    assert envelope == future and event is None
    rows = project_batch([Record(0, 0, envelope, event)])
    assert (rows.opened, rows.patches, rows.entries, rows.notices) == ([], {}, [], [])
