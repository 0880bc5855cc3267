"""Minting access tokens (EdDSA JWTs) and opaque one-time secrets."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import jwt

from contracts.ids import uuid7
from user_svc.keys import SigningKey


def opaque_token() -> str:
    """A random, URL-safe secret (refresh tokens, email tokens, client secrets)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored instead of an opaque token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenMinter:
    """Signs access tokens for one issuer and audience."""

    issuer: str
    audience: str

    def access_token(
        self, key: SigningKey, *, subject: str, role: str, now: int, ttl_s: int,
        scope: str | None = None, session: str | None = None, email_verified: bool | None = None,
    ) -> tuple[str, dict[str, Any]]:  # fmt: skip
        """The signed token and its claims; ``now`` is Unix seconds. ``session`` (the
        refresh-token family of a user's login) becomes the ``sid`` claim, by which the
        token is refused once the session ends (common/revocation.py); a user's
        ``email_verified`` becomes ``ev``."""
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "role": role,
            "typ": "access",
            "iat": now,
            "exp": now + ttl_s,
            "jti": str(uuid7()),
        }
        if scope is not None:
            claims["scope"] = scope
        if session is not None:
            claims["sid"] = session
        if email_verified is not None:
            claims["ev"] = email_verified
        token = jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})
        return token, claims
