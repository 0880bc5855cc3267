"""The balance read model in Postgres (schema ``wallets``): its writer and its reader.

``PgBalanceStore`` writes one batch of wallet-events with one set-based statement per
table, inside the transaction the projector's tracked consumer (``common.kafka.tracked``)
opened and stores the batch's offsets in (``wallets.offsets``, consumer ``balance``).
Entries are keyed by event id, so even a replay that slipped past the offsets changes
nothing. ``PgWalletReader`` answers the API's queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wallet_svc.projection import BatchRows, Record, project_batch, system_deltas

CONSUMER = "balance"
SCHEMA = "wallets"
OFFSETS = f"{SCHEMA}.offsets"
# the tables the projector writes (with its offsets): what a rebuild makes again
READ_MODEL_TABLES = ("wallets", "entries", "postings", "system_balances", "offsets")

WALLET_COLUMNS = "id, owner_id, currency, status, overdraft_limit, ledger, available, created_at"

_INSERT_WALLETS = (
    """
INSERT INTO {s}.wallets
    (id, owner_id, currency, status, overdraft_limit, ledger, available, created_at, updated_at)
SELECT u.id, u.owner_id, u.currency, 'active', u.overdraft_limit, 0, 0, u.at, u.at
FROM unnest(CAST(:ids AS uuid[]), CAST(:owners AS text[]), CAST(:currencies AS text[]),
    CAST(:limits AS bigint[]), CAST(:ats AS timestamptz[]))
    AS u(id, owner_id, currency, overdraft_limit, at)
ON CONFLICT (id) DO NOTHING
RETURNING """
    + WALLET_COLUMNS
)

_UPDATE_WALLETS = """
UPDATE {s}.wallets w SET
    status = COALESCE(u.status, w.status),
    ledger = COALESCE(u.ledger, w.ledger),
    available = COALESCE(u.available, w.available),
    updated_at = GREATEST(w.updated_at, u.at)
FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:ledgers AS bigint[]),
    CAST(:availables AS bigint[]), CAST(:ats AS timestamptz[]))
    AS u(id, status, ledger, available, at)
WHERE w.id = u.id
RETURNING w.id, w.owner_id, w.currency, w.status, w.overdraft_limit, w.ledger, w.available,
    w.created_at
"""

_ENTRY_COLUMNS = ("event_ids", "wallet_ids", "transaction_ids", "kinds", "amounts",
                  "currencies", "ledgers", "availables", "ats")  # fmt: skip
_INSERT_ENTRIES = """
INSERT INTO {s}.entries
    (event_id, wallet_id, transaction_id, kind, amount, currency, ledger_after,
     available_after, occurred_at)
SELECT * FROM unnest(CAST(:event_ids AS text[]), CAST(:wallet_ids AS uuid[]),
    CAST(:transaction_ids AS text[]), CAST(:kinds AS text[]), CAST(:amounts AS bigint[]),
    CAST(:currencies AS text[]), CAST(:ledgers AS bigint[]), CAST(:availables AS bigint[]),
    CAST(:ats AS timestamptz[]))
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""

_INSERT_POSTINGS = """
INSERT INTO {s}.postings (event_id, seq, account, amount, currency)
SELECT * FROM unnest(CAST(:event_ids AS text[]), CAST(:seqs AS smallint[]),
    CAST(:accounts AS text[]), CAST(:amounts AS bigint[]), CAST(:currencies AS text[]))
ON CONFLICT DO NOTHING
"""

_ADD_SYSTEM = """
INSERT INTO {s}.system_balances AS s (account, currency, shard, balance)
SELECT * FROM unnest(CAST(:accounts AS text[]), CAST(:currencies AS text[]),
    CAST(:shards AS int[]), CAST(:amounts AS bigint[]))
ON CONFLICT (account, currency, shard) DO UPDATE SET balance = s.balance + EXCLUDED.balance
"""


@dataclass(slots=True)
class Applied:
    """What one batch wrote: its rows, the wallets it touched (final rows) and counts."""

    rows: BatchRows
    wallets: dict[str, dict[str, Any]]
    inserted_entries: int


def wallet_row(rec: RowMapping) -> dict[str, Any]:
    """A wallet row (a SQLAlchemy row mapping) as a plain dict."""
    return dict(rec)


