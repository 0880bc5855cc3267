"""The OpenAPI document tells the truth about errors: every error is problem+json, and
every status an operation can answer is declared.

A route declares the statuses only it answers (``responses=errors(403, 404)``);
:func:`install_openapi` adds the ones the shared machinery answers: 422 everywhere
(validation, U+0000 in the URL), 400/413/415 where there is a body (``common.body``),
400 where there is a cursor, 401 where the route needs a token (``current_principal``).
The gateway adds its own (``gateway.openapi``).
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict

from common.auth import current_principal
from common.errors import PROBLEM

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


class ProblemLocation(BaseModel):
    loc: list[str]
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem document, as every paystream error is answered."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemLocation] | None = None


def problem_schemas() -> dict[str, Any]:
    """The component schemas :data:`PROBLEM_REF` points to."""
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**problem.pop("$defs", {}), "Problem": problem}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the error statuses it answers itself."""
    return {status: {"description": HTTPStatus(status).phrase} for status in statuses}


def add_error(op: dict[str, Any], status: int) -> None:
    """Declare ``status`` on an operation (a problem+json document)."""
    responses = op.setdefault("responses", {})
    entry = responses.setdefault(str(status), {"description": HTTPStatus(status).phrase})
    entry["content"] = {PROBLEM: {"schema": PROBLEM_REF}}


def operations(doc: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, item in (doc.get("paths") or {}).items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                yield path, method, op


def _needs_token(dependant: Dependant) -> bool:
    return any(d.call is current_principal or _needs_token(d) for d in dependant.dependencies)


def _secured(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of every operation whose route needs a token (included routers too)."""
    secured: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and _needs_token(route.dependant):
            path = context.path_format or route.path_format
            secured.update((path, method.lower()) for method in context.methods or ())
    return secured


def with_problems(doc: dict[str, Any], secured: set[tuple[str, str]]) -> dict[str, Any]:
    """``doc`` with the shared error statuses declared and every error as problem+json."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(problem_schemas())
    for path, method, op in operations(doc):
        params = {p.get("name") for p in op.get("parameters", [])}
        statuses = {422}
        if "requestBody" in op:
            statuses |= {400, 413, 415}
        if "cursor" in params:
            statuses.add(400)
        if (path, method) in secured:
            statuses.add(401)
        for status in statuses:
            add_error(op, status)
        for status, entry in op.get("responses", {}).items():
            if status[0] in "45":
                entry["content"] = {PROBLEM: {"schema": PROBLEM_REF}}
    return doc


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`with_problems` of FastAPI's document (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=None
            )
            app.openapi_schema = with_problems(doc, _secured(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
