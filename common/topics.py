"""Kafka topic names and their creation."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

WALLET_COMMANDS = "wallet-commands"
WALLET_EVENTS = "wallet-events"
TRANSACTION_EVENTS = "transaction-events"
PAYMENT_EVENTS = "payment-events"
USER_EVENTS = "user-events"
NOTIFICATION_EVENTS = "notification-events"
AUDIT_EVENTS = "audit-events"

ALL_TOPICS = (
    WALLET_COMMANDS,
    WALLET_EVENTS,
    TRANSACTION_EVENTS,
    PAYMENT_EVENTS,
    USER_EVENTS,
    NOTIFICATION_EVENTS,
    AUDIT_EVENTS,
)


def dlq(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return f"{topic}.dlq"


async def ensure_topics(
    bootstrap: str, partitions: int, topics: tuple[str, ...] = ALL_TOPICS, timeout: float = 90
) -> list[str]:
    """Create every topic and its dead-letter topic if missing; return those created."""
    wanted = [t for topic in topics for t in (topic, dlq(topic))]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [
                            NewTopic(t, num_partitions=partitions, replication_factor=1)
                            for t in missing
                        ]
                    )
            return missing
        except KafkaConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
        finally:
            await admin.close()
