"""HTTP request and response bodies (pydantic lives only at the edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AssignableRole = Literal["user", "merchant", "admin", "auditor"]
Secret = Field(min_length=1, max_length=1024)


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class RegisterIn(In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "ada@example.com",
                    "password": "Analytical-Engine-1843",
                    "full_name": "Ada Lovelace",
                }
            ]
        }
    )

    email: str = Field(min_length=3, max_length=320)
    password: str = Secret
    full_name: str = Field(min_length=1, max_length=200)
    role: Literal["user", "merchant"] = "user"


class LoginIn(In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "ada@example.com", "password": "Analytical-Engine-1843"}]
        }
    )

    email: str = Field(max_length=320)
    password: str = Secret


class RefreshIn(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": "rt_3q2-xYz"}]})

    refresh_token: str = Secret


class VerifyEmailIn(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"token": "ev_8Hq-2kP"}]})

    token: str = Secret


class ForgotPasswordIn(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ada@example.com"}]})

    email: str = Field(max_length=320)


class ForgotPasswordAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"detail": "if an account has this email, a reset link is on its way"}]
        }
    )

    detail: str


class ResetPasswordIn(In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"token": "pr_5tG-9wQ", "new_password": "Difference-Engine-1822"}]
        }
    )

    token: str = Secret
    new_password: str = Secret


class ChangePasswordIn(In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "current_password": "Analytical-Engine-1843",
                    "new_password": "Difference-Engine-1822",
                }
            ]
        }
    )

    current_password: str = Secret
    new_password: str = Secret


class EmailLinkIn(In):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"request_id": "0192f7a4-1c2b-7d3e-8f40-123456789abc"}]}
    )

    request_id: str = Field(min_length=1, max_length=64)


class EmailLink(BaseModel):
    """The one-time token of an email request, for the mail that carries it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "ev_8Hq-2kP",
                    "purpose": "verify_email",
                    "user_id": "0192f7a4-1c2b-7d3e-8f40-123456789abc",
                    "expires_at": "2026-12-01T15:30:00Z",
                }
            ]
        }
    )

    token: str
    purpose: Literal["verify_email", "reset_password"]
    user_id: str
    expires_at: datetime


class UserContact(BaseModel):
    """Where the mailer reaches a user, for a notification whose event named only an id."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "0192f7a4-1c2b-7d3e-8f40-123456789abc",
                    "email": "ada@example.com",
                    "full_name": "Ada King",
                }
            ]
        }
    )

    user_id: str
    email: str
    full_name: str


class ProfilePatch(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"full_name": "Ada King"}]})

    full_name: str = Field(min_length=1, max_length=200)


class RoleIn(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"role": "merchant"}]})

    role: AssignableRole


class ServiceClientIn(In):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "ledger-export", "scopes": ["wallets:read"]}]}
    )

    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(default_factory=list, max_length=50)


class TokenVerifyIn(In):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"token": "eyJhbGciOiJFZERTQSJ9.e30.sig"}]}
    )

    token: str = Secret


class KeyRotated(BaseModel):
    kid: str


class Jwks(BaseModel):
    """RFC 7517 key set: the public keys that verify access tokens."""

    keys: list[dict[str, Any]]


class UserPublic(BaseModel):
    id: str
    email: str
    full_name: str
    role: str
    email_verified: bool
    created_at: datetime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UsersPage(BaseModel):
    items: list[UserPublic]
    next_cursor: str | None


class ServiceClientCreated(BaseModel):
    client_id: str
    client_secret: str
    name: str
    scopes: list[str]


class ServiceToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    scope: str
