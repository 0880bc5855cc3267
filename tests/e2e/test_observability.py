"""Following one request: its trace runs from the HTTP request to the transfer's
terminal event, every process it crossed wrote one access line for it, and the metrics
name its route by template."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import orjson
import pytest

from common.kafka.headers import traceparent_of
from common.settings import Settings
from common.topics import TRANSACTION_EVENTS
from common.trace import TRACEPARENT
from contracts.envelope import Envelope
from infra.testing.api import open_wallet, register, two_users
from infra.testing.kafka import read_records
from infra.testing.prometheus import scrape
from infra.testing.stack import StackUnderTest

pytestmark = pytest.mark.e2e


async def test_the_terminal_event_of_a_transfer_is_in_the_request_trace(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    # given two wallets, one funded
    alice, _, wa, wb = await two_users(api, ("tracer", "traced"), 1_000)
    # when a transfer is requested inside a trace the client began
    trace_id, client_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    body = {"from_wallet_id": wa, "to_wallet_id": wb, "amount": 100, "currency": "USD"}
    headers = {
        **alice.auth,
        "Idempotency-Key": str(uuid.uuid4()),
        "Prefer": "wait=15",
        "traceparent": f"00-{trace_id}-{client_span}-01",
    }
    r = await api.post("/transfers", json=body, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    tx = r.json()["id"]
    # then the gateway answered in that trace with a span of its own
    answered = TRACEPARENT.match(r.headers["traceparent"])
    assert answered and answered.group(1) == trace_id and answered.group(2) != client_span
    # and the terminal event carries the trace, in a span of its own
    records = await read_records(settings.kafka_bootstrap, TRANSACTION_EVENTS)
    ours = {
        Envelope.from_bytes(rec.value).type: traceparent_of(rec.headers)
        for rec in records
        if Envelope.from_bytes(rec.value).key == tx
    }
    assert {"TransferRequested", "TransferCompleted"} <= set(ours), ours
    spans = set()
    for kind, traceparent in ours.items():
        m = TRACEPARENT.match(traceparent or "")
        assert m and m.group(1) == trace_id, (kind, traceparent)
        spans.add(m.group(2))
    assert len(spans) == len(ours) and client_span not in spans
    assert answered.group(2) not in spans


def access_lines(stack: StackUnderTest, process: str, request_id: str) -> list[dict[str, object]]:
    path = stack.cfg.run_dir / "logs" / f"{process}.log"
    lines = []
    for raw in path.read_bytes().splitlines():
        if request_id.encode() in raw and raw.startswith(b"{"):
            doc = orjson.loads(raw)
            if doc.get("logger") == "paystream.access" and doc.get("request_id") == request_id:
                lines.append(doc)
    return lines


async def test_each_process_a_request_crosses_writes_one_access_line(
    api: httpx.AsyncClient, apps: StackUnderTest, settings: Settings
) -> None:
    # given a user with a wallet
    user = await register(api, "logged")
    wallet = await open_wallet(api, user)
    subject = user.id
    # when the wallet is read with a request id of the client's
    request_id = f"access-{uuid.uuid4().hex}"
    r = await api.get(f"/wallets/{wallet}", headers={**user.auth, "X-Request-ID": request_id})
    assert r.status_code == 200 and r.headers["x-request-id"] == request_id
    # then the gateway and wallet_svc each wrote one access line for it, naming the
    # route template and the caller, and no token
    lines: dict[str, list[dict[str, object]]] = {}
    for _ in range(20):
        lines = {p: access_lines(apps, p, request_id) for p in ("gateway", "wallet_svc")}
        if all(lines.values()):
            break
        await asyncio.sleep(0.25)
    (gateway,) = lines["gateway"]
    (service,) = lines["wallet_svc"]
    assert gateway["route"] == "/api/v1/{path:path}" and service["route"] == "/wallets/{wallet_id}"
    for line in (gateway, service):
        assert line["method"] == "GET" and line["status"] == 200
        assert line["user_id"] == subject and isinstance(line["duration_ms"], float)
        assert user.token not in orjson.dumps(line).decode()
    # and wallet_svc's metrics label the request by the same template
    assert await scrape(settings.wallet_svc_url, "paystream_http_requests_total",
                        route="/wallets/{wallet_id}", status="200")  # fmt: skip
