"""HTTP request and response bodies (pydantic lives only at the edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AssignableRole = Literal["user", "merchant", "admin", "auditor"]
Secret = Field(min_length=1, max_length=1024)


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class RegisterIn(In):
    email: str = Field(min_length=3, max_length=320)
    password: str = Secret
    full_name: str = Field(min_length=1, max_length=200)
    role: Literal["user", "merchant"] = "user"


class LoginIn(In):
    email: str = Field(max_length=320)
    password: str = Secret


class RefreshIn(In):
    refresh_token: str = Secret


class VerifyEmailIn(In):
    token: str = Secret


class ProfilePatch(In):
    full_name: str = Field(min_length=1, max_length=200)


class RoleIn(In):
    role: AssignableRole


class ServiceClientIn(In):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(default_factory=list, max_length=50)


class TokenVerifyIn(In):
    token: str = Secret


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
