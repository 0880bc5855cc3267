"""Who a notification goes to: a wallet's owner and a user's contact.

The worker projects ``UserRegistered`` and ``WalletOpened`` into Mongo, but it reads four
topics in no order among them, so a transfer can arrive before the registration or the
wallet of the person it tells (always so on a cold start). A miss is asked of the service
that owns the answer, as the worker's own service client: wallet_svc through
``common.wallet_directory``, user_svc's ``GET /internal/users/{id}/contact``; the answer
is remembered like a projected one. Only an id its owner does not know is skipped; an
owner that cannot answer is an outage (``ConnectionError``: the runtime retries).
"""

from __future__ import annotations

import httpx

from common.service_token import ServiceTokens
from common.wallet_directory import ask_wallet_svc
from notification_worker import store
from notification_worker.channels import Recipient


class Recipients:
    def __init__(self, user_svc_url: str, wallet_svc_url: str, tokens: ServiceTokens) -> None:
        self._users = httpx.AsyncClient(base_url=user_svc_url, auth=tokens, timeout=10)
        self._wallets = httpx.AsyncClient(base_url=wallet_svc_url, auth=tokens, timeout=10)

    async def owner_of(self, db: store.Db, wallet_id: str) -> str | None:
        owner = await store.wallet_owner(db, wallet_id)
        if owner is not None:
            return owner
        entry = await ask_wallet_svc(self._wallets, wallet_id)
        if entry is None:
            return None
        await store.remember_wallet(db, entry.wallet_id, entry.owner_id)
        return entry.owner_id

    async def contact(self, db: store.Db, user_id: str) -> Recipient | None:
        person = await store.user(db, user_id)
        if person is not None:
            return Recipient(user_id, str(person["email"]), str(person["full_name"]))
        try:
            resp = await self._users.get(f"/internal/users/{user_id}/contact")
        except httpx.HTTPError as exc:
            raise ConnectionError("user_svc unreachable") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise ConnectionError(f"user_svc answered {resp.status_code}")
        body = resp.json()
        await store.remember_user(db, user_id, str(body["email"]), str(body["full_name"]))
        return Recipient(user_id, str(body["email"]), str(body["full_name"]))

    async def aclose(self) -> None:
        await self._users.aclose()
        await self._wallets.aclose()
