"""The wallet HTTP API (paths without ``/api/v1``: the gateway strips it).

Writes go to the decider as commands on ``wallet-commands``; the answer comes from the
projector's completion notice (``common.notify``) and the read model. Visibility: a
wallet someone may not see is a 404 (its existence is not leaked); an action the caller's
role may never perform (freeze/unfreeze without admin) is a 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import Response
from pydantic import TypeAdapter

from common.auth import CurrentPrincipal, Principal
from common.bounds import Instant, Int64
from common.cursor import decode_cursor
from common.errors import Problem
from common.idempotency import WriteHeaders, key_reused
from common.kafka.producer import send_envelope
from common.logging import current_correlation_id
from common.openapi import errors
from common.paging import fetch_page
from common.prefer import prefer_wait
from common.responses import OrjsonResponse
from common.topics import WALLET_COMMANDS
from contracts.ids import deterministic_id, uuid7
from contracts.wallet import (
    CloseWallet,
    FreezeWallet,
    OpenWallet,
    UnfreezeWallet,
    WalletCommand,
    command_envelope,
)
from wallet_svc import cache
from wallet_svc.deps import App, WalletApp
from wallet_svc.schemas import (
    BalanceAt,
    CommandPending,
    EntriesPage,
    FreezeRequest,
    WalletCreate,
    WalletPending,
    WalletPublic,
    WalletsPage,
    wallet_public,
)
from wallet_svc.wire import PRODUCER

router = APIRouter(tags=["wallets"])

OWNER_ROLES = ("user", "merchant")
DEFAULT_WAIT_S = 5.0  # a wallet write waits this long for its outcome unless told otherwise
Headers = Annotated[WriteHeaders, Header()]
WALLETS_CURSOR = TypeAdapter(uuid.UUID)  # the id of the last wallet
ENTRIES_CURSOR = TypeAdapter(tuple[Instant, Int64])  # (occurred_at, id) of the last entry
COMMAND_ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {"model": CommandPending, "description": "Accepted, not decided yet"}
}


def _wait_s(headers: WriteHeaders) -> float:
    return prefer_wait(headers.prefer, DEFAULT_WAIT_S)


def _wallet_uuid(wallet_id: str) -> str:
    try:
        return str(uuid.UUID(wallet_id))
    except ValueError:
        raise Problem(404, "wallet_not_found", "no such wallet") from None


async def _visible(
    app: WalletApp, wallet_id: str, principal: Principal, *, roles: tuple[str, ...] = ("admin",)
) -> dict[str, Any]:
    """The wallet row if ``principal`` owns it or has one of ``roles``; else 404."""
    row = await app.reader.get(_wallet_uuid(wallet_id))
    if row is None or not (principal.has_role(*roles) or _owns(principal, row)):
        raise Problem(404, "wallet_not_found", "no such wallet")
    return row


def _owns(principal: Principal, row: dict[str, Any]) -> bool:
    return principal.has_role(*OWNER_ROLES) and row["owner_id"] == principal.subject


async def _decide(
    app: WalletApp, request: Request, command: WalletCommand, wait_s: float
) -> dict[str, Any] | None:
    """Send ``command`` to the decider; its outcome notice, or None after ``wait_s``."""
    waiters = app.waiters
    key = command.command_id
    fut = waiters.expect(key)
    try:
        envelope = command_envelope(command, PRODUCER, correlation_id=current_correlation_id())
        await send_envelope(app.producer, WALLET_COMMANDS, envelope, request.state.traceparent)
    except Exception:
        await waiters.wait(key, fut, 0)  # withdraw the expectation
        raise Problem(503, "kafka_unavailable", "cannot reach the wallet decider") from None
    clock = asyncio.get_running_loop().time
    deadline = clock() + wait_s
    while True:
        notice = await waiters.wait(key, fut, max(0.0, deadline - clock()))
        if notice is None or notice.get("type") != "HoldExpired":
            return notice
        fut = waiters.expect(key)  # holds expired first; the command's own event follows


def _rejection(notice: dict[str, Any] | None) -> None:
    if notice and notice.get("type") == "CommandRejected":
        reason = str(notice.get("reason"))
        if reason == "wallet_not_found":
            raise Problem(404, "wallet_not_found", "no such wallet")
        raise Problem(409, reason, f"the wallet refused the command: {reason}")


@router.post(
    "/wallets",
    status_code=201,
    response_model=WalletPublic,
    responses={202: {"model": WalletPending, "description": "Accepted"}, **errors(403, 409, 503)},
)
async def open_wallet(
    app: App,
    request: Request,
    body: WalletCreate,
    principal: CurrentPrincipal,
    headers: Headers,
) -> Response:
    """Open a wallet for the caller (admins: for ``owner_id``, with an overdraft limit)."""
    admin = principal.has_role("admin")
    if not (admin or principal.has_role(*OWNER_ROLES)):
        raise Problem(403, "forbidden", "only users, merchants and admins own wallets")
    if not admin and (body.overdraft_limit or body.owner_id not in (None, principal.subject)):
        raise Problem(403, "forbidden", "overdraft limits and owners are set by admins")
    owner = body.owner_id or principal.subject
    if headers.idempotency_key:
        wallet_id = deterministic_id("wallet", principal.subject, headers.idempotency_key)
        existing = await app.reader.get(wallet_id)
        if existing is not None:
            return _opened(existing, body, owner)
    else:
        wallet_id = str(uuid7())
    command = OpenWallet(
        command_id=f"open:{wallet_id}", wallet_id=wallet_id, owner_id=owner,
        currency=body.currency, overdraft_limit=body.overdraft_limit,
    )  # fmt: skip
    notice = await _decide(app, request, command, _wait_s(headers))
    if notice and notice.get("reason") == "invalid_amount":
        raise Problem(422, "invalid_amount", "the overdraft limit is not valid")
    row = await app.reader.get(wallet_id)
    if row is None:
        return OrjsonResponse(
            {"id": wallet_id, "status": "pending"}, status_code=202,
            headers={"Location": f"/wallets/{wallet_id}"},
        )  # fmt: skip
    return _opened(row, body, owner)


def _opened(row: dict[str, Any], body: WalletCreate, owner: str) -> Response:
    same = (row["currency"], row["overdraft_limit"], row["owner_id"]) == (
        body.currency, body.overdraft_limit, owner,
    )  # fmt: skip
    if not same:
        raise key_reused()
    return OrjsonResponse(
        wallet_public(row), status_code=201, headers={"Location": f"/wallets/{row['id']}"}
    )


@router.get("/wallets", response_model=WalletsPage, responses=errors(403))
async def list_wallets(
    app: App,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    owner_id: str | None = None,
) -> Response:
    """The caller's wallets (admins: everyone's, or ``owner_id``'s), in creation order."""
    if principal.has_role("admin"):
        owner = owner_id
    elif principal.has_role(*OWNER_ROLES):
        owner = principal.subject
    else:
        raise Problem(403, "forbidden", "only owners and admins list wallets")
    after = str(decode_cursor(cursor, WALLETS_CURSOR)) if cursor else None
    rows, next_cursor = await fetch_page(
        lambda n: app.reader.page(owner, after, n), limit, lambda r: str(r["id"])
    )
    return OrjsonResponse({"items": [wallet_public(r) for r in rows], "next_cursor": next_cursor})


