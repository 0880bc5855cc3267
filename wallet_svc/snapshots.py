"""Decider snapshots in Postgres: a partition's wallet states as of a wallet-events offset.

A snapshot is taken after a committed batch, so it holds exactly the events below its
offset (the decider is the partition's only writer). A new owner loads it and replays
``wallet-events`` from that offset: the same states as a replay from zero, sooner.
"""

from __future__ import annotations

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from wallet_svc.domain import WalletState, from_snapshot, to_snapshot

States = dict[str, WalletState]


async def save(engine: AsyncEngine, partition: int, next_offset: int, states: States) -> None:
    blob = orjson.dumps([to_snapshot(s) for s in states.values()])
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO wallets.decider_snapshots (partition, next_offset, wallets, states, "
                "taken_at) VALUES (:p, :o, :n, :s, now()) ON CONFLICT (partition) DO UPDATE SET "
                "next_offset = EXCLUDED.next_offset, wallets = EXCLUDED.wallets, "
                "states = EXCLUDED.states, taken_at = EXCLUDED.taken_at "
                "WHERE wallets.decider_snapshots.next_offset <= EXCLUDED.next_offset"
            ),
            {"p": partition, "o": next_offset, "n": len(states), "s": blob},
        )


async def load(engine: AsyncEngine, partition: int) -> tuple[int, States]:
    """(offset to replay from, states); (0, {}) when there is no snapshot."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT next_offset, states FROM wallets.decider_snapshots WHERE partition = :p"
                ),
                {"p": partition},
            )
        ).first()
    if row is None:
        return 0, {}
    states = [from_snapshot(d) for d in orjson.loads(row.states)]
    return int(row.next_offset), {s.wallet_id: s for s in states}
