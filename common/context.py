"""Request id, correlation id and W3C ``traceparent`` for every HTTP request."""

from __future__ import annotations

import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.logging import correlation_id, request_id
from contracts.ids import uuid7

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def child_traceparent(parent: str | None) -> str:
    """Continue the caller's trace with a new span id, or start a new trace."""
    m = TRACEPARENT.match(parent or "")
    trace_id = m.group(1) if m else os.urandom(16).hex()
    flags = m.group(3) if m else "01"
    return f"00-{trace_id}-{os.urandom(8).hex()}-{flags}"


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


class RequestContextMiddleware:
    """Takes ``X-Request-ID``/``X-Correlation-ID``/``traceparent`` from the caller (or makes
    them), exposes them to logs through context variables and echoes them back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid, cid, trace = request_ids(scope_headers(scope))
        scope.setdefault("state", {})
        scope["state"].update(request_id=rid, correlation_id=cid, traceparent=trace)
        t1, t2 = request_id.set(rid), correlation_id.set(cid)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", rid.encode()),
                    (b"x-correlation-id", cid.encode()),
                    (b"traceparent", trace.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            request_id.reset(t1)
            correlation_id.reset(t2)