class PgBalanceStore:
    """The read model's writer (projector side); ``schema`` is another only for a rebuild
    (``infra.ops.rebuild``)."""

    def __init__(self, schema: str = SCHEMA) -> None:
        self.schema = schema
        self._insert_wallets = text(_INSERT_WALLETS.format(s=schema))
        self._update_wallets = text(_UPDATE_WALLETS.format(s=schema))
        self._insert_entries = text(_INSERT_ENTRIES.format(s=schema))
        self._insert_postings = text(_INSERT_POSTINGS.format(s=schema))
        self._add_system = text(_ADD_SYSTEM.format(s=schema))

    async def write(self, conn: AsyncConnection, records: list[Record]) -> Applied:
        """Write one batch (records in partition order) inside ``conn``'s transaction."""
        rows = project_batch(records)
        wallets: dict[str, dict[str, Any]] = {}
        if rows.opened:
            cols = list(zip(*rows.opened, strict=True))
            opened = await conn.execute(
                self._insert_wallets, dict(zip(("ids", "owners", "currencies", "limits", "ats"),
                                          cols, strict=True)),
            )  # fmt: skip
            for rec in opened.mappings():
                wallets[str(rec["id"])] = wallet_row(rec)
        if rows.patches:
            ids = list(rows.patches)
            ps = [rows.patches[i] for i in ids]
            updated = await conn.execute(
                self._update_wallets,
                {"ids": ids, "statuses": [p.status for p in ps], "ledgers": [p.ledger for p in ps],
                 "availables": [p.available for p in ps], "ats": [p.updated_at for p in ps]},
            )  # fmt: skip
            for rec in updated.mappings():
                wallets[str(rec["id"])] = wallet_row(rec)
        inserted: set[str] = set()
        if rows.entries:
            cols = list(zip(*(e[:9] for e in rows.entries), strict=True))
            entered = await conn.execute(
                self._insert_entries, dict(zip(_ENTRY_COLUMNS, cols, strict=True))
            )
            inserted = set(entered.scalars())
        postings = [
            (event_id, *p)
            for event_id, ps_ in rows.postings.items()
            if event_id in inserted
            for p in ps_
        ]
        if postings:
            cols = list(zip(*postings, strict=True))
            await conn.execute(
                self._insert_postings,
                dict(zip(("event_ids", "seqs", "accounts", "amounts", "currencies"), cols,
                         strict=True)),
            )  # fmt: skip
        deltas = system_deltas(rows, inserted)
        if deltas:
            keys = list(deltas)
            await conn.execute(
                self._add_system,
                {"accounts": [k[0] for k in keys], "currencies": [k[1] for k in keys],
                 "shards": [k[2] for k in keys], "amounts": [deltas[k] for k in keys]},
            )  # fmt: skip
        return Applied(rows, wallets, len(inserted))


_GET = text(f"SELECT {WALLET_COLUMNS} FROM wallets.wallets WHERE id = :id")

_PAGE = text(f"""
SELECT {WALLET_COLUMNS} FROM wallets.wallets
WHERE (CAST(:owner_id AS text) IS NULL OR owner_id = :owner_id)
  AND (CAST(:after AS uuid) IS NULL OR id > CAST(:after AS uuid))
ORDER BY id LIMIT :limit
""")

_ENTRIES = text("""
SELECT id, event_id, kind, amount, currency, transaction_id, ledger_after, available_after,
    occurred_at
FROM wallets.entries
WHERE wallet_id = :wallet_id
  AND (CAST(:at AS timestamptz) IS NULL OR (occurred_at, id) < (:at, CAST(:id AS bigint)))
ORDER BY occurred_at DESC, id DESC LIMIT :limit
""")

_POSTINGS = text("""
SELECT event_id, account, amount, currency FROM wallets.postings
WHERE event_id = ANY(CAST(:event_ids AS text[])) ORDER BY event_id, seq
""")

_BALANCE_AT = text("""
SELECT ledger_after, available_after FROM wallets.entries
WHERE wallet_id = :wallet_id AND occurred_at <= :as_of
ORDER BY occurred_at DESC, id DESC LIMIT 1
""")


class PgWalletReader:
    """The read model's queries (API side)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, wallet_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            rec = (await conn.execute(_GET, {"id": wallet_id})).mappings().first()
        return wallet_row(rec) if rec else None

    async def page(
        self, owner_id: str | None, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Wallets in id order (UUIDv7: creation order), ``owner_id`` None = everyone's."""
        params = {"owner_id": owner_id, "after": after, "limit": limit}
        async with self.engine.connect() as conn:
            rows = (await conn.execute(_PAGE, params)).mappings().all()
        return [wallet_row(r) for r in rows]

    async def entries(
        self, wallet_id: str, before: tuple[datetime, int] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Entries newest first, each with its postings; ``before`` = (occurred_at, id)."""
        at, eid = before if before else (None, None)
        params = {"wallet_id": wallet_id, "at": at, "id": eid, "limit": limit}
        async with self.engine.connect() as conn:
            out = [wallet_row(r) for r in (await conn.execute(_ENTRIES, params)).mappings()]
            if not out:
                return out
            event_ids = [e["event_id"] for e in out]
            postings = (await conn.execute(_POSTINGS, {"event_ids": event_ids})).mappings()
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
        async with self.engine.connect() as conn:
            rec = (
                await conn.execute(_BALANCE_AT, {"wallet_id": wallet_id, "as_of": as_of})
            ).first()
        return (rec.ledger_after, rec.available_after) if rec else (0, 0)
