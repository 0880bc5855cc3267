"""What the tracked consumer retries without end (an outage) and what it may dead-letter."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError, RequestTimedOutError
from pymongo.errors import AutoReconnect, DuplicateKeyError, ServerSelectionTimeoutError
from sqlalchemy.exc import DBAPIError

from common.outage import is_outage


class _DriverError(Exception):
    """A DB-API error as SQLAlchemy's asyncpg dialect raises it: it carries the SQLSTATE."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _db(message: str, sqlstate: str, invalidated: bool = False) -> DBAPIError:
    """A failed statement, as SQLAlchemy raises it."""
    orig = _DriverError(message, sqlstate)
    return DBAPIError("SELECT 1", None, orig, connection_invalidated=invalidated)


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
        ConnectionRefusedError("server not listening"),
        _db("connection was closed in the middle of operation", "08003"),
        _db("terminating connection due to administrator command", "57P01"),
        _db("the database system is starting up", "57P03"),
        _wrapped(_db("connection does not exist", "08003")),
        DBAPIError("SELECT 1", None, Exception("lost"), connection_invalidated=True),
        AutoReconnect("mongo connection closed"),
        ServerSelectionTimeoutError("no mongo server answered"),
    ],
)
def test_a_lost_connection_is_an_outage(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("boom"),
        KeyError("amount"),
        _db("duplicate key value violates unique constraint", "23505"),
        _wrapped(_db("invalid input syntax for type uuid", "22P02")),
        DuplicateKeyError("E11000 duplicate key"),
    ],
)
def test_a_failing_record_is_not_an_outage(error: Exception) -> None:
    assert not is_outage(error)
