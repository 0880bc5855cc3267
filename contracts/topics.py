"""Kafka topic names, and the public topics with the messages each carries.

The public topics are the ones downstream systems may read (docs/events.md); the AsyncAPI
document (`python -m contracts.generate`) is made from `PUBLIC`.
"""

from __future__ import annotations

from typing import NamedTuple

from contracts.message import Message
from contracts.payment import PaymentEvent
from contracts.transaction import TransactionTopicEvent
from contracts.user import UserEvent
from contracts.wallet import WalletEvent

WALLET_COMMANDS = "wallet-commands"
WALLET_EVENTS = "wallet-events"
TRANSACTION_EVENTS = "transaction-events"
PAYMENT_EVENTS = "payment-events"
PROVIDER_COMMANDS = "provider-commands"  # private: the saga's requests to the provider
USER_EVENTS = "user-events"
NOTIFICATION_EVENTS = "notification-events"
AUDIT_EVENTS = "audit-events"

ALL_TOPICS = (
    WALLET_COMMANDS,
    WALLET_EVENTS,
    TRANSACTION_EVENTS,
    PAYMENT_EVENTS,
    PROVIDER_COMMANDS,
    USER_EVENTS,
    NOTIFICATION_EVENTS,
    AUDIT_EVENTS,
)


def dlq(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return f"{topic}.dlq"


REPLAY_SUFFIX = ".replay"


def replay(topic: str) -> str:
    """Where ``topic``'s dead-lettered records are appended again, each for the one
    consumer group it failed in (``common.kafka.replay``)."""
    return f"{topic}{REPLAY_SUFFIX}"


class PublicTopic(NamedTuple):
    name: str
    key: str  # what the Kafka key (= the envelope's ``key``) is
    description: str
    messages: tuple[type[Message], ...]


PUBLIC: tuple[PublicTopic, ...] = (
    PublicTopic(
        PAYMENT_EVENTS,
        "payment id",
        "Each step of a deposit's or withdrawal's life with the payment provider: "
        "initiated, the provider's answer (charge, refund, payout), completed or failed; "
        "each step of a payment to a merchant and of its refunds (keyed by the payment).",
        PaymentEvent.__args__,
    ),
    PublicTopic(
        TRANSACTION_EVENTS,
        "transaction_id (a change of fees, limits or exchange rates: what changed; a "
        "schedule's message: schedule:<id>)",
        "What happened to each transfer, deposit, withdrawal, payment to a merchant and "
        "refund, from request to terminal state; every change of the fee schedule, "
        "of the limits and of the exchange rates, with the admin who made it; and each "
        "scheduled run that failed and each schedule paused after failures.",
        TransactionTopicEvent.__args__,
    ),
    PublicTopic(
        WALLET_EVENTS,
        "wallet_id",
        "Every decision of the wallet decider: the wallet ledger, with balanced postings.",
        WalletEvent.__args__,
    ),
    PublicTopic(
        USER_EVENTS,
        "user_id",
        "Accounts registered, email addresses verified and roles changed.",
        UserEvent.__args__,
    ),
)
