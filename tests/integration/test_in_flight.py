"""The saga worker's in-flight gauges, from real transaction rows in Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from common.db import make_engine
from common.settings import Settings
from infra.testing.stack import StackUnderTest
from transaction_svc.in_flight import InFlightWatch

pytestmark = pytest.mark.integration
KIND = "it-in-flight"  # a kind of its own: other tests' transactions do not count here
INSERT = text(
    "INSERT INTO transactions.transactions (id, kind, status, owner_id, amount, currency, "
    "created_at, updated_at) VALUES (:id, :kind, :status, 'owner', 100, 'USD', :at, :at)"
)


def gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"type": KIND})


async def test_open_transactions_of_the_last_hour_are_counted_with_the_oldest_age(
    stack: StackUnderTest, settings: Settings
) -> None:
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    now = datetime.now(UTC)
    rows = {
        "pending, 10 min old": ("pending", now - timedelta(minutes=10)),
        "processing, 1 min old": ("processing", now - timedelta(minutes=1)),
        "completed": ("completed", now - timedelta(minutes=20)),
        "pending, 2 hours old (outside the window)": ("pending", now - timedelta(hours=2)),
    }
    ids = {name: str(uuid.uuid4()) for name in rows}
    try:
        # given open and ended transactions of one kind
        async with engine.begin() as conn:
            for name, (status, at) in rows.items():
                await conn.execute(
                    INSERT, {"id": ids[name], "kind": KIND, "status": status, "at": at}
                )
        # when the worker's watch runs
        watch = InFlightWatch(engine)
        await watch.watch(now)
        # then the two open ones of the last hour count, the oldest 10 minutes old
        assert gauge("paystream_sagas_in_flight") == 2
        assert gauge("paystream_saga_oldest_in_flight_age_seconds") == pytest.approx(600, abs=1)
        # and once they ended, none is left and the age reads 0
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE transactions.transactions SET status = 'failed' WHERE id = ANY(:ids)"),
                {"ids": list(ids.values())},
            )
        await watch.watch(now)
        assert gauge("paystream_sagas_in_flight") == 0
        assert gauge("paystream_saga_oldest_in_flight_age_seconds") == 0
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM transactions.transactions WHERE id = ANY(:ids)"),
                {"ids": list(ids.values())},
            )
        await engine.dispose()
