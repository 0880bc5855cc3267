"""The fast lane: a service's hottest endpoints answered as plain ASGI.

Profiles of the money path under load showed FastAPI's per-request machinery (seven
middleware layers, routing, dependency solving, response encoding) costing more CPU
than the work a money POST or a gateway forward does. A service registers those few
endpoints as :class:`FastRoute`; :func:`common.app.serve` puts :class:`FastLane` in
front of the FastAPI app, and every other request goes through the full stack.

The lane keeps what the stack gives every request: request and correlation ids and
``traceparent`` (the rules of :mod:`common.context`), problem+json errors (the documents
of :mod:`common.errors`), the same Prometheus series (:mod:`common.metrics`) and a body
limit. The same routes stay declared in FastAPI (OpenAPI, /docs, in-process tests) and
both call the same handler, so the two paths cannot drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from common.body import DEFAULT_BODY_LIMIT, JSON, check_url, read_body, read_json
from common.context import ServedRequest, scope_headers
from common.errors import PROBLEM, Problem, problem_body, unhandled

log = logging.getLogger("paystream.errors")


@dataclass(slots=True)
class FastRequest:
    """What a fast handler sees of a request. ``headers`` has lower-case names."""

    scope: Scope
    receive: Receive
    method: str
    path: str
    headers: dict[str, str]
    request_id: str
    correlation_id: str
    traceparent: str
    body_limit: int = DEFAULT_BODY_LIMIT
    state: Any = None  # the app's state (clients, settings)

    @property
    def client(self) -> str:
        client = self.scope.get("client")
        return str(client[0]) if client else "unknown"

    async def body(self) -> bytes:
        """The whole body; a 413 problem as soon as it grows past ``body_limit``."""
        return await read_body(self.receive, self.body_limit)

    async def json(self) -> Any:
        """The body's JSON value, read as every route reads it (:func:`common.body.read_json`)."""
        return read_json(self.headers.get("content-type"), await self.body())

    @classmethod
    def of(cls, request: Request, body_limit: int = DEFAULT_BODY_LIMIT) -> FastRequest:
        """The same view of a request that came through the full FastAPI stack."""
        state = request.state
        return cls(
            request.scope,
            request.receive,
            request.method,
            request.scope["path"],
            scope_headers(request.scope),
            state.request_id,
            state.correlation_id,
            state.traceparent,
            body_limit,
            request.app.state,
        )


@dataclass(slots=True)
class FastResponse:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def to_starlette(self) -> Response:
        response = Response(content=self.body, status_code=self.status)
        response.raw_headers.extend(self.headers)
        return response


def json_response(
    status: int, content: Any, headers: dict[str, str] | None = None, media_type: str = JSON
) -> FastResponse:
    raw = [(b"content-type", media_type.encode())]
    if headers:
        raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    return FastResponse(status, orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS), raw)


def problem_of(exc: Problem, path: str) -> FastResponse:
    body = problem_body(exc.status, exc.code, exc.detail, path, **exc.extra)
    return json_response(exc.status, body, exc.headers, PROBLEM)


Handler = Callable[[FastRequest], Awaitable[FastResponse]]


@dataclass(frozen=True, slots=True)
class FastRoute:
    """``method`` None takes every method; ``prefix`` matches every path below ``path``.
    ``label`` is the route template metrics report (the one the FastAPI route has)."""

    method: str | None
    path: str
    label: str
    handler: Handler
    prefix: bool = False
    body_limit: int = DEFAULT_BODY_LIMIT


class FastLane:
    """ASGI app: requests for a :class:`FastRoute` are answered here, the rest by ``app``.

    A request carrying one of the ``bypass_headers`` (the gateway passes ``origin``, so
    CORS stays with Starlette's middleware) always takes the full stack."""

    def __init__(
        self,
        app: ASGIApp,
        service: str,
        routes: list[FastRoute],
        state: Any = None,
        bypass_headers: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.service = service
        self.state = state
        self.exact = {(r.method, r.path): r for r in routes if not r.prefix}
        self.prefixes = [r for r in routes if r.prefix]
        self.bypass = tuple(h.encode() for h in bypass_headers)

    def match(self, method: str, path: str) -> FastRoute | None:
        route = self.exact.get((method, path)) or self.exact.get((None, path))
        if route is not None:
            return route
        for r in self.prefixes:
            if path.startswith(r.path) and r.method in (None, method):
                return r
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.match(scope["method"], scope["path"])
            if route is not None and not (
                self.bypass and any(k in self.bypass for k, _ in scope["headers"])
            ):
                await self._serve(route, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(self, route: FastRoute, scope: Scope, receive: Receive, send: Send) -> None:
        served = ServedRequest(scope)
        info = served.info
        path = info.path
        request = FastRequest(
            scope,
            receive,
            info.method,
            path,
            served.headers,
            info.request_id,
            info.correlation_id,
            served.trace,
            route.body_limit,
            self.state,
        )
        status = 500
        try:
            try:
                check_url(scope)  # as BodyGuard does for every FastAPI route
                response = await route.handler(request)
            except Problem as exc:
                response = problem_of(exc, path)
            except Exception as exc:
                log.exception("unhandled error")
                response = problem_of(unhandled(exc), path)
            status = response.status
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-length", str(len(response.body)).encode()),
                        *response.headers,
                        *served.id_headers(),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": response.body})
        finally:
            served.done(self.service, route.label, status)
