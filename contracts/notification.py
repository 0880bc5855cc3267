"""Private `notification-events` (key `user_id`): what notification_worker delivered.

One message per notification (an event, a channel and a recipient) once its delivery
ended: sent, or failed after its retries. Consumers deduplicate by the envelope's
`event_id`, which is derived from the notification id and the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from contracts.message import Message, from_payload


class NotificationSent(Message, frozen=True):
    """`kind` (e.g. `transfer_received`) went out on `channel` to `user_id`."""

    notification_id: str
    user_id: str
    kind: str
    category: str
    channel: str
    cause_event_id: str


class NotificationFailed(Message, frozen=True):
    """The provider kept refusing (`reason`) until the retries ran out."""

    notification_id: str
    user_id: str
    kind: str
    category: str
    channel: str
    cause_event_id: str
    reason: str


NotificationEvent: TypeAlias = NotificationSent | NotificationFailed


def decode_notification_event(payload: Mapping[str, Any]) -> NotificationEvent:
    """The notification event of an envelope's payload (ValueError if it is none)."""
    event: NotificationEvent = from_payload(payload, NotificationEvent)
    return event
