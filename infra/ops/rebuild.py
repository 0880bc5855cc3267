"""``paystream rebuild [MODEL]``: a read model made again from its events
(``infra.ops.read_models``: the wallet balances, or the transaction service's wallet
directory and merchants).

The projector's own writer, over a fresh schema ``<schema>_rebuild``, replays the model's
topics from offset 0 up to the offsets the live projector has stored. Then, in one
transaction that holds the live offsets and tables in SHARE mode (readers go on, the
projector waits), it replays what the projector committed meanwhile, compares the
checksums of both at the same offsets and, when asked and allowed, moves the live tables
to ``<schema>_replaced`` and the rebuilt ones into ``<schema>`` (with ``--swap`` that
transaction holds the swapped tables in ACCESS EXCLUSIVE mode, so the API's reads wait
for it too). A model with offsets of its own swaps them with its tables (the rows of
topics it does not rebuild, its replay topics', copied over), and its projector goes on
from the rebuilt offsets; one that shares its projector's offsets (the directory, with
the sagas' states) swaps only its tables, made up to the same offsets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from common.db import make_engine
from common.kafka.pg_offsets import PgOffsets
from common.redis import make_redis
from common.settings import Settings
from infra.ops.read_models import WALLETS, ReadModel
from wallet_svc.cache import balance_key

DIFFERENCES_SHOWN = 20
Offsets = dict[TopicPartition, int]

_OFFSETS = (
    "SELECT topic, partition, next_offset FROM {o} WHERE consumer = :c "
    "AND topic = ANY(CAST(:t AS text[]))"
)
_OTHER_OFFSETS = """INSERT INTO {r} SELECT * FROM {o}
WHERE NOT (consumer = :c AND topic = ANY(CAST(:t AS text[]))) ON CONFLICT DO NOTHING"""
_INDEXES = (
    "SELECT tablename, indexname, regexp_replace(indexdef, '^.* ON \\S+ ', '') AS shape "
    "FROM pg_indexes WHERE schemaname = :s"
)
_CHECKSUM = "SELECT count(*), coalesce(md5(string_agg(key || '=' || value, ',' ORDER BY key)), '')"
_DIFF = """SELECT coalesce(l.key, r.key) AS key, l.value AS live, r.value AS rebuilt
FROM ({live}) l FULL JOIN ({rebuilt}) r ON l.key = r.key
WHERE l.value IS DISTINCT FROM r.value ORDER BY 1 LIMIT :n"""


def rebuilt(model: ReadModel) -> str:
    return f"{model.schema}_rebuild"


def replaced(model: ReadModel) -> str:
    return f"{model.schema}_replaced"


@dataclass(frozen=True, slots=True)
class Checksum:
    """Rows and md5 of one part of a read model (wallets or system accounts)."""

    rows: int
    digest: str


async def stored_offsets(conn: AsyncConnection, model: ReadModel, schema: str) -> Offsets:
    """The next offsets of the model's topics stored in ``schema``'s offsets table."""
    sql = text(_OFFSETS.format(o=f"{schema}.{model.offsets}"))
    rows = await conn.execute(sql, {"c": model.consumer, "t": list(model.topics)})
    return {TopicPartition(r.topic, r.partition): r.next_offset for r in rows}


async def fresh_schema(conn: AsyncConnection, model: ReadModel) -> None:
    """``<schema>_rebuild`` with empty copies of the model's tables and of its offsets
    table, their indexes named as the live ones (so migrations find them after a swap)."""
    live, rebuild = model.schema, rebuilt(model)
    tables = (*model.tables, *(() if model.owns_offsets else (model.offsets,)))
    await conn.execute(text(f"DROP SCHEMA IF EXISTS {rebuild} CASCADE"))
    await conn.execute(text(f"CREATE SCHEMA {rebuild}"))
    for table in tables:
        await conn.execute(
            text(f"CREATE TABLE {rebuild}.{table} (LIKE {live}.{table} INCLUDING ALL)")
        )
    names = {(r.tablename, r.shape): r.indexname for r in await conn.execute(
        text(_INDEXES), {"s": live})}  # fmt: skip
    for r in (await conn.execute(text(_INDEXES), {"s": rebuild})).all():
        name = names.get((r.tablename, r.shape))
        if r.tablename in model.tables and name and name != r.indexname:
            await conn.execute(text(f'ALTER INDEX {rebuild}."{r.indexname}" RENAME TO "{name}"'))


async def batches(
    bootstrap: str, start: Offsets, upto: Offsets
) -> AsyncIterator[tuple[list[ConsumerRecord[bytes, bytes]], Offsets]]:
    """The committed records from ``start`` up to ``upto`` (per partition), in fetched
    batches with the next offsets they reach."""
    tps = [tp for tp, end in upto.items() if end > start.get(tp, 0)]
    if not tps:
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start.get(tp, 0))
        pending = set(tps)
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=1000)
            records = [m for tp, msgs in fetched.items() for m in msgs if m.offset < upto[tp]]
            nexts: Offsets = {}
            for tp in list(pending):
                nexts[tp] = min(await consumer.position(tp), upto[tp])
                if nexts[tp] >= upto[tp]:
                    pending.discard(tp)
            yield records, nexts
    finally:
        await consumer.stop()


def decoded(model: ReadModel, records: list[ConsumerRecord[bytes, bytes]]) -> list[Any]:
    """The records as the model's projector decodes them, without those it would
    dead-letter (its ``decode`` raises for them)."""
    out = []
    for record in records:
        try:
            out.append(model.decode(record))
        except Exception:  # noqa: S112 - a poison record: the projector dead-letters it
            continue
    return out


async def replay(
    conn: AsyncConnection, model: ReadModel, bootstrap: str, start: Offsets, upto: Offsets,
    progress: Progress | None = None,
) -> int:  # fmt: skip
    """Apply the model's records from ``start`` to ``upto`` to the rebuilt schema inside
    ``conn``'s transaction (its offsets too); the records applied."""
    write = model.writer(rebuilt(model))
    offsets = PgOffsets(conn.engine, f"{rebuilt(model)}.{model.offsets}", model.consumer)
    total = sum(upto.values()) - sum(start.values())
    task = (
        progress.add_task(f"replaying {', '.join(model.topics)}", total=total) if progress else None
    )
    applied = 0
    async for records, nexts in batches(bootstrap, start, upto):
        applied += await write(conn, decoded(model, records))
        await offsets.save(conn, nexts)
        if progress and task is not None:
            progress.update(task, advance=len(records))
    return applied


