"""One JSON access line per request, in the FastAPI stack and the fast lane alike; error
lines in a request's context; metrics labelled by route template."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from common.app import asgi_app, build_app
from common.fastlane import FastRequest, FastResponse, FastRoute, json_response
from common.logging import JsonFormatter, note_user

SERVICE = "access-test"
TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJlLXNlY3JldA"
PAN = "4111111111111111"


class Lines(logging.Handler):
    """Formats each record as it is emitted (inside the request's context)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter(SERVICE))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def docs(self, logger: str) -> list[dict[str, Any]]:
        return [d for d in map(orjson.loads, self.lines) if d["logger"] == logger]


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


router = APIRouter()


@router.get("/wallets/{wallet_id}")
async def get_wallet(wallet_id: str) -> dict[str, str]:
    note_user("user-1")  # what JwksVerifier.verify does for a verified caller
    return {"id": wallet_id}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("unexpected")


async def pay(request: FastRequest) -> FastResponse:
    note_user("user-2")
    await request.body()
    return json_response(201, {"ok": True})


def client() -> TestClient:
    app = build_app(SERVICE)
    app.include_router(router)

    @app.post("/payments")
    async def payments() -> None:  # the fast route's FastAPI twin (OpenAPI)
        return None

    app.state.fast_routes.append(FastRoute("POST", "/payments", "/payments", pay))
    return TestClient(asgi_app(app), raise_server_exceptions=False)


def test_a_request_through_fastapi_writes_one_access_line_with_its_route_template(
    lines: Lines,
) -> None:
    r = client().get(
        f"/wallets/w-{PAN}",
        headers={"Authorization": f"Bearer {TOKEN}", "X-Request-ID": "req-7"},
    )
    assert r.status_code == 200
    (line,) = lines.docs("paystream.access")
    assert line["method"] == "GET" and line["route"] == "/wallets/{wallet_id}"
    assert line["status"] == 200 and line["duration_ms"] >= 0
    assert line["request_id"] == "req-7" and line["user_id"] == "user-1"
    text = "".join(lines.lines)
    assert TOKEN not in text and PAN not in text


def test_a_fast_lane_request_writes_the_same_access_line(lines: Lines) -> None:
    r = client().post("/payments", content=b"{}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 201
    (line,) = lines.docs("paystream.access")
    assert line["method"] == "POST" and line["route"] == "/payments" and line["status"] == 201
    assert line["request_id"] == r.headers["x-request-id"] and line["user_id"] == "user-2"
    assert TOKEN not in "".join(lines.lines)


def test_an_unhandled_error_is_logged_with_the_request_and_answered_500(lines: Lines) -> None:
    r = client().get("/boom", headers={"X-Request-ID": "req-9"})
    assert r.status_code == 500 and r.json()["code"] == "internal_error"
    assert r.headers["x-request-id"] == "req-9"
    (error,) = lines.docs("paystream.errors")
    assert error["level"] == "error" and "RuntimeError" in error["exc"]
    assert (error["request_id"], error["method"], error["path"]) == ("req-9", "GET", "/boom")
    (access,) = lines.docs("paystream.access")
    assert access["status"] == 500 and access["route"] == "/boom"


def test_metrics_label_a_route_of_an_included_router_by_its_template() -> None:
    def count() -> float:
        labels = {"service": SERVICE, "method": "GET", "route": "/wallets/{wallet_id}"}
        value = REGISTRY.get_sample_value(
            "paystream_http_requests_total", {**labels, "status": "200"}
        )
        return value or 0.0

    before = count()
    c = client()
    c.get("/wallets/a")
    c.get("/wallets/b")
    assert count() == before + 2
    unmatched = REGISTRY.get_sample_value(
        "paystream_http_requests_total",
        {"service": SERVICE, "method": "GET", "route": "unmatched", "status": "404"},
    )
    assert c.get("/nowhere").status_code == 404
    after = REGISTRY.get_sample_value(
        "paystream_http_requests_total",
        {"service": SERVICE, "method": "GET", "route": "unmatched", "status": "404"},
    )
    assert (after or 0) == (unmatched or 0) + 1
