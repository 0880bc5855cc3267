"""Every message on the public topics meets its committed JSON Schema (docs/contracts/),
checked after every other e2e test so it covers all they produced, and the example
consumer of docs/events.md runs against the stack."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from common.kafka.headers import message_type
from common.settings import Settings
from contracts.generate import OUT
from contracts.topics import PUBLIC
from infra.testing.api import User, money_post, two_users
from infra.testing.kafka import read_records, wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "events_consumer.py"


@cache
def validator(topic: str, type_: str, version: int) -> Draft202012Validator | None:
    path = OUT / topic / f"{type_}.v{version}.json"
    return Draft202012Validator(json.loads(path.read_text())) if path.exists() else None


async def transfer(
    api: httpx.AsyncClient, user: User, src: str, dst: str, amount: int
) -> dict[str, Any]:
    body = {"from_wallet_id": src, "to_wallet_id": dst, "amount": amount, "currency": "USD"}
    r = await money_post(api, user, "/transfers", body, wait=15)
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.last  # reads what the whole e2e tier produced
async def test_every_public_message_meets_its_schema(
    api: httpx.AsyncClient, admin: User, settings: Settings
) -> None:
    # given a registration, a deposit, and transfers that complete, fail and are reversed
    alice, _, wa, wb = await two_users(api, ("schema-a", "schema-b"), 1000)
    assert (await transfer(api, alice, wa, wb, 300))["status"] == "completed"
    assert (await transfer(api, alice, wa, wb, 5000))["status"] == "failed"  # no funds
    r = await api.post(f"/wallets/{wb}/freeze", headers=admin.auth)
    assert r.status_code == 200, r.text
    assert (await transfer(api, alice, wa, wb, 200))["status"] == "reversed"

    async def registered() -> bool:  # the outbox relay publishes after the commit
        records = await read_records(settings.kafka_bootstrap, "user-events")
        return any(alice.email.encode() in r.value for r in records)

    await wait_for(registered, timeout=30)
    # when every public topic is read from the beginning
    seen: Counter[str] = Counter()
    problems: list[str] = []
    for topic in PUBLIC:
        for record in await read_records(settings.kafka_bootstrap, topic.name):
            doc = json.loads(record.value)
            type_, version = doc.get("type"), doc.get("schema_version")
            where = f"{topic.name}:{record.partition}:{record.offset} {type_} v{version}"
            check = validator(topic.name, str(type_), int(version or 0))
            if check is None:
                problems.append(f"{where}: no schema")
                continue
            problems += [f"{where}: {e.message} at {e.json_path}" for e in check.iter_errors(doc)]
            if message_type(record.headers) != type_:
                problems.append(f"{where}: type header {message_type(record.headers)!r}")
            seen[type_] += 1
    # then every message has a schema and meets it
    assert problems == []
    expected = {
        "UserRegistered",
        "WalletOpened",
        "WalletFrozen",
        "WalletDebited",
        "WalletCredited",
        "DebitRejected",
        "CreditRejected",
        "DepositRequested",
        "DepositCompleted",
        "TransferRequested",
        "TransferCompleted",
        "TransferFailed",
        "TransferReversed",
    }
    assert expected <= set(seen), expected - set(seen)


async def run_example(bootstrap: str, group: str) -> list[dict[str, Any]]:
    """Run examples/events_consumer.py until it has been idle for 3 s; its JSON lines."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), "--bootstrap", bootstrap, "--group", group,
        "--topic", "transaction-events", "--topic", "wallet-events", "--idle-exit", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines()]


async def test_the_example_consumer_prints_each_event_once_and_resumes_after_it(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    # given a completed transfer of 2.50
    alice, _, wa, wb = await two_users(api, ("example-a", "example-b"), 1000)
    tx = await transfer(api, alice, wa, wb, 250)
    assert tx["status"] == "completed"
    # when the example consumer reads the public topics with a new group
    group = f"example-{uuid.uuid4()}"
    lines = await run_example(settings.kafka_bootstrap, group)
    # then it printed the transfer from request to completion, and every event once
    mine = [line for line in lines if line["key"] == tx["id"]]
    assert mine[0]["type"] == "TransferRequested" and mine[-1]["type"] == "TransferCompleted"
    assert mine[-1]["payload"]["amount"] == 250
    debits = [line for line in lines if line["key"] == wa and line["type"] == "WalletDebited"]
    assert [d["payload"]["amount"] for d in debits] == [250]
    assert len({line["event_id"] for line in lines}) == len(lines)
    # and the same group, run again, resumes after what it committed
    again = await run_example(settings.kafka_bootstrap, group)
    assert [line for line in again if line["key"] in (tx["id"], wa)] == []
