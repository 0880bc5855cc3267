"""Which ``payment-events`` a merchant's endpoint can subscribe to: the steps of its
payments and refunds (``contracts.payment.MerchantEvent``) and the provider's answers
about a card payment's charge (their payload names no merchant: the worker finds it by
the payment)."""

from __future__ import annotations

from collections.abc import Iterable

from contracts.payment import (
    ChargeFailed,
    ChargePending,
    ChargeRefunded,
    ChargeSucceeded,
    ChargeVoided,
    MerchantEvent,
)

ALL = "*"
DELIVERABLE = frozenset(
    [t.__name__ for t in MerchantEvent.__args__]
    + [
        t.__name__
        for t in (ChargePending, ChargeSucceeded, ChargeFailed, ChargeRefunded, ChargeVoided)
    ]
)


def unknown(events: Iterable[str]) -> list[str]:
    """The names in a subscription that are neither ``*`` nor a deliverable type."""
    return sorted({e for e in events if e != ALL and e not in DELIVERABLE})


def wants(events: Iterable[str], event_type: str) -> bool:
    """An endpoint subscribed to ``events`` receives ``event_type``."""
    return any(e in (ALL, event_type) for e in events)