@router.get("/wallets/{wallet_id}", response_model=WalletPublic, responses=errors(404))
async def get_wallet(app: App, wallet_id: str, principal: CurrentPrincipal) -> Response:
    """One wallet with its balances: from the Redis cache, else the read model."""
    wid = _wallet_uuid(wallet_id)
    doc = None
    with contextlib.suppress(Exception):  # the cache is optional; Postgres answers
        doc = await cache.get(app.redis, wid)
    if doc is not None and doc.get("owner_id") is not None:
        row = {**doc, "id": wid}
        if principal.has_role("admin") or _owns(principal, row):
            return OrjsonResponse(wallet_public(row))
        raise Problem(404, "wallet_not_found", "no such wallet")
    return OrjsonResponse(wallet_public(await _visible(app, wid, principal)))


@router.get(
    "/wallets/{wallet_id}/entries",
    response_model=EntriesPage | BalanceAt,
    responses=errors(404),
)
async def list_entries(
    app: App,
    wallet_id: str,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    as_of: Instant | None = None,
) -> Response:
    """Entries newest first with their postings; ``?as_of=`` gives the balance at a time."""
    row = await _visible(app, wallet_id, principal, roles=("admin", "auditor"))
    wid = str(row["id"])
    if as_of is not None:
        ledger, available = await app.reader.balance_at(wid, as_of)
        return OrjsonResponse(
            {
                "wallet_id": wid,
                "as_of": as_of,
                "balance": {"ledger": ledger, "available": available},
            }
        )
    before = decode_cursor(cursor, ENTRIES_CURSOR) if cursor else None
    items, next_cursor = await fetch_page(
        lambda n: app.reader.entries(wid, before, n),
        limit,
        lambda item: [item["occurred_at"], item["id"]],
    )
    for item in items:
        item.pop("id", None)
    return OrjsonResponse({"items": items, "next_cursor": next_cursor})