async def checksums(conn: AsyncConnection, model: ReadModel, schema: str) -> list[Checksum]:
    """One per part of the model, in ``schema``."""
    out = []
    for _, part in model.parts:
        row = (await conn.execute(text(f"{_CHECKSUM} FROM ({part.format(s=schema)}) t"))).one()
        out.append(Checksum(row[0], row[1]))
    return out


async def differences(
    conn: AsyncConnection, model: ReadModel
) -> list[tuple[str, str | None, str | None]]:
    """The first keys of each part whose live row differs from the rebuilt one."""
    out: list[tuple[str, str | None, str | None]] = []
    for _, part in model.parts:
        sql = _DIFF.format(live=part.format(s=model.schema), rebuilt=part.format(s=rebuilt(model)))
        out += [tuple(r) for r in await conn.execute(text(sql), {"n": DIFFERENCES_SHOWN})]
    return out


async def lock_live(conn: AsyncConnection, model: ReadModel, swap: bool) -> None:
    """Lock the live offsets, then the model's tables: the projector's batch locks its
    offset rows before it writes, so taking them in the other order could deadlock. What
    is swapped is taken in ACCESS EXCLUSIVE mode at once (taking it after SHARE could
    deadlock with a projector batch waiting behind the SHARE lock); the rest in SHARE."""
    mode = "ACCESS EXCLUSIVE" if swap else "SHARE"
    offsets_mode = mode if model.owns_offsets else "SHARE"
    await conn.execute(text(f"LOCK TABLE {model.schema}.{model.offsets} IN {offsets_mode} MODE"))
    tables = ", ".join(f"{model.schema}.{t}" for t in model.tables if t != model.offsets)
    await conn.execute(text(f"LOCK TABLE {tables} IN {mode} MODE"))


