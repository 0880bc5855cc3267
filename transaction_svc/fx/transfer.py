"""A transfer that converts (``POST /transfers`` with ``quote_id``): the quote's checks
when the request is built, and its use, recorded once in the claim's own transaction.

The quote must be the caller's and name what the body does (its source currency and
amount, a payee's wallet in its target currency). Whether it is still unused and
unexpired is decided where it is used: the claim's transaction marks it used by this
transfer only if nobody has and it has not expired, so of two transfers racing for one
quote exactly one converts, and a refused one leaves nothing (its key neither). A
replay of the transfer that used it answers as the first time: the claim is not fresh,
so the quote is not asked for again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from common.auth import Principal
from common.errors import Problem
from transaction_svc.deps import TransactionApp
from transaction_svc.fx import store
from transaction_svc.schemas import TransferCreate
from transaction_svc.store import Record

_USE = text(
    "UPDATE transactions.fx_quotes SET used_by = :tx "
    "WHERE id = :q AND used_by IS NULL AND expires_at > now() RETURNING id"
)
_WHY = text("SELECT used_by FROM transactions.fx_quotes WHERE id = :q")


async def quoted(
    app: TransactionApp,
    principal: Principal,
    body: TransferCreate,
    payee: tuple[str, str],
    tx_id: str,
) -> tuple[dict[str, Any], Record]:
    """The request's conversion (``quote_id``, ``to_currency``, ``to_amount`` and the
    quote's ``fee``) and the record that uses the quote; 409 for a quote that is not the
    caller's, 422 for one that does not fit the body or the payee's wallet (``payee``: its
    id and currency)."""
    quote_id = str(body.quote_id)
    quote = await store.get_quote(app.engine, quote_id)
    if quote is None or quote.owner_id != principal.subject:
        raise Problem(409, "quote_unknown", f"no quote {quote_id} of yours")
    if (quote.from_currency, quote.from_amount) != (body.currency, body.amount):
        raise Problem(
            422,
            "quote_mismatch",
            f"quote {quote_id} converts {quote.from_amount} {quote.from_currency}",
        )
    if payee[1] != quote.to_currency:
        raise Problem(
            422, "quote_currency_mismatch", f"wallet {payee[0]} does not hold {quote.to_currency}"
        )

    async def use(conn: AsyncConnection) -> None:
        if (await conn.execute(_USE, {"q": quote_id, "tx": tx_id})).one_or_none() is None:
            used = (await conn.execute(_WHY, {"q": quote_id})).scalar()
            if used is not None:
                raise Problem(409, "quote_used", f"quote {quote_id} was used by {used}")
            raise Problem(409, "quote_expired", f"quote {quote_id} has expired: ask for another")

    conversion = {
        "quote_id": quote_id,
        "to_currency": quote.to_currency,
        "to_amount": quote.to_amount,
        "fee": quote.fee,  # what the quote showed is what is charged
    }
    return conversion, use