async def _command(
    app: WalletApp,
    request: Request,
    row: dict[str, Any],
    command: WalletCommand,
    target: str,
    headers: WriteHeaders,
) -> Response:
    notice = await _answered(app, command.command_id, headers)
    if notice is None:
        notice = await _decide(app, request, command, _wait_s(headers))
    _rejection(notice)
    fresh = await app.reader.get(str(row["id"])) or row
    if notice is None and fresh["status"] != target:
        return OrjsonResponse(
            {"command_id": command.command_id, "status": "pending", "wallet": wallet_public(fresh)},
            status_code=202,
        )
    return OrjsonResponse(wallet_public(fresh))


async def _answered(
    app: WalletApp, command_id: str, headers: WriteHeaders
) -> dict[str, Any] | None:
    """The answer to a command already decided: a retry with the same Idempotency-Key,
    which the decider would ignore without a word (``wallet_svc.cache.outcome``)."""
    if headers.idempotency_key:
        with contextlib.suppress(Exception):  # the record is optional; the command is sent
            return await cache.outcome(app.redis, command_id)
    return None


def _command_id(action: str, wallet_id: str, idempotency_key: str | None) -> str:
    return f"{action}:{wallet_id}:{idempotency_key or uuid7()}"


def _admin_only(principal: Principal) -> None:
    if not principal.has_role("admin"):
        raise Problem(403, "forbidden", "only admins may do this")


@router.post(
    "/wallets/{wallet_id}/freeze",
    response_model=WalletPublic,
    responses=COMMAND_ANSWERS | errors(403, 404, 409, 503),
)
async def freeze_wallet(
    app: App,
    request: Request,
    wallet_id: str,
    principal: CurrentPrincipal,
    headers: Headers,
    body: Annotated[FreezeRequest | None, Body()] = None,
) -> Response:
    """Freeze (admin): no debit, credit or hold until unfrozen."""
    _admin_only(principal)
    row = await _visible(app, wallet_id, principal)
    wid = str(row["id"])
    reason = body.reason if body else ""
    command = FreezeWallet(
        command_id=_command_id("freeze", wid, headers.idempotency_key), wallet_id=wid, reason=reason
    )
    return await _command(app, request, row, command, "frozen", headers)


@router.post(
    "/wallets/{wallet_id}/unfreeze",
    response_model=WalletPublic,
    responses=COMMAND_ANSWERS | errors(403, 404, 409, 503),
)
async def unfreeze_wallet(
    app: App,
    request: Request,
    wallet_id: str,
    principal: CurrentPrincipal,
    headers: Headers,
) -> Response:
    _admin_only(principal)
    row = await _visible(app, wallet_id, principal)
    wid = str(row["id"])
    command_id = _command_id("unfreeze", wid, headers.idempotency_key)
    command = UnfreezeWallet(command_id=command_id, wallet_id=wid)
    return await _command(app, request, row, command, "active", headers)


@router.post(
    "/wallets/{wallet_id}/close",
    response_model=WalletPublic,
    responses=COMMAND_ANSWERS | errors(404, 409, 503),
)
async def close_wallet(
    app: App,
    request: Request,
    wallet_id: str,
    principal: CurrentPrincipal,
    headers: Headers,
) -> Response:
    """Close (admin or owner); the decider refuses a non-zero balance or open holds (409)."""
    row = await _visible(app, wallet_id, principal)
    wid = str(row["id"])
    command = CloseWallet(
        command_id=_command_id("close", wid, headers.idempotency_key), wallet_id=wid
    )
    return await _command(app, request, row, command, "closed", headers)


@router.get("/internal/wallets/{wallet_id}", include_in_schema=False)
async def wallet_directory_entry(app: App, wallet_id: str, _: CurrentPrincipal) -> dict[str, str]:
    """Owner and currency of any wallet, for transaction_svc's directory (read-your-writes:
    it asks here for a wallet its projection has not seen yet). Not routed by the gateway;
    it reads the read model that answered the wallet's ``201``."""
    row = await app.reader.get(_wallet_uuid(wallet_id))
    if row is None:
        raise Problem(404, "wallet_not_found", "no such wallet")
    return {"id": str(row["id"]), "owner_id": str(row["owner_id"]), "currency": row["currency"]}
