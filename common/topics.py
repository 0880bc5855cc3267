"""Kafka topics' creation (their names are in ``contracts.topics``)."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from contracts.topics import (  # the names are part of the message contract
    ALL_TOPICS,
    AUDIT_EVENTS,
    NOTIFICATION_EVENTS,
    PAYMENT_EVENTS,
    PROVIDER_COMMANDS,
    TRANSACTION_EVENTS,
    USER_EVENTS,
    WALLET_COMMANDS,
    WALLET_EVENTS,
    dlq,
    replay,
)

__all__ = [
    "ALL_TOPICS",
    "AUDIT_EVENTS",
    "NOTIFICATION_EVENTS",
    "PAYMENT_EVENTS",
    "PROVIDER_COMMANDS",
    "TRANSACTION_EVENTS",
    "USER_EVENTS",
    "WALLET_COMMANDS",
    "WALLET_EVENTS",
    "dlq",
    "ensure_topics",
    "replay",
]


async def ensure_topics(
    bootstrap: str, partitions: int, topics: tuple[str, ...] = ALL_TOPICS, timeout: float = 90
) -> list[str]:
    """Create every topic, its dead-letter topic and its replay topic if missing; return
    those created."""
    wanted = [t for topic in topics for t in (topic, dlq(topic), replay(topic))]
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