async def swap(conn: AsyncConnection, model: ReadModel) -> None:
    """Live tables to ``<schema>_replaced``, rebuilt ones into ``<schema>`` (the caller
    holds them in ACCESS EXCLUSIVE mode); rebuilt offsets take along the live rows of
    the topics the model does not rebuild (its replay topics')."""
    live, rebuild, old = model.schema, rebuilt(model), replaced(model)
    if model.owns_offsets:
        await conn.execute(
            text(
                _OTHER_OFFSETS.format(r=f"{rebuild}.{model.offsets}", o=f"{live}.{model.offsets}")
            ),
            {"c": model.consumer, "t": list(model.topics)},
        )
    await conn.execute(text(f"DROP SCHEMA IF EXISTS {old} CASCADE"))
    await conn.execute(text(f"CREATE SCHEMA {old}"))
    for t in model.tables:
        await conn.execute(text(f"ALTER TABLE {live}.{t} SET SCHEMA {old}"))
        await conn.execute(text(f"ALTER TABLE {rebuild}.{t} SET SCHEMA {live}"))


async def rebuild(
    settings: Settings, do_swap: bool, force: bool, console: Console, model: ReadModel = WALLETS
) -> int:
    """0 when the checksums match (or the rebuilt model was swapped in); 1 otherwise."""
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    try:
        async with engine.begin() as conn:
            await fresh_schema(conn, model)
            upto = await stored_offsets(conn, model, model.schema)
        with Progress(console=console, transient=True) as progress:
            async with engine.begin() as conn:
                applied = await replay(conn, model, settings.kafka_bootstrap, {}, upto, progress)
        console.print(
            f"replayed {applied} records of {', '.join(model.topics)} into {rebuilt(model)}"
        )
        async with engine.begin() as conn:
            await lock_live(conn, model, do_swap)
            live_offsets = await stored_offsets(conn, model, model.schema)
            await replay(conn, model, settings.kafka_bootstrap, upto, live_offsets)
            live = await checksums(conn, model, model.schema)
            made = await checksums(conn, model, rebuilt(model))
            diff = await differences(conn, model)
            report(console, model, live_offsets, live, made, diff)
            swapped = do_swap and (not diff or force)
            if swapped:
                await swap(conn, model)
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {rebuilt(model)} CASCADE"))
    finally:
        await engine.dispose()
    if swapped:
        console.print(
            f"[green]swapped:[/] the rebuilt model is live; the old one is in {replaced(model)}"
        )
        if model is WALLETS:
            await forget_cached(settings, [key for key, _, _ in diff])
    elif do_swap and diff:
        console.print("[red]not swapped: the checksums differ (--force swaps anyway)[/]")
    return 0 if swapped or not diff else 1


def report(
    console: Console,
    model: ReadModel,
    offsets: Offsets,
    live: list[Checksum],
    made: list[Checksum],
    diff: list[tuple[str, str | None, str | None]],
) -> None:
    title = (
        f"Checksums of {model.name} at its projector's offsets "
        f"({sum(offsets.values())} records of {', '.join(model.topics)})"
    )
    table = Table("part", "live rows", "live md5", "rebuilt rows", "rebuilt md5", "", title=title)
    for (part, _), a, b in zip(model.parts, live, made, strict=True):
        same = "[green]match[/]" if a == b else "[red]differ[/]"
        table.add_row(part, str(a.rows), a.digest, str(b.rows), b.digest, same)
    console.print(table)
    if diff:
        rows = Table("key", "live", "rebuilt", title=f"Differences ({model.differences})")
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
