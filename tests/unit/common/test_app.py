"""The HTTP skeleton every service shares: problem+json, ids, metrics, probes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from common.app import build_app
from common.errors import PROBLEM, Problem
from infra.testing.prometheus import samples_in


class Body(BaseModel):
    amount: int


async def _ok() -> None:
    return None


async def _down() -> None:
    raise ConnectionError("refused")


def make_client(checks: dict | None = None) -> TestClient:  # type: ignore[type-arg]
    app = build_app("unit", ready_checks=checks or {"db": _ok})

    @app.get("/things/{thing_id}")
    async def get_thing(thing_id: str) -> dict[str, str]:
        if thing_id == "missing":
            raise Problem(404, "thing_not_found", "no such thing")
        return {"id": thing_id}

    @app.post("/things")
    async def post_thing(body: Body) -> dict[str, int]:
        return {"amount": body.amount}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/store-down")
    async def store_down() -> None:
        lost = ConnectionRefusedError("connect to 10.0.0.5:5432 refused")
        raise DBAPIError("SELECT 1", None, lost, connection_invalidated=True)

    return TestClient(app, raise_server_exceptions=False)


def test_problem_is_rfc9457() -> None:
    resp = make_client().get("/things/missing")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == PROBLEM
    body = resp.json()
    assert body["status"] == 404 and body["code"] == "thing_not_found"
    assert body["type"].endswith("/thing_not_found") and body["instance"] == "/things/missing"


def test_validation_errors_and_unknown_routes_are_problems() -> None:
    client = make_client()
    resp = client.post("/things", json={"amount": "ten"})
    assert resp.status_code == 422 and resp.headers["content-type"] == PROBLEM
    assert resp.json()["errors"][0]["loc"] == ["body", "amount"]
    assert client.get("/nowhere").headers["content-type"] == PROBLEM


def test_unhandled_error_is_a_500_problem_without_internals() -> None:
    resp = make_client().get("/boom")
    assert resp.status_code == 500
    assert "secret internals" not in resp.text and resp.json()["code"] == "internal_error"


def test_a_lost_database_is_a_503_problem_with_retry_after() -> None:
    resp = make_client().get("/store-down")
    assert resp.status_code == 503 and resp.headers["retry-after"] == "1"
    assert resp.headers["content-type"] == PROBLEM
    assert resp.json()["code"] == "dependency_unavailable" and "10.0.0.5" not in resp.text


def test_request_id_and_traceparent_are_propagated() -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    resp = make_client().get("/things/a", headers={"x-request-id": "req-1", "traceparent": parent})
    assert resp.headers["x-request-id"] == "req-1"
    assert resp.headers["x-correlation-id"] == "req-1"
    trace = resp.headers["traceparent"].split("-")
    assert trace[1] == "0af7651916cd43dd8448eb211c80319c" and trace[2] != "b7ad6b7169203331"


def test_metrics_count_requests_by_route_template() -> None:
    client = make_client()
    client.get("/things/a")
    client.get("/things/b")
    page = client.get("/metrics").text
    (counted,) = samples_in(page, "paystream_http_requests_total",
                            route="/things/{thing_id}", service="unit", status="200")  # fmt: skip
    assert counted.value >= 2


def test_health_and_readiness() -> None:
    assert make_client().get("/health").json() == {"status": "ok"}
    assert make_client().get("/ready").status_code == 200
    resp = make_client({"db": _ok, "kafka": _down}).get("/ready")
    assert resp.status_code == 503
    assert resp.json()["checks"] == {"db": "ok", "kafka": "ConnectionError: refused"}
