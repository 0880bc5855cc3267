"""What a money POST costs and whether its caller may make it: the fee and the limits of
``transaction_svc.terms`` applied to a request the command API has built.

The fee is computed once, when the request is accepted (a converting transfer's is its
quote's, fixed when the quote was given: docs/fx.md), stored on the transaction and
carried by its request event into the saga, which debits ``amount + fee`` in the same
decision as the movement (``domain/saga.py``). Every money movement but a refund carries
a fee: transfers, deposits, withdrawals and payments (from a wallet or a card;
``terms_schemas.FeeType``). A limit applies to every money POST; a daily one is reserved
in the claim's transaction (``terms.reserve``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec.structs import replace
from sqlalchemy.ext.asyncio import AsyncConnection

from common.auth import Principal
from contracts.transaction import (
    DepositRequested,
    PaymentRequested,
    TransferRequested,
    WithdrawalRequested,
)
from transaction_svc import terms
from transaction_svc.store import Record

FeeRequest = TransferRequested | DepositRequested | WithdrawalRequested | PaymentRequested


def carries_fee(event: Any) -> bool:
    """A request whose saga charges a fee: anything but a refund (which gives back an
    amount, never a fee, and costs none: docs/fees-and-limits.md)."""
    return isinstance(event, FeeRequest)


def quoted(event: Any) -> bool:
    """A transfer that converts with a quote: its fee is the quote's, already on it."""
    return isinstance(event, TransferRequested) and bool(event.quote_id)


def with_fee(event: Any, fee: int) -> Any:
    """``event`` carrying ``fee``, if it is a request that carries one."""
    return replace(event, fee=fee) if carries_fee(event) else event


async def priced(
    read: terms.TermsReader,
    principal: Principal,
    row: dict[str, Any],
    event: Any,
    record: Record | None,
    now: datetime,
    found: terms.Terms | None = None,
) -> tuple[dict[str, Any], Any, Record | None]:
    """The request with its fee (row and event), after the caller's per-transaction
    limit is checked (422 ``limit_exceeded``), and with its daily share to reserve when
    the claim is recorded (after what ``record`` writes). ``found``: the caller's terms
    of the request's type and currency when already read (a batch reads them once)."""
    kind, amount, currency = row["kind"], row["amount"], row["currency"]
    if found is None:
        found = await read(kind, currency, principal.role, principal.subject)
    terms.check_per_transaction(found.limit, amount)
    if carries_fee(event) and not quoted(event):
        fee = found.fee.fee(amount)
        row, event = row | {"fee": fee}, with_fee(event, fee)
    if found.limit is None or found.limit.daily is None:
        return row, event, record
    daily = found.limit.daily
    share = {
        "transaction_id": row["id"],
        "owner_id": row["owner_id"],
        "kind": kind,
        "currency": currency,
        "day": now.date(),  # the UTC day the request is accepted
        "amount": amount,
    }

    async def record_and_reserve(conn: AsyncConnection) -> None:
        if record is not None:
            await record(conn)
        await terms.reserve(conn, share, daily)

    return row, event, record_and_reserve
