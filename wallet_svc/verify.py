"""``python -m wallet_svc.verify``: replay the log and check the ledger's invariants.

Reads ``wallet-events``, ``transaction-events`` and ``payment-events`` from offset 0
(``read_committed``, no consumer group), rebuilds every wallet with the domain ``evolve``
and checks:

1. conservation: every event's postings sum to zero per currency, and so does the sum of
   all postings (wallets and system accounts) per currency;
2. no wallet below ``-overdraft_limit`` and ``available <= ledger`` after every event, and
   the balances an event carries equal the replayed ones;
3. one effect per command: no two effect events share a ``command_id``, no event id is
   repeated, no hold is settled (captured/released/expired) twice;
4. every ``TransferRequested``/``DepositRequested``/``WithdrawalRequested`` (and merchant
   ``PaymentRequested``/``RefundRequested``) has exactly one terminal event;
5. every deposit and withdrawal through the provider: its payment events in one partition
   in its saga's order, the money charged, credited, held, paid out and captured agreeing
   with how it ended, nothing held for a terminal withdrawal; a completed payment to a
   merchant credited once, its completed refunds never above it (``wallet_svc.verify_payments``);
6. the read model equals the replay, at the cut given by the projector's stored offsets
   (read in the same snapshot): a SHA-256 over the sorted ``wallet_id:ledger:available:status``
   lines, system-account balances per (account, currency), and the number of entries;
7. every transfer's and payment's fee reached the fee account once if it completed, never
   if it did not (``wallet_svc.verify_fees``).

``await verify(settings, wait=30)`` first waits (up to ``wait`` seconds) for the projector
to have applied everything in the log; the result is a :class:`Report`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.db import make_engine
from common.kafka.consumer import topic_partitions
from common.settings import Settings
from common.topics import PAYMENT_EVENTS, TRANSACTION_EVENTS, WALLET_EVENTS
from contracts.envelope import Envelope
from contracts.message import Message
from contracts.payment import decode_payment_event
from contracts.transaction import TransactionEvent, decode_transaction_event
from contracts.wallet import HoldCaptured, HoldExpired, HoldReleased, WalletEvent, decode_event
from wallet_svc.domain import WalletState, evolve
from wallet_svc.projection import MONEY_EVENTS, SYSTEM_PREFIX, MoneyEvent, postings_of
from wallet_svc.store import CONSUMER
from wallet_svc.verify_fees import check_fees
from wallet_svc.verify_payments import check_payments

EFFECTS = frozenset(MONEY_EVENTS - {"HoldExpired"})
SAGA_STARTS = frozenset(
    {
        "TransferRequested",
        "DepositRequested",
        "WithdrawalRequested",
        "PaymentRequested",
        "RefundRequested",
    }
)
SAGA_ENDS = frozenset(
    {
        "TransferCompleted",
        "TransferFailed",
        "TransferReversed",
        "TransferReversalFailed",
        "DepositCompleted",
        "DepositFailed",
        "WithdrawalCompleted",
        "WithdrawalFailed",
        "WithdrawalDebitFailed",
        "PaymentCompleted",
        "PaymentFailed",
        "PaymentCancelled",
        "RefundCompleted",
        "RefundFailed",
    }
)
MAX_LISTED = 50
Settling = HoldCaptured | HoldReleased | HoldExpired


@dataclass
class Report:
    """The verifier's verdict: ``ok`` when ``problems`` is empty."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    replay_checksum: str = ""
    read_model_checksum: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        lines = [f"wallet ledger verification: {'OK' if self.ok else 'FAILED'}"]
        lines += [f"  {k}: {v}" for k, v in self.counts.items()]
        lines.append(f"  replay checksum:     {self.replay_checksum}")
        lines.append(f"  read model checksum: {self.read_model_checksum}")
        for w in self.warnings[:MAX_LISTED]:
            lines.append(f"  warning {w}")
        for p in self.problems[:MAX_LISTED]:
            lines.append(f"  VIOLATION {p}")
        if len(self.problems) > MAX_LISTED:
            lines.append(f"  ... and {len(self.problems) - MAX_LISTED} more")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Msg:
    """One record of the log, read through the contract: its envelope and message, or
    None for what the contract does not declare (the projector dead-letters it)."""

    partition: int
    offset: int
    envelope: Envelope | None
    message: Message | None = None  # what ``decode`` made of the payload


