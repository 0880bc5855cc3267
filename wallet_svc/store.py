"""``PgBalanceStore``: the balance read model in Postgres (schema ``wallets``), on asyncpg.

One batch = one transaction: the stored offsets of the batch's partitions are locked
first (``FOR UPDATE``), records below them are dropped (another instance applied them
during a rebalance), then one set-based statement per table, then the new offsets.
Replays therefore change nothing, even with two instances briefly on one partition.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from wallet_svc.projection import BatchRows, Record, filter_applied, project_batch, system_deltas

CONSUMER = "balance"

WALLET_COLUMNS = "id, owner_id, currency, status, overdraft_limit, ledger, available, created_at"

_INSERT_WALLETS = f"""
INSERT INTO wallets.wallets
    (id, owner_id, currency, status, overdraft_limit, ledger, available, created_at, updated_at)
SELECT u.id, u.owner_id, u.currency, 'active', u.overdraft_limit, 0, 0, u.at, u.at
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[])
    AS u(id, owner_id, currency, overdraft_limit, at)
ON CONFLICT (id) DO NOTHING
RETURNING {WALLET_COLUMNS}
"""

_UPDATE_WALLETS = """
UPDATE wallets.wallets w SET
    status = COALESCE(u.status, w.status),
    ledger = COALESCE(u.ledger, w.ledger),
    available = COALESCE(u.available, w.available),
    updated_at = GREATEST(w.updated_at, u.at)
FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[], $5::timestamptz[])
    AS u(id, status, ledger, available, at)
WHERE w.id = u.id
RETURNING w.id, w.owner_id, w.currency, w.status, w.overdraft_limit, w.ledger, w.available,
    w.created_at
"""

_INSERT_ENTRIES = """
INSERT INTO wallets.entries
    (event_id, wallet_id, transaction_id, kind, amount, currency, ledger_after,
     available_after, occurred_at)
SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::text[],
    $7::bigint[], $8::bigint[], $9::timestamptz[])
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""

_INSERT_POSTINGS = """
INSERT INTO wallets.postings (event_id, seq, account, amount, currency)
SELECT * FROM unnest($1::text[], $2::smallint[], $3::text[], $4::bigint[], $5::text[])
ON CONFLICT DO NOTHING
"""

_ADD_SYSTEM = """
INSERT INTO wallets.system_balances AS s (account, currency, shard, balance)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[])
ON CONFLICT (account, currency, shard) DO UPDATE SET balance = s.balance + EXCLUDED.balance
"""

_LOCK_OFFSETS = """
SELECT partition, next_offset FROM wallets.offsets
WHERE consumer = $1 AND topic = $2 AND partition = ANY($3::int[])
FOR UPDATE
"""

_SAVE_OFFSETS = """
INSERT INTO wallets.offsets AS o (consumer, topic, partition, next_offset)
SELECT $1, $2, u.partition, u.next_offset
FROM unnest($3::int[], $4::bigint[]) AS u(partition, next_offset)
ON CONFLICT (consumer, topic, partition)
DO UPDATE SET next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset)
"""


def asyncpg_dsn(dsn: str) -> str:
    """A SQLAlchemy URL (``postgresql+asyncpg://``) as a plain libpq DSN for asyncpg."""
    return dsn.replace("postgresql+asyncpg://", "postgresql://", 1)


@dataclass(slots=True)
class Applied:
    """What one batch wrote: its rows, the wallets it touched (final rows) and counts."""

    rows: BatchRows
    wallets: dict[str, dict[str, Any]]
    skipped: int
    inserted_entries: int


def wallet_row(rec: asyncpg.Record) -> dict[str, Any]:
    return {k: rec[k] for k in rec.keys()}  # noqa: SIM118 - asyncpg.Record is not a dict


class PgBalanceStore:
    """The read model's writer (projector side)."""

    def __init__(self, pool: asyncpg.Pool, topic: str, consumer: str = CONSUMER) -> None:
        self.pool = pool
        self.topic = topic
        self.consumer = consumer

    async def offsets(self, partitions: list[int]) -> dict[int, int]:
        """Stored next offsets of ``partitions`` (rows created at 0 when missing)."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO wallets.offsets (consumer, topic, partition, next_offset)
                   SELECT $1, $2, p, 0 FROM unnest($3::int[]) AS p ON CONFLICT DO NOTHING""",
                self.consumer, self.topic, partitions,
            )  # fmt: skip
            rows = await conn.fetch(
                "SELECT partition, next_offset FROM wallets.offsets "
                "WHERE consumer = $1 AND topic = $2 AND partition = ANY($3::int[])",
                self.consumer, self.topic, partitions,
            )  # fmt: skip
        return {r["partition"]: r["next_offset"] for r in rows}

    async def apply(
        self,
        records: list[Record],
        before_commit: Callable[[dict[str, dict[str, Any]]], Awaitable[None]] | None = None,
    ) -> Applied:
        """Apply one batch in one transaction (see the module doc).

        ``before_commit`` gets the touched wallets' final rows while the transaction is
        still open (the projector refreshes the cache there: if the commit is then lost,
        the cache shows values already committed in Kafka, and the replay rewrites them).
        """
        partitions = sorted({r.partition for r in records})
        async with self.pool.acquire() as conn, conn.transaction():
            locked = await conn.fetch(_LOCK_OFFSETS, self.consumer, self.topic, partitions)
            stored = {r["partition"]: r["next_offset"] for r in locked}
            fresh = filter_applied(records, stored)
            rows = project_batch(fresh)
            wallets, inserted = await _write(conn, rows)
            offs = sorted(rows.next_offsets.items())
            if offs:
                await conn.execute(
                    _SAVE_OFFSETS, self.consumer, self.topic,
                    [p for p, _ in offs], [o for _, o in offs],
                )  # fmt: skip
            if before_commit is not None:
                await before_commit(wallets)
        return Applied(rows, wallets, len(records) - len(fresh), inserted)


