"""Public `user-events` (key `user_id`): accounts registered, verified and re-roled.

`EmailVerificationRequested` carries the one-time token that the verification mail
needs: the only event with a secret in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from contracts.message import Message, from_payload


class UserRegistered(Message, frozen=True):
    user_id: str
    email: str
    full_name: str
    role: str


class EmailVerificationRequested(Message, frozen=True):
    """`token` verifies `email` within `expires_in` seconds."""

    user_id: str
    email: str
    full_name: str
    token: str
    expires_in: int


class EmailVerified(Message, frozen=True):
    user_id: str
    email: str


class UserRoleChanged(Message, frozen=True):
    """`changed_by` is the user id of the admin who changed the role."""

    user_id: str
    old_role: str
    new_role: str
    changed_by: str


UserEvent: TypeAlias = UserRegistered | EmailVerificationRequested | EmailVerified | UserRoleChanged


def decode_user_event(payload: Mapping[str, Any]) -> UserEvent:
    """The user event of an envelope's payload (ValueError if it is none)."""
    event: UserEvent = from_payload(payload, UserEvent)
    return event
