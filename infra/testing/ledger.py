"""What the wallet read model holds on the system accounts, for tests that check where
money went (the fees, the FX account): a system account has no wallet to ask over HTTP."""

from __future__ import annotations

from sqlalchemy import text

from common.db import make_engine
from common.settings import Settings


async def system_balances(settings: Settings, account: str) -> dict[str, int]:
    """The balance of the system account ``account`` (e.g. ``system:fees``) per currency,
    its shards summed, as the projector last wrote it."""
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT currency, sum(balance)::bigint AS b FROM wallets.system_balances "
                    "WHERE account = :a GROUP BY currency"
                ),
                {"a": account},
            )
            return {r.currency: r.b for r in rows}
    finally:
        await engine.dispose()
