"""The money command API: transfers, deposits and withdrawals, and transaction status
(payments to merchants and refunds: ``payments_api.py``, on the same ``submit``).

A money POST is validated (shape, auth, ownership, currency), given a deterministic id
from the caller's ``Idempotency-Key``, recorded (idempotency record + pending
transaction, one database transaction), appended to ``transaction-events`` and answered
``202`` with a status URL. ``Prefer: wait=N`` waits up to N seconds for the saga's
terminal state (woken by a Redis notice, no polling) and answers with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import msgspec
from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from common.auth import CurrentPrincipal, Principal, token_of
from common.bounds import Instant
from common.cursor import decode_cursor
from common.errors import Problem, validation_errors
from common.fastlane import FastRequest, FastResponse, FastRoute, json_response
from common.idempotency import MoneyHeaders, key_reused, request_hash
from common.openapi import errors
from common.paging import fetch_page
from common.prefer import prefer_wait
from common.state import installed
from common.wallet_directory import WalletEntry
from contracts.ids import deterministic_id
from contracts.payment import PROVIDER
from contracts.transaction import (
    DepositRequested,
    PaymentRequested,
    TransferRequested,
    WithdrawalRequested,
)
from transaction_svc import store
from transaction_svc.deps import App, TransactionApp
from transaction_svc.fx.transfer import quoted
from transaction_svc.pricing import priced, with_fee
from transaction_svc.schemas import (
    DepositCreate,
    TransactionPublic,
    TransactionsPage,
    TransferCreate,
    WithdrawalCreate,
)
from transaction_svc.settings import TransactionSettings
from transaction_svc.start import Start, append, start
from transaction_svc.status import PENDING, TERMINAL, payment_status
from transaction_svc.store import Record
from transaction_svc.terms import Terms

router = APIRouter()
READERS = ("admin", "auditor")  # see every wallet and transaction
MOVERS = ("user", "merchant", "admin")  # may own wallets and move money out of them
CURSOR = TypeAdapter(tuple[Instant, uuid.UUID])  # (created_at, id) of the last row
MONEY_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": TransactionPublic, "description": "Terminal within `Prefer: wait`"},
    **errors(403, 404, 409, 503),
}
PROVIDER_ANSWERS = MONEY_ANSWERS | errors(403, 404, 409, 422, 503)


def represent(row: Any) -> dict[str, Any]:
    saga = row.saga or {}
    shown = {
        "id": row.id,
        "type": row.kind,
        "status": row.status,
        "amount": row.amount,
        "currency": row.currency,
        "fee": row.fee,
        "from_wallet_id": row.from_wallet_id,
        "to_wallet_id": row.to_wallet_id,
        "description": row.description,
        "failure_reason": row.failure_reason,
        "steps": [{"step": s, "status": st, "at": at} for s, st, at in saga.get("steps", [])],
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "links": {"self": f"/api/v1/transactions/{row.id}"},
    } | _merchant_part(row)
    return shown | _conversion_part(saga)


def _conversion_part(saga: dict[str, Any]) -> dict[str, Any]:
    """A converting transfer's quote and what the payee gets (from its saga state)."""
    if not saga.get("to_currency"):
        return {}
    keys = ("quote_id", "to_amount", "to_currency")
    return {"conversion": {k: saga[k] for k in keys}}


def _merchant_part(row: Any) -> dict[str, Any]:
    """A payment's summary of its payment, a refund's payment."""
    if row.kind == "payment":
        summary = {
            "merchant_id": row.merchant_id,
            "order_id": row.order_id,
            "provider": row.payment_provider,
            "status": payment_status(row.status, row.amount, row.refunded),
            "refunded_amount": row.refunded,
            "provider_payment_id": row.provider_payment_id,
        }
        return {"payment": summary}
    if row.kind == "refund":
        return {"refund": {"payment_id": row.refund_of}}
    return {}


