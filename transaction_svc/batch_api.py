"""``POST /transfers/batch`` and ``GET /transfers/batch/{id}`` (docs/transfers.md).

Each item goes the one way a ``POST /transfers`` goes (``api.prepare``: validated,
owned source wallet, priced, limit-checked, started; then claimed and appended), only
in bulk: the wallets of every item looked up at once, the caller's terms read once per
currency, every claim that records nothing more in one statement, and every message
produced before the acknowledgements are awaited. An item refused is that item's
problem; the others go on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from common.auth import CurrentPrincipal
from common.errors import Problem
from common.idempotency import key_reused
from common.openapi import errors
from transaction_svc import batch_store, store
from transaction_svc.api import (
    TRANSFERS,
    Caller,
    Prepared,
    build_transfer,
    caller_of,
    prepare,
    restarted,
    transfer_wallets,
    visible,
)
from transaction_svc.batch import ItemOutcome, batch_id_of, link, present, read_item, refused
from transaction_svc.batch_schemas import TransferBatchCreate, TransferBatchPublic
from transaction_svc.deps import App, TransactionApp
from transaction_svc.schemas import TransferCreate
from transaction_svc.start import Start, append_many
from transaction_svc.status import PENDING, TERMINAL
from transaction_svc.store import Claimed
from transaction_svc.terms import Terms

router = APIRouter()


async def _terms(
    state: TransactionApp, caller: Caller, transfers: list[TransferCreate]
) -> dict[str, Terms]:
    """The caller's terms of a transfer in each currency the batch uses (one read each)."""
    principal = caller.principal
    return {
        c: await state.terms("transfer", c, principal.role, principal.subject)
        for c in {t.currency for t in transfers}
    }


async def _prepared(
    state: TransactionApp, caller: Caller, items: list[dict[str, Any]], now: datetime
) -> tuple[list[tuple[int, Prepared]], list[ItemOutcome]]:
    """Every item read, checked and priced as a single request is: those ready to be
    claimed (with their index), and those refused."""
    refusals: list[ItemOutcome] = []
    read: list[tuple[int, str, TransferCreate]] = []
    for index, raw in enumerate(items):
        item = read_item(index, raw)
        if isinstance(item, ItemOutcome):
            refusals.append(item)
        else:
            read.append((index, *item))
    wallets = {str(w) for _, _, t in read for w in (t.from_wallet_id, t.to_wallet_id)}
    known = await state.directory.get(state.engine, sorted(wallets), caller.authorization)
    terms = await _terms(state, caller, [t for _, _, t in read])
    ready: list[tuple[int, Prepared]] = []
    for index, key, transfer in read:
        try:
            TRANSFERS.check(transfer)
            # the wallets' checks first, on what the directory answered for the whole
            # batch: an unknown wallet is not asked of wallet_svc again for each item
            transfer_wallets(known, caller.principal, transfer)
            found = terms[transfer.currency]
            prepared = await prepare(state, caller, transfer, key, build_transfer, now, found)
        except Problem as problem:
            refusals.append(refused(index, key, problem))
            continue
        ready.append((index, prepared))
    return ready, refusals


async def submit_batch(
    state: TransactionApp, caller: Caller, items: list[dict[str, Any]]
) -> tuple[list[ItemOutcome], dict[str, tuple[str, str | None]]]:
    """Claim and append every item that passes; each item's outcome (in order) and the
    current status of each transfer an item names."""
    now = datetime.now(UTC)
    ready, outcomes = await _prepared(state, caller, items, now)
    claims = await state.claims.claim_many([p.claim for _, p in ready])
    fresh: list[tuple[Prepared, Claimed]] = []
    replays: list[tuple[Prepared, Claimed]] = []
    for (index, prepared), claimed in zip(ready, claims, strict=True):
        key = prepared.claim.key
        if isinstance(claimed, Problem) or (isinstance(claimed, Claimed) and not claimed.same_body):
            outcomes.append(
                refused(index, key, claimed if isinstance(claimed, Problem) else key_reused())
            )
            continue
        if isinstance(claimed, BaseException):
            raise claimed  # the store failed: the client sends the batch again
        outcomes.append(ItemOutcome(index, key, claimed.transaction_id))
        (fresh if claimed.fresh else replays).append((prepared, claimed))
    statuses: dict[str, tuple[str, str | None]] = {p.tx_id: (PENDING, None) for p, _ in fresh}
    current = await store.get_many(state.engine, [c.transaction_id for _, c in replays])
    starts: dict[str, Start] = {p.tx_id: p.begun for p, _ in fresh}
    for prepared, claimed in replays:
        row = current.get(claimed.transaction_id)
        if row is None:
            continue
        statuses[row.id] = (row.status, row.failure_reason)
        if row.status not in TERMINAL:  # as a replayed single request: append again
            starts.setdefault(
                row.id, restarted(state.settings, prepared, row, caller.correlation_id)
            )
    await append_many(state.producer, list(starts.values()), caller.traceparent)
    return sorted(outcomes, key=lambda o: o.index), statuses


@router.post(
    "/transfers/batch",
    status_code=202,
    response_model=TransferBatchPublic,
    responses=errors(403, 413, 422, 503),
)
async def create_transfer_batch(
    app: App,
    body: TransferBatchCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Up to 1,000 transfers out of the caller's wallets, each with its own
    ``idempotency_key`` and its own outcome: a transfer (as ``POST /transfers`` would
    have made it) or the problem that item alone was refused with. The same batch sent
    again is the same batch: its transfers are replays, nothing new is made."""
    caller = caller_of(request, principal)
    TRANSFERS.allow(app, caller)
    batch_id = batch_id_of(principal.subject, body)
    outcomes, statuses = await submit_batch(app, caller, body.items)
    stored = [o.stored() for o in outcomes]
    created = await batch_store.save(
        app.engine, batch_id, principal.subject, stored, datetime.now(UTC)
    )
    response.headers["Location"] = link(batch_id)
    return present(batch_id, created, stored, statuses)


@router.get(
    "/transfers/batch/{batch_id}", response_model=TransferBatchPublic, responses=errors(404)
)
async def get_transfer_batch(
    batch_id: Annotated[str, Path(max_length=64)], app: App, principal: CurrentPrincipal
) -> dict[str, Any]:
    """The batch's items, each with its transfer's current status (or its problem)."""
    row = await batch_store.get(app.engine, batch_id)
    if row is None or not visible(principal, row):
        raise Problem(404, "batch_not_found", f"no batch {batch_id}")
    ids = [i["transaction_id"] for i in row.items if i["transaction_id"]]
    statuses = await batch_store.statuses(app.engine, ids)
    return present(row.id, row.created_at, row.items, statuses)
