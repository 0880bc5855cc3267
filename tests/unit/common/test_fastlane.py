"""The fast lane answers its routes like the full stack would: ids, problems, metrics."""

from __future__ import annotations

import logging

import orjson
import pytest
from aiokafka.errors import KafkaConnectionError
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from common.app import asgi_app, build_app
from common.errors import Problem
from common.fastlane import FastRequest, FastResponse, FastRoute, json_response
from common.logging import current_correlation_id

SERVICE = "lane-test"


async def echo(request: FastRequest) -> FastResponse:
    body = await request.body()
    if body == b"boom":
        raise RuntimeError("unexpected")
    if body == b"down":
        raise RuntimeError("append failed") from KafkaConnectionError()
    if body == b"nope":
        raise Problem(409, "conflict_here", "not like this", {"Retry-After": "3"}, hint="x")
    return json_response(
        201,
        {"len": len(body), "cid": current_correlation_id(), "state": request.state.marker},
        {"Location": "/things/1"},
    )


def make_client() -> TestClient:
    app = build_app(SERVICE)
    app.state.marker = "from-app-state"

    @app.post("/things")
    async def slow() -> dict[str, str]:  # the same route declared in FastAPI (OpenAPI)
        return {"served": "by fastapi"}

    @app.get("/things")
    async def listing() -> dict[str, str]:
        return {"served": "by fastapi"}

    app.state.fast_routes.append(FastRoute("POST", "/things", "/things", echo, body_limit=16))
    app.state.fast_lane_bypass = ("origin",)
    return TestClient(asgi_app(app))


def requests_counted(status: str) -> float:
    value = REGISTRY.get_sample_value(
        "paystream_http_requests_total",
        {"service": SERVICE, "method": "POST", "route": "/things", "status": status},
    )
    return value or 0.0


def test_a_fast_route_is_answered_by_the_lane_with_ids_and_metrics() -> None:
    client = make_client()
    before = requests_counted("201")
    r = client.post("/things", content=b"hello", headers={"X-Correlation-ID": "corr-1"})
    assert r.status_code == 201
    assert r.json() == {"len": 5, "cid": "corr-1", "state": "from-app-state"}
    assert r.headers["location"] == "/things/1"
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-correlation-id"] == "corr-1"
    assert r.headers["x-request-id"] and r.headers["traceparent"].startswith("00-")
    assert requests_counted("201") == before + 1


def test_other_methods_and_bypassed_requests_take_the_full_stack() -> None:
    client = make_client()
    assert client.get("/things").json() == {"served": "by fastapi"}
    r = client.post("/things", json="hello", headers={"Origin": "https://app.example"})
    assert r.json() == {"served": "by fastapi"}
    assert r.headers["x-request-id"]  # the full stack sets the ids too


def test_a_problem_is_problem_json_with_its_headers() -> None:
    r = make_client().post("/things", content=b"nope")
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "3"
    body = orjson.loads(r.content)
    assert body["code"] == "conflict_here" and body["status"] == 409
    assert body["instance"] == "/things" and body["hint"] == "x"


def test_an_unexpected_error_is_a_logged_500_problem(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="paystream.errors"):
        r = make_client().post("/things", content=b"boom")
    assert r.status_code == 500
    assert r.json()["code"] == "internal_error"
    assert "unexpected" not in r.text  # no internals leak to the client
    assert any(rec.exc_info for rec in caplog.records)


def test_a_body_over_the_route_limit_is_413() -> None:
    r = make_client().post("/things", content=b"x" * 17)
    assert r.status_code == 413
    assert r.json()["code"] == "body_too_large"


def test_nul_in_the_query_is_a_422_in_the_lane_too() -> None:
    r = make_client().post("/things?note=a%00b", content=b"hello")
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    assert r.json()["errors"][0]["loc"] == ["query", "note"]


def test_a_lost_store_or_kafka_is_a_503_problem_with_retry_after() -> None:
    r = make_client().post("/things", content=b"down")
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["code"] == "dependency_unavailable"
    assert "append failed" not in r.text
