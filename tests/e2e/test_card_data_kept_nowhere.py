"""After the whole e2e tier has added cards and bank accounts and paid with them: no card
number and no full IBAN is in any log line, any Kafka record of any topic, or any row of
any table. Runs last, over everything the tier produced."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text

from common.db import make_engine
from common.settings import Settings
from infra.testing.kafka import read_records
from infra.testing.stack import StackUnderTest

pytestmark = [pytest.mark.e2e, pytest.mark.last]

# the provider's test cards and bank accounts (docs/pgw.md), each used by the e2e tier
CARDS = ("4242424242424242", "5555555555554444", "4000000000000002", "4000000000009995",
         "4000000000003220")  # fmt: skip
IBANS = ("GB33BUKB20201555555555", "DE89370400440532013000", "GB94BARC10201530093459")


def _found(text_: str) -> list[str]:
    compact = text_.replace(" ", "")
    return [s for s in (*CARDS, *IBANS) if s in text_ or s in compact]


async def test_no_card_number_or_iban_in_logs_topics_or_tables(
    apps: StackUnderTest, settings: Settings
) -> None:
    # the logs of every process
    logs = sorted((apps.cfg.run_dir / "logs").glob("*.log"))
    assert any(p.stem == "pgw_svc" for p in logs)
    for path in logs:
        assert not _found(path.read_text(errors="replace")), path.name
    # every record of every topic, dead-letter topics included
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics() if not t.startswith("__"))
    finally:
        await admin.close()
    assert "payment-events" in topics
    for topic in topics:
        records = await read_records(settings.kafka_bootstrap, topic)
        blob = b"\n".join(
            (r.value or b"") + b" " + b" ".join(v for _, v in r.headers) for r in records
        )
        assert not _found(blob.decode(errors="replace")), topic
    # every row of every table of every schema
    engine = make_engine(settings.postgres_dsn, pool_size=1)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT table_schema, table_name FROM information_schema.tables "
                        "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN "
                        "('pg_catalog', 'information_schema')"
                    )
                )
            ).all()
            assert ("pgw", "payment_methods") in {(s, t) for s, t in tables}
            for schema, table in tables:
                rows = await conn.execute(
                    text(f'SELECT CAST(row_to_json(t) AS text) FROM "{schema}"."{table}" t')
                )
                assert not _found("\n".join(r[0] for r in rows)), f"{schema}.{table}"
    finally:
        await engine.dispose()
