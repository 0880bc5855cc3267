"""The one envelope every Kafka message travels in (architecture.md, "Events").

Encoded and decoded by msgspec: decoding validates as it parses (non-empty ``type``,
``producer`` and ``key``, ``schema_version`` >= 1, no unknown envelope field) at no extra
cost, so every reader uses ``from_bytes``. Every field is always written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

from contracts.ids import uuid7
from contracts.message import Message, to_payload

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
EventId = Annotated[str, msgspec.Meta(extra_json_schema={"format": "uuid"})]
Instant = Annotated[datetime, msgspec.Meta(tz=True, extra_json_schema={"format": "date-time"})]


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid7())


class Envelope(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A domain event or command with its metadata; ``key`` is the Kafka key."""

    event_id: EventId = msgspec.field(default_factory=_new_id)
    type: NonEmpty
    schema_version: Annotated[int, msgspec.Meta(ge=1)] = 1
    occurred_at: Instant = msgspec.field(default_factory=_now)
    producer: NonEmpty
    key: NonEmpty
    correlation_id: str | None = None
    causation_id: str | None = None
    payload: dict[str, Any] = msgspec.field(default_factory=dict)

    @classmethod
    def of(
        cls,
        message: Message,
        *,
        key: str,
        producer: str,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> Envelope:
        """The envelope of ``message``: its type, schema version and payload."""
        return cls(
            event_id=event_id or _new_id(),
            type=type(message).__name__,
            schema_version=message.SCHEMA_VERSION,
            occurred_at=occurred_at or _now(),
            producer=producer,
            key=key,
            correlation_id=correlation_id,
            causation_id=causation_id,
            payload=to_payload(message),
        )

    def to_bytes(self) -> bytes:
        return _encoder.encode(self)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        """Parse and validate; raises ``msgspec.DecodeError`` (``ValidationError`` for a
        well-formed document that breaks the contract), both ``ValueError``s."""
        return _decoder.decode(raw)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)
