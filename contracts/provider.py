"""What the money services ask of the payment provider, and what it calls back with.

`provider-commands` (private, key `transaction_id`): the saga's requests to the provider;
transaction_svc's provider worker carries each to pgw_svc over HTTP with the command's
`idempotency_key`, so a command decided twice (a replay, a retry after a timeout) charges,
refunds or pays out once. The outcome goes to `payment-events` (contracts.payment).

`ChargeCallback` is the body pgw_svc POSTs, signed (common.signatures), when a pending
charge is decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import msgspec

from contracts.message import Message, from_payload

# the HTTP header a charge or payout create carries its deadline in (an RFC 3339 instant):
# transaction_svc.provider sends it, pgw_svc.provider_api fails a first create past it
DEADLINE_HEADER = "Paystream-Deadline"


class ChargeCard(Message, frozen=True):
    """Charge the card `amount` + `fee` (the fee of a deposit or card payment, paid by
    the card's owner on top of what the wallet is credited)."""

    command_id: str
    transaction_id: str
    wallet_id: str
    owner_id: str
    payment_method_id: str
    amount: int
    currency: str
    idempotency_key: str
    fee: int = 0


class RefundCharge(Message, frozen=True):
    """Give `amount` + `fee` of a captured charge back: a deposit's or card payment's in
    full, fee included (its credit was refused), or `amount` of a card payment
    `payment_id` for the refund `transaction_id` (no fee: the payment's stays earned; the
    answer is then published keyed by the payment)."""

    command_id: str
    transaction_id: str
    wallet_id: str
    charge_id: str
    amount: int
    currency: str
    idempotency_key: str
    payment_id: str = ""
    fee: int = 0


class SendPayout(Message, frozen=True):
    command_id: str
    transaction_id: str
    wallet_id: str
    owner_id: str
    payment_method_id: str
    amount: int
    currency: str
    idempotency_key: str


ProviderCommand: TypeAlias = ChargeCard | RefundCharge | SendPayout


def decode_provider_command(payload: Mapping[str, Any]) -> ProviderCommand:
    """The provider command of an envelope's payload (ValueError if it is none)."""
    command: ProviderCommand = from_payload(payload, ProviderCommand)
    return command


class ChargeCallback(msgspec.Struct, frozen=True, kw_only=True):
    """pgw_svc -> transaction_svc, once a pending charge is decided: `status` is
    `captured` or `failed` (then `failure_reason` is the provider's code), or `voided`
    (cancelled by its maker before the provider decided)."""

    charge_id: str
    idempotency_key: str
    status: str
    amount: int
    currency: str
    failure_reason: str | None = None
