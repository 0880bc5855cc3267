"""One delivery attempt: the event's JSON POSTed to the endpoint, signed with its
secret(s) (``common.signatures``: ``Paystream-Signature: t=<unix>,v1=<hex>``, one ``v1``
per secret while a rotated one still holds) and named by ``Paystream-Event-Id`` for the
receiver's dedupe. Any 2xx is a success; anything else, a timeout or a refused target is
a failure (with the answer's ``Retry-After``, for ``common.retry``). Redirects are not
followed (they could lead past the target policy); the response body is not read."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from common.signatures import HEADER, sign
from transaction_svc.webhooks.targets import TargetPolicy, parse_target, refused, resolve

EVENT_ID_HEADER = "Paystream-Event-Id"
USER_AGENT = "paystream-webhooks/1"


@dataclass(frozen=True, slots=True)
class Sent:
    status_code: int | None
    latency_ms: int
    error: str | None
    retry_after: str | None = None  # the answer's Retry-After header, as sent


def signed_headers(
    event_id: str, body: bytes, secrets: tuple[str, ...], now: int
) -> dict[str, str]:
    """The headers of a delivery of ``body`` at ``now`` (unix seconds)."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        EVENT_ID_HEADER: event_id,
        HEADER: sign([s.encode() for s in secrets], now, body),
    }


async def send(
    client: httpx.AsyncClient,
    policy: TargetPolicy,
    url: str,
    event_id: str,
    body: bytes,
    secrets: tuple[str, ...],
) -> Sent:
    """POST ``body`` to ``url`` once, after checking where its host points now."""
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        target = parse_target(url, policy)
    except Exception as exc:  # the policy was tightened since the endpoint was made
        return Sent(None, elapsed(), f"target_refused: {exc}")
    addresses = await resolve(target)
    if not addresses:
        return Sent(None, elapsed(), f"host_unresolvable: {target.host}")
    if refused(addresses, policy):
        return Sent(None, elapsed(), "target_refused: not a public address")
    headers = signed_headers(event_id, body, secrets, int(time.time()))
    try:
        async with client.stream("POST", url, content=body, headers=headers) as response:
            code, retry_after = response.status_code, response.headers.get("retry-after")
    except httpx.TimeoutException:
        return Sent(None, elapsed(), "timeout")
    except httpx.HTTPError as exc:
        return Sent(None, elapsed(), f"{type(exc).__name__}: {exc}"[:500])
    return Sent(code, elapsed(), None if 200 <= code < 300 else f"http_{code}", retry_after)
