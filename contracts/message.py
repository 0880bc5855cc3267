"""The base of every command and event, and the one payload codec (msgspec).

A message's class name travels in the payload's ``"type"`` field (a msgspec tagged
union), so a payload is ``{"type": "DebitWallet", ...}``. Decoding ignores unknown fields
(tolerant reader): a field added within a schema version never breaks a consumer.
Subclasses repeat ``frozen=True`` (msgspec inherits it; mypy wants it said).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag=True):
    """A command or event; ``SCHEMA_VERSION`` goes into its envelope's ``schema_version``."""

    SCHEMA_VERSION: ClassVar[int] = 1


class Value(msgspec.Struct, frozen=True, kw_only=True):
    """A value nested inside a message (no ``"type"`` of its own)."""


def to_payload(message: msgspec.Struct) -> dict[str, Any]:
    """The JSON-safe payload of ``message`` (every field, its type name first)."""
    payload: dict[str, Any] = msgspec.to_builtins(message)
    return payload


def from_payload(payload: Mapping[str, Any], kind: Any) -> Any:
    """Decode ``payload`` as ``kind`` (a message class or a union of them); raises
    ``msgspec.ValidationError`` (a ``ValueError``) for an unknown type or a bad field."""
    return msgspec.convert(payload, kind)
