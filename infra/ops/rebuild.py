"""``paystream rebuild``: the wallet balances read model made again from wallet-events.

The projector's own writer (``PgBalanceStore`` over a fresh schema, records read through
``check_envelope``) replays wallet-events from offset 0 into ``wallets_rebuild`` up to
the offsets the live projector has stored. Then, in one transaction that holds the live
tables in SHARE mode (readers go on, the projector waits), it replays what the projector
committed meanwhile, compares the checksums of both at the same offsets and, when asked
and allowed, moves the live tables to ``wallets_replaced`` and the rebuilt ones into
``wallets`` (with ``--swap`` that transaction holds them in ACCESS EXCLUSIVE mode, so
the API's reads wait for it too). The projector then goes on from the rebuilt offsets,
which are its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from common.db import make_engine
from common.kafka.pg_offsets import PgOffsets
from common.redis import make_redis
from common.settings import Settings
from common.topics import WALLET_EVENTS
from wallet_svc.cache import balance_key
from wallet_svc.projection import Record, check_envelope
from wallet_svc.store import CONSUMER, READ_MODEL_TABLES, SCHEMA, PgBalanceStore

REBUILD = "wallets_rebuild"
REPLACED = "wallets_replaced"
DIFFERENCES_SHOWN = 20

_OFFSETS = "SELECT partition, next_offset FROM {s}.offsets WHERE consumer = :c AND topic = :t"
_INDEXES = (
    "SELECT tablename, indexname, regexp_replace(indexdef, '^.* ON \\S+ ', '') AS shape "
    "FROM pg_indexes WHERE schemaname = :s"
)
# per wallet: its status, balances and number of entries (its version)
_WALLETS = """SELECT w.id::text AS key, concat_ws(':', w.status, w.currency, w.ledger,
    w.available, coalesce(e.n, 0)) AS value
FROM {s}.wallets w LEFT JOIN (SELECT wallet_id, count(*) AS n FROM {s}.entries
    GROUP BY wallet_id) e ON e.wallet_id = w.id"""
_SYSTEM = """SELECT account || ':' || currency AS key, sum(balance)::text AS value
FROM {s}.system_balances GROUP BY account, currency"""
_CHECKSUM = "SELECT count(*), coalesce(md5(string_agg(key || '=' || value, ',' ORDER BY key)), '')"
_DIFF = """SELECT coalesce(l.key, r.key) AS key, l.value AS live, r.value AS rebuilt
FROM ({live}) l FULL JOIN ({rebuilt}) r ON l.key = r.key
WHERE l.value IS DISTINCT FROM r.value ORDER BY 1 LIMIT :n"""


@dataclass(frozen=True, slots=True)
class Checksum:
    """Rows and md5 of one part of a read model (wallets or system accounts)."""

    rows: int
    digest: str


async def stored_offsets(conn: AsyncConnection, schema: str) -> dict[int, int]:
    rows = await conn.execute(text(_OFFSETS.format(s=schema)), {"c": CONSUMER, "t": WALLET_EVENTS})
    return {r.partition: r.next_offset for r in rows}


async def fresh_schema(conn: AsyncConnection) -> None:
    """``wallets_rebuild`` with empty copies of the read model's tables, their indexes
    named as the live ones (so migrations find them after a swap)."""
    await conn.execute(text(f"DROP SCHEMA IF EXISTS {REBUILD} CASCADE"))
    await conn.execute(text(f"CREATE SCHEMA {REBUILD}"))
    for table in READ_MODEL_TABLES:
        await conn.execute(
            text(f"CREATE TABLE {REBUILD}.{table} (LIKE {SCHEMA}.{table} INCLUDING ALL)")
        )
    live = {(r.tablename, r.shape): r.indexname for r in await conn.execute(
        text(_INDEXES), {"s": SCHEMA})}  # fmt: skip
    for r in (await conn.execute(text(_INDEXES), {"s": REBUILD})).all():
        name = live.get((r.tablename, r.shape))
        if r.tablename in READ_MODEL_TABLES and name and name != r.indexname:
            await conn.execute(text(f'ALTER INDEX {REBUILD}."{r.indexname}" RENAME TO "{name}"'))


async def batches(
    bootstrap: str, start: dict[int, int], upto: dict[int, int]
) -> AsyncIterator[tuple[list[Record], dict[TopicPartition, int]]]:
    """wallet-events' committed records from ``start`` up to ``upto`` (per partition), in
    fetched batches with the next offsets they reach. A record the contract refuses is
    left out, as the projector dead-letters it."""
    tps = [TopicPartition(WALLET_EVENTS, p) for p, end in upto.items() if end > start.get(p, 0)]
    if not tps:
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start.get(tp.partition, 0))
        pending = set(tps)
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=1000)
            records: list[Record] = []
            nexts: dict[TopicPartition, int] = {}
            for tp, msgs in fetched.items():
                end = upto[tp.partition]
                for m in msgs:
                    if m.offset >= end:
                        break
                    try:
                        records.append(
                            Record(m.partition, m.offset, *check_envelope(m.value or b""))
                        )
                    except ValueError:
                        continue
            for tp in list(pending):
                position = min(await consumer.position(tp), upto[tp.partition])
                nexts[tp] = position
                if position >= upto[tp.partition]:
                    pending.discard(tp)
            yield records, nexts
    finally:
        await consumer.stop()


async def replay(
    conn: AsyncConnection, bootstrap: str, start: dict[int, int], upto: dict[int, int],
    progress: Progress | None = None,
) -> int:  # fmt: skip
    """Apply wallet-events from ``start`` to ``upto`` to the rebuilt schema inside
    ``conn``'s transaction; the records applied."""
    store = PgBalanceStore(REBUILD)
    offsets = PgOffsets(conn.engine, f"{REBUILD}.offsets", CONSUMER)
    total = sum(upto.values())
    task = progress.add_task("replaying wallet-events", total=total) if progress else None
    applied = 0
    async for records, nexts in batches(bootstrap, start, upto):
        if records:
            await store.write(conn, records)
        await offsets.save(conn, nexts)
        applied += len(records)
        if progress and task is not None:
            progress.update(task, advance=len(records))
    return applied


