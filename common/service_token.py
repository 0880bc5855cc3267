"""A service's own access token: the client-credentials grant at user_svc, kept until
shortly before it expires.

A money service calls another service's ``/internal`` API as itself (role ``service``),
not with a user's token. :class:`ServiceTokens` asks user_svc's ``/service/token`` once
per token lifetime: the first caller that finds no fresh token fetches one under a lock
while the others wait for it, so any number of concurrent callers cost one grant. Used as
an httpx ``auth``, it adds the header and, when the callee answers 401 (its token is no
longer accepted), drops the token and sends the request once more with a new one. Neither
the secret nor a token is ever logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from common.settings import Settings

log = logging.getLogger("common.service_token")


@dataclass(frozen=True, slots=True)
class HeldToken:
    """An ``Authorization`` header value and when to stop using it (``clock`` time)."""

    authorization: str
    renew_at: float

    @classmethod
    def from_grant(cls, grant: dict[str, Any], now: float, margin_s: float) -> HeldToken:
        """The token of a grant answer, renewed ``margin_s`` before it expires (at the
        latest half-way through its lifetime, so a short-lived token is still reused)."""
        token, expires_in = grant.get("access_token"), grant.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
            raise ValueError("user_svc answered the grant without a token or its lifetime")
        return cls(f"Bearer {token}", now + expires_in - min(margin_s, expires_in / 2))

    def fresh(self, now: float) -> bool:
        return now < self.renew_at


class ServiceTokens(httpx.Auth):
    """Access tokens of one service client, for ``Authorization`` headers.

    ``await authorization()`` gives the header value; ``forget(value)`` drops it after the
    callee refused it. As ``httpx.AsyncClient(auth=tokens)`` both happen on their own.
    ``authorization`` raises ``httpx.HTTPError`` when user_svc cannot be reached or
    refuses the credentials (``HTTPStatusError``, 401), as a call to the callee would.
    """

    def __init__(
        self,
        user_svc_url: str,
        client_id: str,
        client_secret: SecretStr,
        *,
        margin_s: float = 60.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not client_id or not client_secret.get_secret_value():
            raise ValueError("a service client id and secret are needed for service tokens")
        self.client_id = client_id
        self._secret = client_secret
        self._margin_s = margin_s
        self._clock = clock
        self._client = httpx.AsyncClient(base_url=user_svc_url, timeout=timeout_s)
        self._held: HeldToken | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> ServiceTokens:
        """The tokens of this process's client (``PAYSTREAM_SERVICE_CLIENT_ID``/``_SECRET``)."""
        return cls(
            settings.user_svc_url,
            settings.service_client_id,
            settings.service_client_secret,
            **kwargs,
        )

    async def authorization(self) -> str:
        """``Bearer <token>``: the held token while it is fresh, else a new one."""
        held = self._held
        if held is not None and held.fresh(self._clock()):
            return held.authorization
        async with self._lock:
            held = self._held  # another caller may have fetched one while this one waited
            if held is None or not held.fresh(self._clock()):
                held = self._held = await self._grant()
            return held.authorization

    def forget(self, authorization: str) -> None:
        """Drop the held token if it is ``authorization`` (the one a callee refused); a
        newer token that another caller fetched meanwhile is kept."""
        if self._held is not None and self._held.authorization == authorization:
            self._held = None

    async def _grant(self) -> HeldToken:
        resp = await self._client.post(
            "/service/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._secret.get_secret_value(),
            },
        )
        if resp.status_code != 200:
            log.error(
                "service token refused",
                extra={"client_id": self.client_id, "status": resp.status_code},
            )
        resp.raise_for_status()
        return HeldToken.from_grant(resp.json(), self._clock(), self._margin_s)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("ServiceTokens works with httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()  # a request refused with 401 is sent again
        authorization = await self.authorization()
        request.headers["Authorization"] = authorization
        response = yield request
        if response.status_code == 401:
            self.forget(authorization)
            request.headers["Authorization"] = await self.authorization()
            yield request

    async def aclose(self) -> None:
        await self._client.aclose()
