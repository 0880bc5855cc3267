"""``paystream rebuild`` against the running e2e stack, as an operator runs it: the
balances read model, and the transaction service's wallet directory, replayed from
offset 0 beside the live ones, compared, swapped."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from common.db import make_engine
from common.settings import Settings
from infra.testing.api import deposit, open_wallet, register, settled_balance
from infra.testing.kafka import wait_for
from infra.testing.operator import paystream
from infra.testing.sql import scalar
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.e2e


async def ledger_row(settings: Settings, wallet: str, corrupt_by: int = 0) -> int:
    """The wallet's ledger in the read model, first moved by ``corrupt_by`` (by hand)."""
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    try:
        async with engine.begin() as conn:
            if corrupt_by:
                await conn.execute(
                    text("UPDATE wallets.wallets SET ledger = ledger + :d WHERE id = :id"),
                    {"d": corrupt_by, "id": wallet},
                )
            row = await conn.execute(
                text("SELECT ledger FROM wallets.wallets WHERE id = :id"), {"id": wallet}
            )
            return int(row.scalar_one())
    finally:
        await engine.dispose()


async def test_rebuild_matches_names_a_corrupted_wallet_and_swap_repairs_it(
    apps: StackUnderTest, api: httpx.AsyncClient, settings: Settings
) -> None:
    # given money moved into a wallet
    user = await register(api, "rebuilt")
    wallet = await open_wallet(api, user)
    await deposit(api, user, wallet, 5_000)
    await settled_balance(api, user, wallet, 5_000)
    # when the read model is rebuilt: then both checksums match
    run = paystream("rebuild")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "differ" not in run.stdout and "match" in run.stdout

    # given the wallet's balance row corrupted by hand
    assert await ledger_row(settings, wallet, corrupt_by=7) == 5_007
    # when rebuilt with --swap: the difference is named and nothing is swapped
    run = paystream("rebuild", "--swap")
    assert run.returncode == 1, run.stdout + run.stderr
    assert wallet in run.stdout and "not swapped" in run.stdout
    assert await ledger_row(settings, wallet) == 5_007
    # when forced: the rebuilt model is live and the row is repaired
    run = paystream("rebuild", "--swap", "--force")
    assert run.returncode == 0 and "swapped" in run.stdout, run.stdout + run.stderr
    assert await ledger_row(settings, wallet) == 5_000
    # and the projector goes on writing into the swapped-in tables
    await deposit(api, user, wallet, 250)
    assert (await settled_balance(api, user, wallet, 5_250))["ledger"] == 5_250
    run = paystream("rebuild")
    assert run.returncode == 0 and "differ" not in run.stdout, run.stdout + run.stderr


async def directory_row(settings: Settings, wallet: str, currency: str | None = None) -> str | None:
    """The wallet's currency in transaction_svc's directory, first set to ``currency`` by
    hand when given; None while the saga worker has not projected it."""
    key = {"id": wallet, "c": currency}
    corrupt = "UPDATE transactions.wallet_directory SET currency = :c WHERE wallet_id = :id"
    read = "SELECT currency FROM transactions.wallet_directory WHERE wallet_id = :id"
    return await scalar(settings, *([(corrupt, key)] if currency else []), (read, key))


async def test_the_directory_rebuild_names_a_corrupted_row_and_swap_repairs_it(
    apps: StackUnderTest, api: httpx.AsyncClient, settings: Settings
) -> None:
    # given a wallet the saga worker has projected into the directory
    user = await register(api, "directory")
    wallet = await open_wallet(api, user)
    await wait_for(lambda: directory_row(settings, wallet), timeout=30)
    # when the directory is rebuilt: then it matches
    run = paystream("rebuild", "directory")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "differ" not in run.stdout and "match" in run.stdout

    # given the wallet's directory row corrupted by hand
    assert await directory_row(settings, wallet, currency="EUR") == "EUR"
    # when rebuilt with --swap: the difference is named and nothing is swapped
    run = paystream("rebuild", "directory", "--swap")
    assert run.returncode == 1, run.stdout + run.stderr
    assert wallet in run.stdout and "not swapped" in run.stdout
    # when forced: the rebuilt tables are live and the row is repaired
    run = paystream("rebuild", "directory", "--swap", "--force")
    assert run.returncode == 0 and "swapped" in run.stdout, run.stdout + run.stderr
    assert await directory_row(settings, wallet) == "USD"
    # and the saga worker goes on projecting into the swapped-in tables
    later = await open_wallet(api, user)
    await wait_for(lambda: directory_row(settings, later), timeout=30)
    run = paystream("rebuild", "directory")
    assert run.returncode == 0 and "differ" not in run.stdout, run.stdout + run.stderr