def read(
    partition: int, offset: int, raw: bytes | None, decode: Callable[[Mapping[str, Any]], Message]
) -> Msg:
    """A record as the verifier sees it (see :class:`Msg`)."""
    try:
        envelope = Envelope.from_bytes(raw or b"")
    except ValueError:
        return Msg(partition, offset, None)
    try:
        return Msg(partition, offset, envelope, decode(envelope.payload))
    except ValueError:
        return Msg(partition, offset, envelope)


async def read_topic(
    bootstrap: str,
    topic: str,
    decode: Callable[[Mapping[str, Any]], Message],
    idle_s: float = 3.0,
    stop_at: dict[int, int] | None = None,
) -> list[Msg]:
    """Every committed message of ``topic`` up to the end offsets taken at the start
    (or ``stop_at``), in partition order, read with ``decode`` (:func:`read`)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        isolation_level="read_committed", auto_offset_reset="earliest",
    )  # fmt: skip
    await consumer.start()
    out: list[Msg] = []
    try:
        tps = [TopicPartition(topic, p) for p in await topic_partitions(bootstrap, topic)]
        if not tps:
            return out
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = stop_at or {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
        idle_since = time.monotonic()
        while True:
            pending = [tp for tp in tps if await consumer.position(tp) < ends.get(tp.partition, 0)]
            if not pending or time.monotonic() - idle_since > idle_s:
                break
            batch = await consumer.getmany(*pending, timeout_ms=300, max_records=5000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset < ends.get(tp.partition, 0):
                        out.append(read(tp.partition, r.offset, r.value, decode))
                if records:
                    idle_since = time.monotonic()
    finally:
        await consumer.stop()
    return out


def checksum(balances: dict[str, tuple[int, int, str]]) -> str:
    lines = sorted(f"{w}:{led}:{av}:{st}" for w, (led, av, st) in balances.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class Replay:
    """The log applied in order: wallet states, system balances, invariant violations."""

    def __init__(self) -> None:
        self.wallets: dict[str, WalletState] = {}
        self.system: dict[tuple[str, str], int] = defaultdict(int)
        self.money_events = 0
        self.events = 0
        self.undecodable = 0
        self.seen: set[str] = set()

    def apply(self, m: Msg, problems: list[str] | None) -> None:
        env, event = m.envelope, m.message
        if env is None or not isinstance(event, WalletEvent):
            self.undecodable += 1  # dead-lettered by the projector; reported as a warning
            return
        if env.event_id in self.seen:
            return  # a repeated event id (check_log reports it); the projection skips it too
        self.seen.add(env.event_id)
        self.events += 1
        wid = event.wallet_id
        state = evolve(self.wallets.get(wid, WalletState()), event)
        self.wallets[wid] = state
        if not isinstance(event, MoneyEvent):
            return
        self.money_events += 1
        for p in postings_of(event):
            if p.account.startswith(SYSTEM_PREFIX):
                self.system[(p.account, p.currency)] += p.amount
        if problems is None:
            return
        if (event.ledger, event.available) != (state.ledger, state.available):
            problems.append(
                f"balance: event {env.event_id} carries {event.ledger}/{event.available}, "
                f"replay gives {state.ledger}/{state.available} for wallet {wid}"
            )
        if state.available < -state.overdraft_limit:
            problems.append(
                f"overdraft: wallet {wid} available {state.available} below "
                f"-{state.overdraft_limit} after {env.event_id}"
            )
        if state.available > state.ledger:
            problems.append(f"holds: wallet {wid} available {state.available} > ledger")

    def balances(self) -> dict[str, tuple[int, int, str]]:
        return {
            w: (s.ledger, s.available, s.status.value)
            for w, s in self.wallets.items()
            if s.status.value != "absent"
        }


def check_log(msgs: list[Msg], problems: list[str]) -> dict[str, int]:
    """Invariants 1 and 3 over the whole wallet log; returns totals by currency."""
    totals: dict[str, int] = defaultdict(int)
    seen_ids: set[str] = set()
    effects: dict[str, str] = {}
    settled: set[tuple[str, str]] = set()
    for m in msgs:
        event = m.message
        if m.envelope is None or not isinstance(event, WalletEvent):
            continue  # not a wallet event as the contract declares it (dead-lettered)
        eid, kind = m.envelope.event_id, type(event).__name__
        if eid in seen_ids:
            problems.append(f"duplicate event id {eid} at {m.partition}:{m.offset}")
            continue
        seen_ids.add(eid)
        per_event: dict[str, int] = defaultdict(int)
        for p in postings_of(event):
            per_event[p.currency] += p.amount
            totals[p.currency] += p.amount
        if any(per_event.values()):
            problems.append(f"unbalanced postings in event {eid}: {dict(per_event)}")
        cid = event.command_id
        if kind in EFFECTS:
            if cid in effects:
                problems.append(f"command {cid} has two effects: {effects[cid]} and {eid}")
            effects[cid] = eid
        if isinstance(event, Settling):
            hold = (event.wallet_id, event.hold_id)
            if hold in settled:
                problems.append(f"hold {hold[1]} of wallet {hold[0]} settled twice ({eid})")
            settled.add(hold)
    for currency, total in totals.items():
        if total:
            problems.append(f"conservation: postings in {currency} sum to {total}, not 0")
    return totals


def check_sagas(msgs: list[Msg], problems: list[str]) -> int:
    """Invariant 4: each saga started has one terminal event; returns the number of
    sagas started. A record that repeats an event id is that event again (a retried send
    or a replayed saga batch writes one; every consumer ignores it), counted once, as
    the payment and fee checks count."""
    started: set[str] = set()
    ends: Counter[str] = Counter()
    seen: set[str] = set()
    for m in msgs:
        event = m.message
        if m.envelope is None or not isinstance(event, TransactionEvent):
            continue  # not a transaction event as the contract declares it
        if m.envelope.event_id in seen:
            continue
        seen.add(m.envelope.event_id)
        kind, tid = type(event).__name__, event.transaction_id
        if kind in SAGA_STARTS:
            started.add(tid)
        elif kind in SAGA_ENDS:
            ends[tid] += 1
    for tid in sorted(started):
        if ends[tid] != 1:
            problems.append(f"saga {tid} has {ends[tid]} terminal events (expected 1)")
    return len(started)


_OFFSETS = text(
    "SELECT partition, next_offset FROM wallets.offsets WHERE consumer = :c AND topic = :t"
)


async def _stored_offsets(conn: AsyncConnection) -> dict[int, int]:
    rows = await conn.execute(_OFFSETS, {"c": CONSUMER, "t": WALLET_EVENTS})
    return {r.partition: r.next_offset for r in rows}


async def _wait_for_projector(engine: AsyncEngine, last: dict[int, int], wait: float) -> bool:
    deadline = time.monotonic() + wait
    while True:
        async with engine.connect() as conn:
            stored = await _stored_offsets(conn)
        if all(stored.get(p, 0) > off for p, off in last.items()):
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)


async def _read_model(engine: AsyncEngine) -> dict[str, Any]:
    """One consistent snapshot of the read model and its offsets."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with conn.begin():
            offsets = await _stored_offsets(conn)
            wallets = await conn.execute(
                text("SELECT id, ledger, available, status FROM wallets.wallets")
            )
            system = await conn.execute(
                text(
                    "SELECT account, currency, sum(balance)::bigint AS balance "
                    "FROM wallets.system_balances GROUP BY account, currency"
                )
            )
            entries = (await conn.execute(text("SELECT count(*) FROM wallets.entries"))).scalar()
    return {
        "offsets": offsets,
        "balances": {str(r.id): (r.ledger, r.available, r.status) for r in wallets},
        "system": {(r.account, r.currency): r.balance for r in system},
        "entries": entries,
    }


