"""What counts as an outage (a lost or refused connection to a store or to Kafka), not a
fault of the work at hand: the tracked consumer retries it without end instead of
dead-lettering a record, and an HTTP request that meets one is answered 503 with
Retry-After instead of 500 (``common.context``)."""

from __future__ import annotations

from aiokafka.errors import KafkaError
from pymongo.errors import ConnectionFailure
from sqlalchemy.exc import DBAPIError

# SQLSTATE classes of a lost or refused database connection: 08 connection exception,
# 57 operator intervention (the server shutting down, or not accepting connections yet)
OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "57"})


def is_outage(exc: BaseException) -> bool:
    """A lost connection (to the store or to Kafka), seen through wrapping exceptions;
    for Mongo, pymongo's ``ConnectionFailure`` (also its timeouts choosing a server)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError | KafkaError | ConnectionFailure) or (
            isinstance(seen, DBAPIError)
            and (
                seen.connection_invalidated
                or str(getattr(seen.orig, "sqlstate", ""))[:2] in OUTAGE_SQLSTATE_CLASSES
            )
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
