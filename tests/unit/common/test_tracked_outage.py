"""What the tracked consumer retries without end (an outage) and what it may dead-letter."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, RequestTimedOutError
from sqlalchemy.exc import DBAPIError

from common.kafka.tracked import is_outage


def _wrapped(cause: Exception) -> Exception:
    """``cause`` as a library re-raises it (``raise ... from``)."""
    try:
        try:
            raise cause
        except Exception as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError("peer reset"),
        KafkaConnectionError("broker gone"),
        RequestTimedOutError(),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        _wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed")),
        DBAPIError("SELECT 1", None, Exception("lost"), connection_invalidated=True),
    ],
)
def test_a_lost_connection_is_an_outage(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("boom"),
        KeyError("amount"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        _wrapped(asyncpg.exceptions.DataError("invalid input syntax for type uuid")),
    ],
)
def test_a_failing_record_is_not_an_outage(error: Exception) -> None:
    assert not is_outage(error)