def compare_read_model(replay: Replay, model: dict[str, Any], report: Report) -> None:
    """Invariant 6: the read model at its cut equals the replay of the log up to it."""
    mine, theirs = replay.balances(), model["balances"]
    report.replay_checksum = checksum(mine)
    report.read_model_checksum = checksum(theirs)
    if report.replay_checksum != report.read_model_checksum:
        report.problems.append("read model checksum differs from the replay")
        for w in sorted(set(mine) | set(theirs)):
            if mine.get(w) != theirs.get(w):
                report.problems.append(
                    f"wallet {w}: read model {theirs.get(w)} vs replay {mine.get(w)}"
                )
    replay_system = {k: v for k, v in replay.system.items() if v}
    model_system = {k: v for k, v in model["system"].items() if v}
    for key in sorted(set(replay_system) | set(model_system)):
        if replay_system.get(key, 0) != model_system.get(key, 0):
            report.problems.append(
                f"system account {key[0]} {key[1]}: read model {model_system.get(key, 0)} "
                f"vs replay {replay_system.get(key, 0)}"
            )
    if model["entries"] != replay.money_events:
        report.problems.append(
            f"entries: read model has {model['entries']}, log has {replay.money_events}"
        )


async def verify(settings: Settings, wait: float = 30.0) -> Report:
    """Replay the log and check every invariant (see the module doc)."""
    report = Report()
    wallet_msgs = await read_topic(settings.kafka_bootstrap, WALLET_EVENTS, decode_event)
    last: dict[int, int] = {}
    for m in wallet_msgs:
        last[m.partition] = max(last.get(m.partition, -1), m.offset)
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    try:
        if not await _wait_for_projector(engine, last, wait):
            report.problems.append(f"projector has not applied the whole log within {wait}s")
        model = await _read_model(engine)
    finally:
        await engine.dispose()
    cut = model["offsets"]
    if any(off > last.get(p, -1) + 1 for p, off in cut.items()):
        # the projector moved past what was read: read again up to its cut
        wallet_msgs = await read_topic(
            settings.kafka_bootstrap, WALLET_EVENTS, decode_event, stop_at=cut
        )
    totals = check_log(wallet_msgs, report.problems)
    full, at_cut = Replay(), Replay()
    for m in wallet_msgs:
        full.apply(m, report.problems)
        if m.offset < cut.get(m.partition, 0):
            at_cut.apply(m, None)
    tx_msgs = await read_topic(
        settings.kafka_bootstrap, TRANSACTION_EVENTS, decode_transaction_event
    )
    sagas = check_sagas(tx_msgs, report.problems)
    payment_msgs = await read_topic(settings.kafka_bootstrap, PAYMENT_EVENTS, decode_payment_event)
    payments = check_payments(tx_msgs, payment_msgs, wallet_msgs, report.problems, report.warnings)
    fees = check_fees(tx_msgs, wallet_msgs, report.problems)
    compare_read_model(at_cut, model, report)
    if full.undecodable:
        report.warnings.append(f"{full.undecodable} undecodable messages (dead-lettered, skipped)")
    report.counts = {
        "wallet events": len(wallet_msgs),
        "money events": full.money_events,
        "wallets": len(full.balances()),
        "entries in read model": model["entries"],
        "transaction events": len(tx_msgs),
        "sagas": sagas,
        "payment events": len(payment_msgs),
        **payments,
        "fees moved": fees,
        "currencies": len(totals),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description="Replay wallet-events and check invariants.")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to await the projector")
    args = parser.parse_args()
    report = asyncio.run(verify(Settings(service_name="wallet_verify"), wait=args.wait))
    print(report.format())
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
