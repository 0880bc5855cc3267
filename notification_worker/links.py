"""The one-time links of security mails, asked of user_svc at delivery.

No token travels on Kafka: an event names an email request, and the worker, as its own
service client (``common.service_token.ServiceTokens``), has user_svc make the token for
it (``POST /internal/email-links``). The token goes into the mail and nowhere else (not
the history, not a log).
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from common.service_token import ServiceTokens

# where each purpose's link opens in the web front end
PAGES = {"verify_email": "/verify-email", "reset_password": "/reset-password"}


class LinkUnavailable(Exception):
    """The request was used or expired: there is no link to send."""


class UserSvcLinks:
    def __init__(self, user_svc_url: str, tokens: ServiceTokens, web_url: str) -> None:
        self._client = httpx.AsyncClient(base_url=user_svc_url, auth=tokens, timeout=10)
        self._web_url = web_url.rstrip("/")

    async def link(self, request_id: str) -> str:
        """The URL carrying the request's (new) token; raises ``LinkUnavailable``."""
        resp = await self._client.post("/internal/email-links", json={"request_id": request_id})
        if resp.status_code == 404:
            raise LinkUnavailable(request_id)
        if resp.status_code >= 500:
            raise ConnectionError(f"user_svc answered {resp.status_code}")  # an outage
        resp.raise_for_status()
        body = resp.json()
        return f"{self._web_url}{PAGES[body['purpose']]}?{urlencode({'token': body['token']})}"

    async def aclose(self) -> None:
        await self._client.aclose()
