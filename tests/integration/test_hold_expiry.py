"""Holds past their expiry are expired by the decider's sweep, with no further command."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import text

from common.db import make_engine
from common.settings import Settings
from common.topics import WALLET_EVENTS
from contracts.wallet import (
    CreditWallet,
    OpenWallet,
    PlaceHold,
    WalletCommand,
)
from infra.testing.kafka import read_topic, send_commands, wait_for
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.integration


async def _send(settings: Settings, commands: list[WalletCommand]) -> None:
    await send_commands(settings.kafka_bootstrap, commands, "it")


async def test_an_expired_hold_frees_the_available_balance_by_itself(
    stack: StackUnderTest, settings: Settings
) -> None:
    # given a wallet holding 100, with a hold of 30 for 2 seconds and one of 20 for an hour
    stack.start_apps(["wallet_decider", "wallet_projector"])
    wallet = str(uuid.uuid4())
    now_ms = int(time.time() * 1000)
    await _send(settings, [
        OpenWallet(command_id=f"open:{wallet}", wallet_id=wallet, owner_id="u", currency="USD"),
        CreditWallet(command_id=f"fund:{wallet}", wallet_id=wallet, transaction_id="f",
                     amount=100, currency="USD", counter_account="system:settlement:it"),
        PlaceHold(command_id=f"h1:{wallet}", wallet_id=wallet, hold_id="h-short", amount=30,
                  currency="USD", expires_at=now_ms + 2000),
        PlaceHold(command_id=f"h2:{wallet}", wallet_id=wallet, hold_id="h-long", amount=20,
                  currency="USD", expires_at=now_ms + 3_600_000),
    ])  # fmt: skip
    engine = make_engine(settings.postgres_dsn)

    async def balance() -> tuple[int, int] | None:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT ledger, available FROM wallets.wallets WHERE id = CAST(:w AS uuid)"
                    ),
                    {"w": uuid.UUID(wallet)},
                )
            ).first()
        return None if row is None else (row.ledger, row.available)

    async def holding_both() -> bool:
        return await balance() == (100, 50)

    await wait_for(holding_both, timeout=30)
    # when nothing else happens to the wallet and the short hold's time passes

    async def expired() -> bool:
        events = await read_topic(
            settings.kafka_bootstrap, WALLET_EVENTS, lambda e: e.key == wallet
        )
        return any(e.type == "HoldExpired" for e in events)

    await wait_for(expired, timeout=30)
    # then exactly that hold expired, once, and the read model shows its 30 available again
    events = await read_topic(settings.kafka_bootstrap, WALLET_EVENTS, lambda e: e.key == wallet)
    gone = [e.payload for e in events if e.type == "HoldExpired"]
    assert [(g["hold_id"], g["amount"]) for g in gone] == [("h-short", 30)]
    assert gone[0]["available"] == 80 and gone[0]["ledger"] == 100

    async def freed() -> bool:
        return await balance() == (100, 80)

    await wait_for(freed, timeout=30)
    await engine.dispose()
