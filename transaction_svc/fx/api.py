"""FX over HTTP: ``GET /currencies``, ``GET /fx/rates``, ``GET /fx/rates/history``,
``PUT /admin/fx/rates`` (admins), ``POST /fx/quotes`` and ``GET /fx/quotes/{id}``.

An admin's change is published on ``transaction-events`` (``FxRatesChanged``, naming the
admin) before it is committed: a change that cannot be published is not made (503).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import TypeAdapter

from common.auth import CurrentPrincipal
from common.bounds import Instant
from common.cursor import decode_cursor
from common.errors import Problem
from common.money import EXPONENTS, Currency
from common.openapi import errors
from common.paging import fetch_page
from contracts.fx import FxRatesChanged
from contracts.ids import uuid7
from transaction_svc.changes import publish_change
from transaction_svc.deps import App
from transaction_svc.fx import store
from transaction_svc.fx.conversion import convert
from transaction_svc.fx.history import points
from transaction_svc.fx.rates import PIVOT, RateTable, wire
from transaction_svc.fx.schemas import (
    Currencies,
    QuoteCreate,
    QuotePublic,
    RateHistory,
    RatesPublic,
    RatesSet,
)

router = APIRouter()
CURSOR = TypeAdapter(Instant)  # the as_of of a page's last point
HISTORY_SPAN = timedelta(days=1)  # the default range of a history: the last day


def _no_rate(currency: str) -> Problem:
    return Problem(422, "rate_unavailable", f"there is no exchange rate for {currency} yet")


def _table(table: RateTable, base: str) -> dict[str, Any]:
    if table.pivot_rate(base) is None:
        raise _no_rate(base)
    rates = {c: wire(r) for c, r in table.against(base).items()}
    return {"base": base, "rates": rates, "as_of": table.as_of}


@router.get("/currencies", response_model=Currencies)
async def list_currencies(principal: CurrentPrincipal) -> dict[str, Any]:
    """Every currency a wallet may hold, with its ISO 4217 minor units."""
    return {"items": [{"code": c, "minor_units": u} for c, u in EXPONENTS.items()]}


@router.get("/fx/rates", response_model=RatesPublic, responses=errors(422))
async def get_rates(
    app: App, principal: CurrentPrincipal, base: Currency = PIVOT
) -> dict[str, Any]:
    """Every currency's latest rate per one ``base`` (decimal strings)."""
    return _table(await app.rates.current(), base)


@router.get("/fx/rates/history", response_model=RateHistory, responses=errors(400, 422))
async def rate_history(
    app: App,
    principal: CurrentPrincipal,
    base: Currency,
    quote: Currency,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    """Every change of the rate of ``quote`` per ``base`` from ``since`` (default: a day
    ago) to ``until`` (default: now), oldest first, each with when and where it came
    from; the rate in force at ``since`` is the first point when it changed before."""
    if base == quote:
        raise Problem(422, "same_currency", "a rate is between two different currencies")
    end = until or datetime.now(UTC)
    start = since or end - HISTORY_SPAN
    after = decode_cursor(cursor, CURSOR) if cursor else None
    items, next_cursor = await fetch_page(
        lambda n: points(app.engine, base, quote, start, after, end, n),
        limit,
        lambda p: p["as_of"],
    )
    return {"base": base, "quote": quote, "items": items, "next_cursor": next_cursor}


@router.put("/admin/fx/rates", response_model=RatesPublic, responses=errors(403, 422, 503))
async def set_rates(
    body: RatesSet, app: App, principal: CurrentPrincipal, request: Request
) -> dict[str, Any]:
    """Set the rates of some currencies against USD (admins); the others keep theirs.
    The simulated feed, where it runs, drifts each around the rate set here."""
    if not principal.has_role("admin"):
        raise Problem(403, "forbidden", "only an admin sets exchange rates")
    if PIVOT in body.rates:
        raise Problem(422, "pivot_rate_fixed", f"{PIVOT} is the pivot: its rate is always 1")
    change = FxRatesChanged(
        base=PIVOT,
        rates={c: wire(r) for c, r in body.rates.items()},
        changed_by=principal.subject,
    )

    async def published() -> None:
        await publish_change(app, request, change, "fx:rates")

    table = await app.rates.set(body.rates, principal.subject, published)
    return _table(table, PIVOT)


@router.post("/fx/quotes", status_code=201, response_model=QuotePublic, responses=errors(422))
async def create_quote(body: QuoteCreate, app: App, principal: CurrentPrincipal) -> dict[str, Any]:
    """Lock the rate of ``to_currency`` per ``from_currency`` for ``fx_quote_ttl_s``
    seconds: ``amount`` (``from_amount``) converted at it, rounded down to a whole minor
    unit of ``to_currency`` (``to_amount``), with the transfer fee in ``from_currency``."""
    source, target = body.from_currency, body.to_currency
    if source == target:
        raise Problem(422, "same_currency", "a quote converts between two different currencies")
    table = await app.rates.current()
    rate = table.rate(source, target)
    if rate is None:
        raise _no_rate(source if table.pivot_rate(source) is None else target)
    to_amount = convert(body.amount, rate, EXPONENTS[source], EXPONENTS[target])
    if to_amount == 0:
        raise Problem(
            422,
            "amount_too_small",
            f"{body.amount} {source} converts to less than one minor unit of {target}",
        )
    found = await app.terms("transfer", source, principal.role, principal.subject)
    now = datetime.now(UTC)
    quote = {
        "id": str(uuid7()),
        "owner_id": principal.subject,
        "from_currency": source,
        "to_currency": target,
        "rate": rate,
        "from_amount": body.amount,
        "to_amount": to_amount,
        "fee": found.fee.fee(body.amount),
        "created_at": now,
        "expires_at": now + timedelta(seconds=app.settings.fx_quote_ttl_s),
    }
    await store.insert_quote(app.engine, quote)
    return _quote(quote)


def _quote(quote: Any) -> dict[str, Any]:
    data = dict(quote)
    data.pop("owner_id")
    return data | {"rate": wire(data["rate"])}


@router.get("/fx/quotes/{quote_id}", response_model=QuotePublic, responses=errors(404))
async def get_quote(quote_id: str, app: App, principal: CurrentPrincipal) -> dict[str, Any]:
    """A quote of the caller's (someone else's is as unknown as none)."""
    row = await store.get_quote(app.engine, quote_id)
    if row is None or row.owner_id != principal.subject:
        raise Problem(404, "quote_not_found", f"no quote {quote_id}")
    return _quote(row._asdict())