async def _write(
    conn: asyncpg.Connection, rows: BatchRows
) -> tuple[dict[str, dict[str, Any]], int]:
    wallets: dict[str, dict[str, Any]] = {}
    if rows.opened:
        cols = list(zip(*rows.opened, strict=True))
        for rec in await conn.fetch(_INSERT_WALLETS, *cols):
            wallets[str(rec["id"])] = wallet_row(rec)
    if rows.patches:
        ids = list(rows.patches)
        ps = [rows.patches[i] for i in ids]
        updated = await conn.fetch(
            _UPDATE_WALLETS, ids, [p.status for p in ps], [p.ledger for p in ps],
            [p.available for p in ps], [p.updated_at for p in ps],
        )  # fmt: skip
        for rec in updated:
            wallets[str(rec["id"])] = wallet_row(rec)
    inserted: set[str] = set()
    if rows.entries:
        cols = list(zip(*(e[:9] for e in rows.entries), strict=True))
        inserted = {r["event_id"] for r in await conn.fetch(_INSERT_ENTRIES, *cols)}
    postings = [
        (event_id, *p)
        for event_id, ps_ in rows.postings.items()
        if event_id in inserted
        for p in ps_
    ]
    if postings:
        await conn.execute(_INSERT_POSTINGS, *zip(*postings, strict=True))
    deltas = system_deltas(rows, inserted)
    if deltas:
        keys = list(deltas)
        await conn.execute(
            _ADD_SYSTEM, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
            [deltas[k] for k in keys],
        )  # fmt: skip
    return wallets, len(inserted)


class PgWalletReader:
    """The read model's queries (API side)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, wallet_id: str) -> dict[str, Any] | None:
        rec = await self.pool.fetchrow(
            f"SELECT {WALLET_COLUMNS} FROM wallets.wallets WHERE id = $1", wallet_id
        )
        return wallet_row(rec) if rec else None

    async def page(
        self, owner_id: str | None, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Wallets in id order (UUIDv7: creation order), ``owner_id`` None = everyone's."""
        rows = await self.pool.fetch(
            f"""SELECT {WALLET_COLUMNS} FROM wallets.wallets
                WHERE ($1::text IS NULL OR owner_id = $1) AND ($2::uuid IS NULL OR id > $2)
                ORDER BY id LIMIT $3""",
            owner_id, after, limit,
        )  # fmt: skip
        return [wallet_row(r) for r in rows]

    async def entries(
        self, wallet_id: str, before: tuple[datetime, int] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Entries newest first, each with its postings; ``before`` = (occurred_at, id)."""
        at, eid = before if before else (None, None)
        rows = await self.pool.fetch(
            """SELECT id, event_id, kind, amount, currency, transaction_id, ledger_after,
                      available_after, occurred_at
               FROM wallets.entries
               WHERE wallet_id = $1
                 AND ($2::timestamptz IS NULL OR (occurred_at, id) < ($2, $3::bigint))
               ORDER BY occurred_at DESC, id DESC LIMIT $4""",
            wallet_id, at, eid, limit,
        )  # fmt: skip
        out = [wallet_row(r) for r in rows]
        if out:
            postings = await self.pool.fetch(
                """SELECT event_id, account, amount, currency FROM wallets.postings
                   WHERE event_id = ANY($1::text[]) ORDER BY event_id, seq""",
                [e["event_id"] for e in out],
            )
            by_event: dict[str, list[dict[str, Any]]] = {}
            for p in postings:
                by_event.setdefault(p["event_id"], []).append(
                    {"account": p["account"], "amount": p["amount"], "currency": p["currency"]}
                )
            for e in out:
                e["postings"] = by_event.get(e["event_id"], [])
                e["transaction_id"] = e["transaction_id"] or None
        return out

    async def balance_at(self, wallet_id: str, as_of: datetime) -> tuple[int, int]:
        """(ledger, available) after the last entry at or before ``as_of`` (0, 0 if none)."""
        rec = await self.pool.fetchrow(
            """SELECT ledger_after, available_after FROM wallets.entries
               WHERE wallet_id = $1 AND occurred_at <= $2
               ORDER BY occurred_at DESC, id DESC LIMIT 1""",
            wallet_id, as_of,
        )  # fmt: skip
        return (rec["ledger_after"], rec["available_after"]) if rec else (0, 0)
