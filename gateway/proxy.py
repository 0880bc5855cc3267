"""Forwarding one public request: route, verify the token, count it, call the upstream.

Order of the checks, cheapest refusal first: unknown route (404), dot segments (400),
a declared body over the limit (413), the access token (verified locally against the
cached JWKS), the rate limits (one Redis round trip; requests with a bad token count
against the IP too), the circuit breaker, then the body is read (413 when it grows past
the limit) and sent on. The token is passed on: services verify it again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from common.auth import JwksVerifier, Principal, token_of
from common.body import too_large
from common.errors import Problem
from common.fastlane import FastRequest, FastResponse
from common.http1 import ConnectError, Headers, HttpError
from common.prefer import prefer_wait
from gateway.metrics import RATE_LIMITED, UPSTREAM_RESPONSES
from gateway.ratelimit import RateDecision, RedisRateLimiter
from gateway.routes import RouteTable, has_dot_segments
from gateway.settings import GatewaySettings
from gateway.upstreams import FAILURE_STATUSES, Upstream

# End-to-end request headers a service may care about; everything else stays here.
FORWARDED_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "accept-language",
    "idempotency-key",
    "prefer",
    "if-match",
    "if-none-match",
    "user-agent",
    "tracestate",
)
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Set again by the gateway itself (length, ids, trace) or by its server (date, server).
DROPPED_RESPONSE_HEADERS = HOP_BY_HOP | {
    "content-length",
    "content-encoding",
    "date",
    "server",
    "x-request-id",
    "x-correlation-id",
    "traceparent",
}


def request_timeout(prefer: str | None, default_s: float) -> float:
    """``Prefer: wait=N`` lets a money POST wait up to N (<= 30) seconds upstream."""
    return max(default_s, prefer_wait(prefer, -5.0) + 5.0)


def forward_headers(request: FastRequest) -> list[tuple[bytes, bytes]]:
    """Headers for the upstream, as the pool sends them (latin-1: the bytes the client
    sent): the allowed end-to-end ones plus ids and trace context, and ``Accept: */*``
    when the client sent no Accept."""
    given = request.headers
    headers = {k: given[k] for k in FORWARDED_REQUEST_HEADERS if k in given}
    headers.setdefault("accept", "*/*")
    headers["x-request-id"] = request.request_id
    headers["x-correlation-id"] = request.correlation_id
    headers["traceparent"] = request.traceparent
    headers["x-forwarded-for"] = request.client
    headers["x-forwarded-proto"] = request.scope.get("scheme", "http")
    if host := given.get("host"):
        headers["x-forwarded-host"] = host
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def response_headers(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The upstream's response headers minus hop-by-hop ones and those we set ourselves."""
    raw = list(raw)
    connection = {
        token.strip().lower()
        for k, v in raw
        if k.lower() == b"connection"
        for token in v.decode("latin-1").split(",")
        if token.strip()
    }
    dropped = DROPPED_RESPONSE_HEADERS | connection
    return [(k, v) for k, v in raw if k.decode("latin-1").lower() not in dropped]


@dataclass(slots=True)
class Proxy:
    """Everything one forwarded request needs; built once by the lifespan."""

    settings: GatewaySettings
    table: RouteTable
    upstreams: dict[str, Upstream]
    verifier: JwksVerifier
    limiter: RedisRateLimiter

    async def handle(self, request: FastRequest, path: str, prefix: str) -> FastResponse:
        """Answer ``request`` whose path without ``prefix`` is ``path``."""
        name = self.table.resolve(path)
        if name is None:
            raise Problem(404, "route_not_found", f"no service serves {path}")
        if has_dot_segments(path):
            raise Problem(400, "bad_path", "dot segments are not allowed in paths")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            raise too_large(self.settings.max_body_bytes)

        principal, auth_error = await self._authenticate(request, path)
        decision = await self.limiter.hit(request.client, principal.subject if principal else None)
        limit_headers = decision.headers() if decision else {}
        if decision is not None and not decision.allowed:
            RATE_LIMITED.inc()
            raise _rate_limited(decision)
        if auth_error is not None:
            raise Problem(
                auth_error.status,
                auth_error.code,
                auth_error.detail,
                {**auth_error.headers, **limit_headers},
            )

        response = await self._forward(self.upstreams[name], request, prefix)
        response.headers.extend((k.lower().encode(), v.encode()) for k, v in limit_headers.items())
        return response

    async def _authenticate(
        self, request: FastRequest, path: str
    ) -> tuple[Principal | None, Problem | None]:
        if self.table.is_public(request.method, path):
            return None, None
        try:
            return await self.verifier.verify(token_of(request.headers.get("authorization"))), None
        except Problem as exc:
            if exc.status != 401:
                raise  # jwks_unavailable: our problem, not the caller's
            return None, exc

    async def _forward(self, upstream: Upstream, request: FastRequest, prefix: str) -> FastResponse:
        breaker = upstream.breaker
        if not breaker.allow():
            UPSTREAM_RESPONSES.labels(upstream.name, "breaker_open").inc()
            raise Problem(
                503,
                "upstream_unavailable",
                f"{upstream.name} is unavailable (circuit open)",
                {"Retry-After": str(max(1, math.ceil(breaker.retry_after())))},
                upstream=upstream.name,
                circuit="open",
            )
        # the connect timeout (waiting for a free connection included) is the pool's
        timeout = request_timeout(request.headers.get("prefer"), self.settings.upstream_timeout_s)
        try:
            body = await request.body()
            status, raw, content = await upstream.pool.request(
                request.method,
                upstream.path + _upstream_target(request, prefix),
                body,
                forward_headers(request),
                timeout,
            )
        except (ConnectError, HttpError, TimeoutError) as exc:
            breaker.record_failure()
            UPSTREAM_RESPONSES.labels(upstream.name, type(exc).__name__).inc()
            raise _transport_problem(upstream.name, exc) from None
        except BaseException:
            breaker.release()  # 413, a cancelled request: says nothing about the upstream
            raise
        if status in FAILURE_STATUSES and not _busy(status, raw):
            breaker.record_failure()
        else:
            breaker.record_success()
        UPSTREAM_RESPONSES.labels(upstream.name, str(status)).inc()
        return FastResponse(status, content, response_headers(raw))


def _busy(status: int, raw: Headers) -> bool:
    """A 503 with ``Retry-After`` is a live service shedding a burst (common.cpu): passed
    on as it is, and no failure for the breaker, which would refuse every other call."""
    return status == 503 and any(k.lower() == b"retry-after" for k, _ in raw)


def _upstream_target(request: FastRequest, prefix: str) -> str:
    """Path (still percent-encoded as the client sent it) and query for the upstream."""
    raw = request.scope.get("raw_path") or b""
    raw_path = raw.decode("latin-1")
    if raw_path.startswith(prefix + "/"):
        target = raw_path[len(prefix) :]
    else:
        target = quote(request.path[len(prefix) :])
    query = request.scope.get("query_string", b"")
    return f"{target}?{query.decode('latin-1')}" if query else target


def _rate_limited(decision: RateDecision) -> Problem:
    return Problem(
        429,
        "rate_limited",
        f"more than {decision.quota.limit} requests in {decision.window_s:g} s",
        decision.headers(),
    )


def _transport_problem(name: str, exc: Exception) -> Problem:
    """No connection: 503; no answer in time (connecting included): 504; else 502."""
    if isinstance(exc, ConnectError):
        return Problem(503, "upstream_unavailable", f"{name} is unavailable", upstream=name)
    if isinstance(exc, TimeoutError):
        return Problem(504, "upstream_timeout", f"{name} did not answer in time", upstream=name)
    return Problem(502, "bad_gateway", f"{name} gave no valid answer", upstream=name)
