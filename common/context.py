"""What every HTTP request gets, in the FastAPI stack and the fast lane alike: request id,
correlation id and W3C ``traceparent``; the logging context; metrics and an access line."""

from __future__ import annotations

import logging
import re
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.errors import PROBLEM, problem_body, unhandled
from common.logging import RequestInfo, current_request, log_access
from common.metrics import observe_http
from common.trace import child_traceparent
from contracts.ids import uuid7

log = logging.getLogger("paystream.errors")

_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def scope_headers(scope: Scope) -> dict[str, str]:
    """An ASGI request's headers as ``{lower-case name: value}``."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def request_ids(headers: dict[str, str]) -> tuple[str, str, str]:
    """(request id, correlation id, traceparent) for a request with these lower-case
    headers: the caller's when well-formed, otherwise new ones."""
    rid = headers.get("x-request-id", "")
    rid = rid if _ID.match(rid) else str(uuid7())
    cid = headers.get("x-correlation-id", "")
    cid = cid if _ID.match(cid) else rid
    return rid, cid, child_traceparent(headers.get("traceparent"))


class ServedRequest:
    """One HTTP request being served: made from its scope when it arrives (its ids become
    the logging context), :meth:`done` once answered (metrics, access line, context
    restored)."""

    __slots__ = ("_token", "headers", "info", "started", "trace")

    def __init__(self, scope: Scope) -> None:
        self.started = time.perf_counter()
        self.headers = scope_headers(scope)
        rid, cid, self.trace = request_ids(self.headers)
        self.info = RequestInfo(rid, cid, scope["method"], scope["path"])
        self._token = current_request.set(self.info)

    def id_headers(self) -> list[tuple[bytes, bytes]]:
        """The ids every response echoes."""
        return [
            (b"x-request-id", self.info.request_id.encode()),
            (b"x-correlation-id", self.info.correlation_id.encode()),
            (b"traceparent", self.trace.encode()),
        ]

    def done(self, service: str, route: str, status: int) -> None:
        seconds = time.perf_counter() - self.started
        observe_http(service, self.info.method, route, status, seconds)
        log_access(route, status, seconds)
        current_request.reset(self._token)


def route_template(scope: Scope) -> str:
    """The template of the route that served the request, as routing left it in the scope
    (``scope["route"]``, set by Starlette's and FastAPI's routers, included routers too);
    ``unmatched`` when no route did."""
    return str(getattr(scope.get("route"), "path", None) or "unmatched")


class RequestContextMiddleware:
    """Every HTTP request of the FastAPI stack: takes ``X-Request-ID``/
    ``X-Correlation-ID``/``traceparent`` from the caller (or makes them), makes them the
    logging context and echoes them back; answers an unhandled error with a problem
    (``common.errors.unhandled``: 503 for an outage, else 500; logged here, inside the
    request's context); counts, times and access-logs the
    request by its route template."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        served = ServedRequest(scope)
        info = served.info
        scope.setdefault("state", {})
        scope["state"].update(
            request_id=info.request_id, correlation_id=info.correlation_id, traceparent=served.trace
        )
        status = 500
        begun = False
        echoed = served.id_headers()

        async def send_wrapper(message: Message) -> None:
            nonlocal status, begun
            if message["type"] == "http.response.start":
                status, begun = message["status"], True
                message["headers"] = [*message.get("headers", ()), *echoed]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            log.exception("unhandled error")
            if begun:  # nothing else can be sent
                raise
            problem = unhandled(exc)
            body = orjson.dumps(problem_body(problem.status, problem.code, None, scope["path"]))
            headers = [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
            await send_wrapper(
                {
                    "type": "http.response.start",
                    "status": problem.status,
                    "headers": [
                        (b"content-type", PROBLEM.encode()),
                        (b"content-length", str(len(body)).encode()),
                        *headers,
                    ],
                }
            )
            await send_wrapper({"type": "http.response.body", "body": body})
        finally:
            served.done(self.service, route_template(scope), status)
