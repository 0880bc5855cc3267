"""The transaction service's two pure projections, written in the saga worker's batch:
``wallet_directory`` (each wallet's owner and currency, from ``WalletOpened`` on
wallet-events) and ``merchants`` (each user's latest role, from user-events: who is a
merchant, ``payments_api``).

``PgDirectoryStore`` is their one writer: the saga worker writes the live tables through
it, and ``paystream rebuild directory`` replays the log through it into a fresh schema.
Both statements are idempotent (an opened wallet never changes; a role is the latest one
in log order), so a record applied again changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

SCHEMA = "transactions"
TABLES = ("wallet_directory", "merchants")
Opened = dict[str, str]  # a wallet-directory row: w (wallet id), o (owner), c (currency)


@dataclass(frozen=True, slots=True)
class Role:
    """A user's role as of an event: the merchants row."""

    user_id: str
    role: str


class PgDirectoryStore:
    """The writer of both tables in ``schema`` (another only for a rebuild)."""

    def __init__(self, schema: str = SCHEMA) -> None:
        self._opened = text(
            f"INSERT INTO {schema}.wallet_directory (wallet_id, owner_id, currency) "
            "VALUES (:w, :o, :c) ON CONFLICT DO NOTHING"
        )
        self._roles = text(
            f"INSERT INTO {schema}.merchants (user_id, role) VALUES (:u, :r) "
            "ON CONFLICT (user_id) DO UPDATE SET role = EXCLUDED.role"
        )

    async def write(self, conn: AsyncConnection, values: Sequence[object]) -> int:
        """Project the wallets opened and the roles among a batch's decoded values (in
        log order; anything else is not theirs); returns how many were."""
        opened = [v for v in values if isinstance(v, dict)]
        latest = {v.user_id: v.role for v in values if isinstance(v, Role)}
        if opened:
            await conn.execute(self._opened, opened)
        if latest:
            await conn.execute(self._roles, [{"u": u, "r": r} for u, r in latest.items()])
        return len(opened) + len(latest)
