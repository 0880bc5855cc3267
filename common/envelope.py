"""The one message envelope every Kafka message travels in (architecture.md, "Events").

Serialized with orjson. ``from_bytes`` validates with pydantic (messages from outside);
``from_trusted_bytes`` skips validation on the hot path of internal topics.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from common.ids import uuid7


def _now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """A domain event or command with its metadata; ``key`` is the Kafka key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(default_factory=lambda: str(uuid7()))
    type: str = Field(min_length=1)
    schema_version: int = Field(default=1, ge=1)
    occurred_at: datetime = Field(default_factory=_now)
    producer: str = Field(min_length=1)
    key: str = Field(min_length=1)
    correlation_id: str | None = None
    causation_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "event_id": self.event_id,
                "type": self.type,
                "schema_version": self.schema_version,
                "occurred_at": self.occurred_at,
                "producer": self.producer,
                "key": self.key,
                "correlation_id": self.correlation_id,
                "causation_id": self.causation_id,
                "payload": self.payload,
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        """Parse and validate; raises ``pydantic.ValidationError`` or ``orjson.JSONDecodeError``."""
        return cls.model_validate(orjson.loads(raw))

    @classmethod
    def from_trusted_bytes(cls, raw: bytes) -> Envelope:
        """Parse without validation: only for messages paystream itself produced."""
        data = orjson.loads(raw)
        data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
        return cls.model_construct(**data)

    def caused(self, type_: str, key: str, payload: dict[str, Any], producer: str) -> Envelope:
        """A new envelope caused by this one: same correlation id, causation = this event."""
        return Envelope(
            type=type_,
            key=key,
            payload=payload,
            producer=producer,
            correlation_id=self.correlation_id or self.event_id,
            causation_id=self.event_id,
        )
