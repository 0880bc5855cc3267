"""Internal `audit-events` (key: the actor's id): what people did that only the audit log
records, so that audit_svc writes every record of its log from Kafka, in one order.

Today that is the audit log's own queries (who asked what); `address` is the caller's
source address as the gateway saw it, when known.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from contracts.message import Message, from_payload


class AuditLogQueried(Message, frozen=True):
    """`actor_id` (role `actor_role`) asked `path` with the query parameters `query`."""

    actor_id: str
    actor_role: str
    path: str
    query: dict[str, str]
    address: str | None = None


AuditEvent: TypeAlias = AuditLogQueried


def decode_audit_event(payload: Mapping[str, Any]) -> AuditEvent:
    """The audit event of an envelope's payload (ValueError if it is none)."""
    event: AuditEvent = from_payload(payload, AuditEvent)
    return event