@dataclass(slots=True)
class Answer:
    """What a money POST answers, whichever way (fast lane or FastAPI) it came in."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks, and the context their request carries."""

    principal: Principal
    correlation_id: str
    traceparent: str
    authorization: str | None  # passed on when wallet_svc is asked about a wallet


Build = Callable[
    [TransactionApp, Caller, Any, str, datetime],
    Awaitable[tuple[dict[str, Any], Any, Record | None]],
]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A money request checked, priced and started, ready to be claimed: the steps every
    money POST takes before its one claim statement (a batch's items too)."""

    tx_id: str
    event: Any  # the request event (with its fee and deadline)
    begun: Start  # the saga's first state and the messages that set it going
    first: dict[str, Any]  # the first answer (202 pending)
    claim: store.ClaimRequest


async def prepare(
    state: TransactionApp,
    caller: Caller,
    body: BaseModel,
    key: str,
    build: Build,
    now: datetime,
    found: Terms | None = None,
) -> Prepared:
    """Build, price (``found``: the caller's terms if already read) and start the request
    under ``key``; raises the request's problem, having recorded nothing."""
    kind = type(body).__name__.removesuffix("Create").lower()
    tx_id = deterministic_id(kind, caller.principal.subject, key)
    row, event, record = await build(state, caller, body, tx_id, now)
    row, event, record = await priced(state.terms, caller.principal, row, event, record, now, found)
    await _chargeable_with_fee(state, caller.principal.subject, event)
    begun = start(event, now, caller.correlation_id)  # the saga's first step, taken here
    row |= begun.columns()
    shown = {"status": PENDING, "failure_reason": None, "saga": begun.saga}
    first = represent(_Row(row | shown | {"created_at": now, "updated_at": now}))
    claim = store.ClaimRequest(key, request_hash(body), 202, first, row, record)
    return Prepared(tx_id, event, begun, first, claim)


def restarted(settings: Any, prepared: Prepared, current: Any, correlation_id: str) -> Start:
    """What the first request under the key appended (a replay of an unfinished one
    appends it again): its deadline from the first creation time, the first's fee,
    whatever it is now."""
    first_at = current.created_at
    event = msgspec.structs.replace(prepared.event, deadline=deadline_of(settings, first_at))
    event = with_fee(event, current.fee)
    return start(event, first_at, correlation_id)


async def submit(
    state: TransactionApp,
    caller: Caller,
    body: BaseModel,
    headers: MoneyHeaders,
    build: Build,
) -> Answer:
    """Claim the key, record the pending transaction, append the request, maybe wait."""
    principal = caller.principal
    wait_s = prefer_wait(headers.prefer)
    key = headers.idempotency_key
    prepared = await prepare(state, caller, body, key, build, datetime.now(UTC))
    tx_id, begun, first = prepared.tx_id, prepared.begun, prepared.first
    claimed = await state.claims.claim(prepared.claim)
    if not claimed.same_body:
        raise key_reused()

    # A replay of a request that is not finished appends again: if the first attempt
    # crashed before its append, this is the append; otherwise every consumer sees a
    # duplicate it ignores (the ids are derived from the transaction).
    needs_append = claimed.fresh
    answer_headers: dict[str, str] = {}
    if not claimed.fresh:
        answer_headers["Idempotent-Replayed"] = "true"
        current = await store.get(state.engine, tx_id)
        needs_append = current is not None and current.status not in TERMINAL
        if current is not None:  # append exactly what the first request would have
            begun = restarted(state.settings, prepared, current, caller.correlation_id)
        if not wait_s or not needs_append:
            if needs_append:
                await append(state.producer, begun, caller.traceparent)
            return _answer(claimed.status_code, claimed.response, answer_headers)
    fut = state.waiters.expect(tx_id) if wait_s else None
    if needs_append:
        await append(state.producer, begun, caller.traceparent)
    if fut is None:
        return _answer(202, first, answer_headers)
    await state.waiters.wait(tx_id, fut, wait_s)
    current = await store.get(state.engine, tx_id)
    assert current is not None  # inserted above, or by the first request
    body_now = represent(current)
    if current.status in TERMINAL:
        answer_headers["Preference-Applied"] = f"wait={int(wait_s)}"
        if claimed.fresh:
            await store.remember_answer(state.engine, principal.subject, key, 200, body_now)
        return _answer(200, body_now, answer_headers)
    return _answer(202, body_now, answer_headers)


def _answer(status: int, body: dict[str, Any], headers: dict[str, str]) -> Answer:
    headers["Location"] = body["links"]["self"]
    return Answer(status, body, headers)


class _Row:
    """Attribute access over a dict, so a not-yet-stored row renders like a stored one."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)


def deadline_of(settings: Any, now: datetime) -> int:
    """When the saga must be terminal (epoch ms): the request time plus the timeout."""
    return int(now.timestamp() * 1000) + settings.transfer_timeout_s * 1000


def _not_found(wallet_id: str) -> Problem:
    """The same answer for a wallet that does not exist and one the caller may not see."""
    return Problem(404, "wallet_not_found", f"wallet {wallet_id} does not exist")


def _may_move_money(principal: Principal) -> None:
    if not principal.has_role(*MOVERS):
        raise Problem(403, "forbidden", f"the role {principal.role} moves no money")


def may_move_money_out(settings: TransactionSettings, principal: Principal) -> None:
    """With ``unverified_may_move_money`` off, money leaves a wallet only at the request
    of an account whose email was verified when its token was minted (claim ``ev``)."""
    if not settings.unverified_may_move_money and not principal.email_verified:
        detail = "verify your email (then sign in again) before money leaves a wallet"
        raise Problem(403, "email_not_verified", detail)


def owned_wallet(
    wallets: dict[str, WalletEntry], principal: Principal, wallet_id: str, currency: str
) -> None:
    """The caller's own wallet in ``currency``: someone else's is unknown to whoever may
    not see it (404, as for no wallet at all) and forbidden to whoever may (403)."""
    wallet = wallets.get(wallet_id)
    if wallet is not None and wallet.owner_id != principal.subject and principal.has_role(*READERS):
        raise Problem(403, "not_wallet_owner", "you can move money only out of your own wallets")
    if wallet is None or wallet.owner_id != principal.subject:
        raise _not_found(wallet_id)
    if wallet.currency != currency:
        raise Problem(422, "currency_mismatch", f"wallet {wallet_id} holds {wallet.currency}")


def transfer_wallets(
    wallets: dict[str, WalletEntry], principal: Principal, body: TransferCreate
) -> WalletEntry:
    """The payee's wallet, once the source is the caller's own in the transfer's currency
    and the payee's exists (``wallets``: what the directory knows of both)."""
    owned_wallet(wallets, principal, str(body.from_wallet_id), body.currency)
    dest = wallets.get(str(body.to_wallet_id))
    if dest is None:
        raise _not_found(str(body.to_wallet_id))
    return dest


async def build_transfer(
    state: TransactionApp, caller: Caller, body: TransferCreate, tx_id: str, now: datetime
) -> tuple[dict[str, Any], Any, Record | None]:
    principal = caller.principal
    src, dst = str(body.from_wallet_id), str(body.to_wallet_id)
    wallets = await state.directory.get(state.engine, [src, dst], caller.authorization)
    dest = transfer_wallets(wallets, principal, body)
    conversion: dict[str, Any] = {}
    record: Record | None = None
    if body.quote_id is not None:  # a conversion (docs/fx.md)
        conversion, record = await quoted(state, principal, body, (dst, dest.currency), tx_id)
    elif dest.currency != body.currency:  # the payee's currency is not the payer's to learn
        raise Problem(
            422,
            "cross_currency_unsupported",
            f"wallet {dst} does not hold {body.currency}; to convert, send a quote_id "
            "from POST /fx/quotes",
        )
    row = {
        "id": tx_id,
        "kind": "transfer",
        "owner_id": principal.subject,
        "from_wallet_id": src,
        "to_wallet_id": dst,
        "amount": body.amount,
        "currency": body.currency,
        "fee": conversion.get("fee", 0),
        "description": body.description,
        "created_at": now,
    }
    event = TransferRequested(
        transaction_id=tx_id,
        from_wallet_id=src,
        to_wallet_id=dst,
        amount=body.amount,
        currency=body.currency,
        deadline=deadline_of(state.settings, now),
        **conversion,
    )
    return row, event, record


async def usable_method(
    state: TransactionApp, owner: str, method_id: str, kind: str, amount: int, currency: str
) -> None:
    """The caller's own method of ``kind`` (card or bank_account) that pays ``amount`` in
    ``currency``, as the provider describes it; else the 4xx that says why, before
    anything is recorded, charged or held."""
    try:
        method = await state.provider.method(method_id, owner)
    except httpx.HTTPError:
        raise Problem(
            503, "provider_unavailable", "the payment provider cannot be reached; try again"
        ) from None
    if method is None:  # someone else's is as unknown as none at all
        raise Problem(404, "payment_method_not_found", f"payment method {method_id} does not exist")
    if method.type != kind:
        code = "not_a_card" if kind == "card" else "not_a_bank_account"
        raise Problem(422, code, f"payment method {method_id} is a {method.type}")
    if currency not in method.currencies:
        raise Problem(
            422, "currency_unsupported", f"payment method {method_id} cannot pay in {currency}"
        )
    if amount > method.max_amount:
        raise Problem(
            422,
            "amount_too_large",
            f"the provider takes at most {method.max_amount} minor units per payment",
            max_amount=method.max_amount,
        )


async def _chargeable_with_fee(state: TransactionApp, owner: str, event: Any) -> None:
    """A card is charged ``amount + fee`` (a deposit's, a card payment's): that too must be
    within what the provider takes, checked as ``usable_method`` checked the amount before
    the fee was known (the method's description is remembered, so no second call)."""
    card = isinstance(event, DepositRequested | PaymentRequested) and event.payment_method_id
    if card and event.fee:
        total = event.amount + event.fee
        await usable_method(state, owner, event.payment_method_id, "card", total, event.currency)


async def _provider_payment(
    state: TransactionApp,
    caller: Caller,
    body: DepositCreate | WithdrawalCreate,
    tx_id: str,
    now: datetime,
    method_id: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checks and the transaction row of a deposit (money in by card) or a withdrawal
    (money out to a bank account): the caller's wallet, then the caller's method. Also
    the fields its request event shares with the other kind's (all but the method's)."""
    incoming = isinstance(body, DepositCreate)
    principal = caller.principal
    wallet_id = str(body.wallet_id)
    wallets = await state.directory.get(state.engine, [wallet_id], caller.authorization)
    owned_wallet(wallets, principal, wallet_id, body.currency)
    method_kind = "card" if incoming else "bank_account"
    await usable_method(
        state, principal.subject, method_id, method_kind, body.amount, body.currency
    )
    row = {
        "id": tx_id,
        "kind": "deposit" if incoming else "withdrawal",
        "owner_id": principal.subject,
        "from_wallet_id": None if incoming else wallet_id,
        "to_wallet_id": wallet_id if incoming else None,
        "amount": body.amount,
        "currency": body.currency,
        "fee": 0,
        "description": None,
        "created_at": now,
    }
    requested = {
        "transaction_id": tx_id,
        "wallet_id": wallet_id,
        "amount": body.amount,
        "currency": body.currency,
        "provider": PROVIDER,
        "deadline": deadline_of(state.settings, now),
        "owner_id": principal.subject,
    }
    return row, requested


async def build_deposit(
    state: TransactionApp, caller: Caller, body: DepositCreate, tx_id: str, now: datetime
) -> tuple[dict[str, Any], Any, Record | None]:
    method_id = str(body.payment_method_id)
    row, requested = await _provider_payment(state, caller, body, tx_id, now, method_id)
    return row, DepositRequested(**requested, payment_method_id=method_id), None


async def build_withdrawal(
    state: TransactionApp, caller: Caller, body: WithdrawalCreate, tx_id: str, now: datetime
) -> tuple[dict[str, Any], Any, Record | None]:
    method_id = str(body.payout_method_id)
    row, requested = await _provider_payment(state, caller, body, tx_id, now, method_id)
    return row, WithdrawalRequested(**requested, payout_method_id=method_id), None


def _check_transfer(body: TransferCreate) -> None:
    if body.from_wallet_id == body.to_wallet_id:
        raise Problem(422, "same_wallet", "a transfer needs two different wallets")


def no_check(body: BaseModel) -> None:
    return None


@dataclass(frozen=True, slots=True)
class MoneyPost:
    """One money endpoint: its body model, its own checks and how it builds the request."""

    path: str
    model: type[BaseModel]
    check: Callable[[Any], None]
    build: Build
    out: bool = False  # moves money out of the caller's wallet (transfer, withdrawal, payment)

    def allow(self, state: TransactionApp, caller: Caller) -> None:
        """Whether the caller may make such requests at all: their role and email."""
        _may_move_money(caller.principal)
        if self.out:
            may_move_money_out(state.settings, caller.principal)

    def permit(self, state: TransactionApp, caller: Caller, body: Any) -> None:
        """The checks that need no store: the caller's role and email, the body's own."""
        self.allow(state, caller)
        self.check(body)

    async def answer(
        self, state: TransactionApp, caller: Caller, body: Any, headers: MoneyHeaders
    ) -> Answer:
        self.permit(state, caller, body)
        return await submit(state, caller, body, headers, self.build)

    async def vet(self, state: TransactionApp, caller: Caller, body: Any, now: datetime) -> None:
        """Every check ``answer`` makes before it records anything (wallets, merchant,
        method, limits), recording nothing: a schedule's body is vetted so when it is made."""
        self.permit(state, caller, body)
        row, event, record = await self.build(state, caller, body, "vetted", now)
        await priced(state.terms, caller.principal, row, event, record, now)

    async def fast(self, request: FastRequest) -> FastResponse:
        """The fast lane's handler: the same checks in the order FastAPI applies them
        (token, then headers and body), the same answers."""
        state = installed(request.state, TransactionApp)
        token = token_of(request.headers.get("authorization"))
        principal = await state.verifier.verify(token)
        authorization = request.headers.get("authorization")
        try:
            headers = MoneyHeaders.model_validate(request.headers)
        except ValidationError as exc:
            raise _invalid(validation_errors(exc.errors(), ("header",))) from None
        value = await request.json()
        try:
            body = self.model.model_validate(value)
        except ValidationError as exc:
            raise _invalid(validation_errors(exc.errors(), ("body",))) from None
        caller = Caller(principal, request.correlation_id, request.traceparent, authorization)
        answer = await self.answer(state, caller, body, headers)
        return json_response(answer.status, answer.body, answer.headers)


def _invalid(errors: list[dict[str, Any]]) -> Problem:
    return Problem(422, "validation_error", "the request is not valid", errors=errors)


TRANSFERS = MoneyPost("/transfers", TransferCreate, _check_transfer, build_transfer, out=True)
DEPOSITS = MoneyPost("/deposits", DepositCreate, no_check, build_deposit)
WITHDRAWALS = MoneyPost("/withdrawals", WithdrawalCreate, no_check, build_withdrawal, out=True)
FAST_ROUTES = [
    FastRoute("POST", p.path, p.path, p.fast) for p in (TRANSFERS, DEPOSITS, WITHDRAWALS)
]


def caller_of(request: Request, principal: Principal) -> Caller:
    """The caller of a request that came through FastAPI."""
    authorization = request.headers.get("authorization")
    state = request.state
    return Caller(principal, state.correlation_id, state.traceparent, authorization)


async def answer_slow(
    post: MoneyPost,
    app: TransactionApp,
    request: Request,
    response: Response,
    principal: Principal,
    body: BaseModel,
    headers: MoneyHeaders,
) -> dict[str, Any]:
    answer = await post.answer(app, caller_of(request, principal), body, headers)
    response.status_code = answer.status
    response.headers.update(answer.headers)
    return answer.body


@router.post(
    "/transfers", status_code=202, response_model=TransactionPublic, responses=MONEY_ANSWERS
)
async def create_transfer(
    app: App,
    body: TransferCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    headers: Annotated[MoneyHeaders, Header()],
) -> dict[str, Any]:
    return await answer_slow(TRANSFERS, app, request, response, principal, body, headers)


@router.post(
    "/deposits", status_code=202, response_model=TransactionPublic, responses=PROVIDER_ANSWERS
)
async def create_deposit(
    app: App,
    body: DepositCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    headers: Annotated[MoneyHeaders, Header()],
) -> dict[str, Any]:
    """Charge the caller's card (``payment_method_id``) and credit the wallet with what
    the provider took; a declined charge ends ``failed`` with the provider's code."""
    return await answer_slow(DEPOSITS, app, request, response, principal, body, headers)


@router.post(
    "/withdrawals",
    status_code=202,
    response_model=TransactionPublic,
    responses=PROVIDER_ANSWERS,
)
async def create_withdrawal(
    app: App,
    body: WithdrawalCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    headers: Annotated[MoneyHeaders, Header()],
) -> dict[str, Any]:
    """Hold the amount at once, pay it out to the caller's bank account
    (``payout_method_id``), then take it from the wallet; a failed payout releases it."""
    return await answer_slow(WITHDRAWALS, app, request, response, principal, body, headers)


def visible(principal: Principal, row: Any) -> bool:
    """Whether ``principal`` may read ``row`` (a transaction, a batch): its owner, or a reader."""
    return principal.has_role(*READERS) or row.owner_id == principal.subject


@router.get(
    "/transactions/{transaction_id}", response_model=TransactionPublic, responses=errors(404)
)
async def get_transaction(
    transaction_id: str, app: App, principal: CurrentPrincipal
) -> dict[str, Any]:
    row = await store.get(app.engine, transaction_id)
    if row is None or not visible(principal, row):
        raise Problem(404, "transaction_not_found", f"no transaction {transaction_id}")
    return represent(row)


async def page_by_creation(
    cursor: str | None,
    limit: int,
    search: Callable[[tuple[datetime, str] | None, int], Awaitable[Sequence[Any]]],
) -> tuple[list[Any], str | None]:
    """One page of rows newest first, keyed by ``(created_at, id)``: ``search(after, n)``
    reads ``n`` rows after the cursor's row (``common.paging``)."""
    after = decode_cursor(cursor, CURSOR) if cursor else None
    start = (after[0], str(after[1])) if after else None
    return await fetch_page(lambda n: search(start, n), limit, lambda r: [r.created_at, r.id])


@router.get("/transactions", response_model=TransactionsPage)
async def list_transactions(
    app: App,
    principal: CurrentPrincipal,
    type: Annotated[
        str | None, Query(pattern="^(transfer|deposit|withdrawal|payment|refund)$")
    ] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    wallet_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    owner = None if principal.has_role(*READERS) else principal.subject
    rows, next_cursor = await page_by_creation(
        cursor,
        limit,
        lambda after, n: store.search(
            app.engine,
            owner=owner,
            kind=type,
            status=status,
            wallet_id=wallet_id,
            since=since,
            until=until,
            cursor=after,
            limit=n,
        ),
    )
    return {"items": [represent(r) for r in rows], "next_cursor": next_cursor}
