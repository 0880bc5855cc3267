"""Public `user-events` (key `user_id`): accounts registered, verified and re-roled.

No event carries a secret: `EmailVerificationRequested` and `PasswordResetRequested`
name a `request_id`, for which the mailer asks user_svc for the one-time link at delivery
(`POST /internal/email-links`, docs/identity.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeAlias

from contracts.message import Message, from_payload


class UserRegistered(Message, frozen=True):
    user_id: str
    email: str
    full_name: str
    role: str


class EmailVerificationRequested(Message, frozen=True):
    """A verification link for `email` is due; the link made for `request_id` works for
    `expires_in` seconds from the request. Version 2: no `token`."""

    SCHEMA_VERSION: ClassVar[int] = 2

    user_id: str
    email: str
    full_name: str
    request_id: str
    expires_in: int


class PasswordResetRequested(Message, frozen=True):
    """Someone asked to reset the password of `email` (a known account); the link made for
    `request_id` works once within `expires_in` seconds."""

    user_id: str
    email: str
    full_name: str
    request_id: str
    expires_in: int


class PasswordChanged(Message, frozen=True):
    """The password was changed (`how`: `reset` or `change`); every session ended."""

    user_id: str
    email: str
    full_name: str
    how: str


class EmailVerified(Message, frozen=True):
    user_id: str
    email: str


class UserRoleChanged(Message, frozen=True):
    """`changed_by` is the user id of the admin who changed the role."""

    user_id: str
    old_role: str
    new_role: str
    changed_by: str


UserEvent: TypeAlias = (
    UserRegistered
    | EmailVerificationRequested
    | EmailVerified
    | UserRoleChanged
    | PasswordResetRequested
    | PasswordChanged
)


def decode_user_event(payload: Mapping[str, Any]) -> UserEvent:
    """The user event of an envelope's payload (ValueError if it is none)."""
    event: UserEvent = from_payload(payload, UserEvent)
    return event
