"""Every service's OpenAPI document declares its errors as problem+json (common.openapi)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel

from common.app import build_app
from common.auth import CurrentPrincipal
from common.errors import PROBLEM
from common.openapi import errors


class Thing(BaseModel):
    name: str


class ThingOut(BaseModel):
    id: str


def _app() -> Any:
    app = build_app("unit")
    router = APIRouter()

    @router.post("/things", response_model=ThingOut, status_code=201, responses=errors(409))
    async def create(body: Thing, _: CurrentPrincipal) -> dict[str, str]:
        return {"id": "1"}

    @router.get("/things", response_model=list[ThingOut])
    async def listing(cursor: str | None = None) -> list[dict[str, str]]:
        return []

    @router.patch("/things/{thing_id}", response_model=ThingOut, responses=errors(404))
    async def rename(thing_id: str, body: Thing) -> dict[str, str]:
        return {"id": thing_id}

    app.include_router(router)  # an included router, as every service has
    return app


def _statuses(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return dict(doc["paths"][path][method]["responses"])


def test_each_operation_declares_the_errors_it_can_answer_as_problem_json() -> None:
    doc = _app().openapi()
    assert set(_statuses(doc, "/things", "post")) == {
        "201",
        "400",
        "401",
        "409",
        "413",
        "415",
        "422",
    }
    assert set(_statuses(doc, "/things", "get")) == {"200", "400", "422"}
    assert set(_statuses(doc, "/things/{thing_id}", "patch")) == {
        "200", "400", "404", "413", "415", "422",
    }  # fmt: skip
    for path, item in doc["paths"].items():
        for op in item.values():
            for status, response in op["responses"].items():
                if status[0] in "45":
                    assert list(response["content"]) == [PROBLEM], (path, status)
    assert "Problem" in doc["components"]["schemas"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_a_405_names_every_method_the_path_takes() -> None:
    response = TestClient(_app()).delete("/things")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.headers["content-type"] == PROBLEM


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


def test_every_services_bounds_are_json_schema_keywords() -> None:
    # pydantic writes a bound it cannot translate as its own name ("gt"), which no client
    # or fuzzer understands: every bound must come out as JSON Schema ("exclusiveMinimum")
    from pgw_svc.main import create_app as pgw_app
    from pgw_svc.settings import PgwSettings
    from transaction_svc.main import create_app as transaction_app
    from transaction_svc.settings import TransactionSettings
    from wallet_svc.main import create_app as wallet_app
    from wallet_svc.settings import WalletSettings

    for app in (
        transaction_app(TransactionSettings()),
        wallet_app(WalletSettings()),
        pgw_app(PgwSettings()),
    ):
        assert not _keys(app.openapi()) & {"gt", "ge", "lt", "le"}, app.title
