"""Who owns a wallet and its currency, as the command API needs them on every request.

The directory table is projected from ``WalletOpened`` by the saga worker, so it lags
the wallet API by a moment. A wallet missing from it is asked of wallet_svc
(``common.wallet_directory``), with the caller's own token: what the API said exists is
usable at once (read-your-writes), and no service reads another's database. Owner and currency
never change once a wallet is opened, so answers are kept in memory.
"""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.errors import Problem
from common.wallet_directory import WalletEntry, WalletSvcUnavailable, ask_wallet_svc


class WalletDirectory:
    """The directory table, then wallet_svc; up to ``max_size`` wallets kept in memory
    (oldest dropped first). A wallet unknown to both is simply absent."""

    def __init__(self, wallet_svc_url: str, max_size: int = 200_000, timeout_s: float = 3.0):
        self.max_size = max_size
        self._known: dict[str, WalletEntry] = {}
        self._client = httpx.AsyncClient(base_url=wallet_svc_url, timeout=timeout_s)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self, engine: AsyncEngine, ids: list[str], authorization: str | None
    ) -> dict[str, WalletEntry]:
        found = {i: self._known[i] for i in ids if i in self._known}
        missing = [i for i in ids if i not in found]
        if missing:
            fetched = await _from_table(engine, missing)
            for wallet_id in missing:
                if wallet_id not in fetched:
                    entry = await self._from_wallet_svc(wallet_id, authorization)
                    if entry is not None:
                        fetched[wallet_id] = entry
            for wallet_id, entry in fetched.items():
                if len(self._known) >= self.max_size:
                    del self._known[next(iter(self._known))]
                self._known[wallet_id] = entry
            found.update(fetched)
        return found

    async def _from_wallet_svc(
        self, wallet_id: str, authorization: str | None
    ) -> WalletEntry | None:
        headers = {"authorization": authorization} if authorization else {}
        try:
            return await ask_wallet_svc(self._client, wallet_id, headers)
        except WalletSvcUnavailable as exc:
            if exc.status == 401:  # the caller's token ended since it was checked here
                raise Problem(401, "unauthorized", "the access token is not valid",
                              {"WWW-Authenticate": "Bearer"}) from None  # fmt: skip
            raise Problem(
                503, "wallet_svc_unavailable", "the wallet service did not answer"
            ) from None


async def _from_table(engine: AsyncEngine, ids: list[str]) -> dict[str, WalletEntry]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT wallet_id, owner_id, currency FROM transactions.wallet_directory "
                "WHERE wallet_id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        return {r.wallet_id: WalletEntry(r.wallet_id, r.owner_id, r.currency) for r in rows}