async def checksums(conn: AsyncConnection, schema: str) -> tuple[Checksum, Checksum]:
    """(wallets, system accounts) of ``schema``."""
    out = []
    for part in (_WALLETS, _SYSTEM):
        row = (await conn.execute(text(f"{_CHECKSUM} FROM ({part.format(s=schema)}) t"))).one()
        out.append(Checksum(row[0], row[1]))
    return out[0], out[1]


async def differences(conn: AsyncConnection) -> list[tuple[str, str | None, str | None]]:
    """The first wallets and system accounts whose live row differs from the rebuilt one."""
    out: list[tuple[str, str | None, str | None]] = []
    for part in (_WALLETS, _SYSTEM):
        sql = _DIFF.format(live=part.format(s=SCHEMA), rebuilt=part.format(s=REBUILD))
        out += [tuple(r) for r in await conn.execute(text(sql), {"n": DIFFERENCES_SHOWN})]
    return out


async def lock_live(conn: AsyncConnection, mode: str) -> None:
    """Lock the live read model's tables, its offsets first: the projector's batch locks
    its offset rows before it writes, so taking them in the other order could deadlock."""
    order = sorted(READ_MODEL_TABLES, key=lambda t: t != "offsets")
    tables = ", ".join(f"{SCHEMA}.{t}" for t in order)
    await conn.execute(text(f"LOCK TABLE {tables} IN {mode} MODE"))


async def swap(conn: AsyncConnection) -> None:
    """Live tables to ``wallets_replaced``, rebuilt ones into ``wallets`` (the caller
    holds the live tables in ACCESS EXCLUSIVE mode)."""
    await conn.execute(text(f"DROP SCHEMA IF EXISTS {REPLACED} CASCADE"))
    await conn.execute(text(f"CREATE SCHEMA {REPLACED}"))
    for t in READ_MODEL_TABLES:
        await conn.execute(text(f"ALTER TABLE {SCHEMA}.{t} SET SCHEMA {REPLACED}"))
        await conn.execute(text(f"ALTER TABLE {REBUILD}.{t} SET SCHEMA {SCHEMA}"))


async def rebuild(settings: Settings, do_swap: bool, force: bool, console: Console) -> int:
    """0 when the checksums match (or the rebuilt model was swapped in); 1 otherwise."""
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    try:
        async with engine.begin() as conn:
            await fresh_schema(conn)
            upto = await stored_offsets(conn, SCHEMA)
        with Progress(console=console, transient=True) as progress:
            async with engine.begin() as conn:
                applied = await replay(conn, settings.kafka_bootstrap, {}, upto, progress)
        console.print(f"replayed {applied} wallet-events into {REBUILD}")
        async with engine.begin() as conn:
            # a swap needs ACCESS EXCLUSIVE: taking it at once rather than after SHARE
            # cannot deadlock with a projector batch waiting behind the SHARE lock
            await lock_live(conn, "ACCESS EXCLUSIVE" if do_swap else "SHARE")
            live_offsets = await stored_offsets(conn, SCHEMA)
            await replay(conn, settings.kafka_bootstrap, upto, live_offsets)
            live, rebuilt = await checksums(conn, SCHEMA), await checksums(conn, REBUILD)
            diff = await differences(conn)
            report(console, live_offsets, live, rebuilt, diff)
            swapped = do_swap and (not diff or force)
            if swapped:
                await swap(conn)
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {REBUILD} CASCADE"))
    finally:
        await engine.dispose()
    if swapped:
        console.print(f"[green]swapped:[/] the rebuilt model is live; the old one is in {REPLACED}")
        await forget_cached(settings, [key for key, _, _ in diff])
    elif do_swap and diff:
        console.print("[red]not swapped: the checksums differ (--force swaps anyway)[/]")
    return 0 if swapped or not diff else 1


def report(
    console: Console,
    offsets: dict[int, int],
    live: tuple[Checksum, Checksum],
    rebuilt: tuple[Checksum, Checksum],
    diff: list[tuple[str, str | None, str | None]],
) -> None:
    title = f"Checksums at the projector's offsets ({sum(offsets.values())} of wallet-events)"
    table = Table("part", "live rows", "live md5", "rebuilt rows", "rebuilt md5", "", title=title)
    for part, a, b in zip(("wallets", "system accounts"), live, rebuilt, strict=True):
        same = "[green]match[/]" if a == b else "[red]differ[/]"
        table.add_row(part, str(a.rows), a.digest, str(b.rows), b.digest, same)
    console.print(table)
    if diff:
        rows = Table("wallet or account", "live", "rebuilt", title="Differences (status:currency:"
                     "ledger:available:entries, or the account's balance)")  # fmt: skip
        for key, a_value, b_value in diff:
            rows.add_row(key, a_value or "-", b_value or "-")
        console.print(rows)


async def forget_cached(settings: Settings, keys: list[str]) -> None:
    """Drop the balance cache of the repaired wallets, so reads go to the new rows."""
    wallets = [k for k in keys if ":" not in k]
    if not wallets:
        return
    redis = make_redis(settings.redis_url)
    try:
        await redis.delete(*map(balance_key, wallets))
    finally:
        await redis.aclose()
