"""Asking wallet_svc who owns a wallet and in which currency (``GET
/internal/wallets/{id}``, which reads the read model that answered the wallet's ``201``).

Consumers project ``WalletOpened`` into a directory of their own; one that meets a wallet
its projection has not seen yet (the topics are read in no order among them) asks here.
This is the one client for that question: transaction_svc with the caller's token,
notification_worker with its own service token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx


@dataclass(frozen=True, slots=True)
class WalletEntry:
    wallet_id: str
    owner_id: str
    currency: str


class WalletSvcUnavailable(ConnectionError):
    """wallet_svc could not answer (``status`` is its answer, ``None`` when unreachable):
    an outage to retry, never a wallet that does not exist."""

    def __init__(self, status: int | None) -> None:
        super().__init__(f"wallet_svc answered {status}" if status else "wallet_svc unreachable")
        self.status = status


async def ask_wallet_svc(
    client: httpx.AsyncClient, wallet_id: str, headers: Mapping[str, str] | None = None
) -> WalletEntry | None:
    """The wallet's entry, or ``None`` when wallet_svc has no such wallet."""
    try:
        resp = await client.get(f"/internal/wallets/{wallet_id}", headers=headers)
    except httpx.HTTPError as exc:
        raise WalletSvcUnavailable(None) from exc
    if resp.status_code == 404:
        return None
    if resp.status_code != 200:
        raise WalletSvcUnavailable(resp.status_code)
    body = resp.json()
    return WalletEntry(str(body["id"]), str(body["owner_id"]), str(body["currency"]))
