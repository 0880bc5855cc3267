"""Who a notification goes to: a wallet's owner and a user's contact.

The worker projects ``UserRegistered`` and ``WalletOpened`` into Mongo, but it reads four
topics in no order among them, so a transfer can arrive before the registration or the
wallet of the person it tells (always so on a cold start). A miss is asked of the service
that owns the answer, as the worker's own service client: wallet_svc through
``common.wallet_directory``, user_svc's ``GET /internal/users/{id}/contact``; the answer
is remembered like a projected one. A batch asks for all its recipients at once. Only an
id its owner does not know is skipped; an owner that cannot answer is an outage
(``ConnectionError``: the runtime retries).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import TypeVar

import httpx
from cachetools import LRUCache

from common.service_token import ServiceTokens
from common.wallet_directory import ask_wallet_svc
from notification_worker import store
from notification_worker.channels import Recipient

V = TypeVar("V")


class Recipients:
    """Wallet owners and user contacts, remembered in the process once read: neither ever
    changes (a wallet's owner is fixed when it opens; a contact is projected from the
    user's one ``UserRegistered``), so a remembered answer is never stale, and most
    batches read nothing (FerretDB reads a whole collection for any find)."""

    def __init__(
        self, user_svc_url: str, wallet_svc_url: str, tokens: ServiceTokens,
        remembered: int = 100_000,
    ) -> None:  # fmt: skip
        self._users = httpx.AsyncClient(base_url=user_svc_url, auth=tokens, timeout=10)
        self._wallets = httpx.AsyncClient(base_url=wallet_svc_url, auth=tokens, timeout=10)
        self._owners: LRUCache[str, str] = LRUCache(remembered)
        self._contacts: LRUCache[str, Recipient] = LRUCache(remembered)

    async def owners_of(self, db: store.Db, wallet_ids: Collection[str]) -> dict[str, str]:
        """The owner of each of ``wallet_ids`` that one is known for: remembered, projected
        (one read for all the others) or, for the rest, asked of wallet_svc."""

        async def projected(missing: list[str]) -> dict[str, str]:
            return await store.wallet_owners(db, missing)

        return await _remembered(
            self._owners, wallet_ids, projected, lambda w: self._ask_wallet_svc(db, w)
        )

    async def contacts(self, db: store.Db, user_ids: Collection[str]) -> dict[str, Recipient]:
        """The contact of each of ``user_ids`` that one is known for: remembered, projected
        (one read for all the others) or, for the rest, asked of user_svc."""

        async def projected(missing: list[str]) -> dict[str, Recipient]:
            people = await store.users(db, missing)
            return {
                u: Recipient(u, str(p["email"]), str(p["full_name"])) for u, p in people.items()
            }

        return await _remembered(
            self._contacts, user_ids, projected, lambda u: self._ask_user_svc(db, u)
        )

    async def _ask_wallet_svc(self, db: store.Db, wallet_id: str) -> str | None:
        entry = await ask_wallet_svc(self._wallets, wallet_id)
        if entry is None:
            return None
        await store.remember_wallet(db, entry.wallet_id, entry.owner_id)
        return entry.owner_id

    async def _ask_user_svc(self, db: store.Db, user_id: str) -> Recipient | None:
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


async def _remembered(
    cache: LRUCache[str, V],
    ids: Collection[str],
    projected: Callable[[list[str]], Awaitable[dict[str, V]]],
    ask: Callable[[str], Awaitable[V | None]],
) -> dict[str, V]:
    """The answer for each of ``ids`` that one is known for: from ``cache``, else read
    for all the others at once (``projected``), else ``ask``ed one by one; what was read
    or asked is remembered."""
    found = {i: cache[i] for i in ids if i in cache}
    missing = [i for i in ids if i not in found]
    if missing:
        read = await projected(missing)
        for i in [i for i in missing if i not in read]:
            answer = await ask(i)
            if answer is not None:
                read[i] = answer
        cache.update(read)
        found.update(read)
    return found
