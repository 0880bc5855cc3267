"""Access-token verification for every service: EdDSA JWTs checked against the JWKS.

user_svc signs; everybody else verifies locally with the public keys it publishes at
``/.well-known/jwks.json``. Keys are cached and refetched only when a token names a key
id the cache does not know (at most once every few seconds), so verification costs no
network round trip per request. Only EdDSA is accepted: ``alg: none`` and HS256 tokens
signed with a public key are refused by construction. A token whose session (``sid``) was
ended (logout, a reused refresh token) is refused too: see common/revocation.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request

from common.errors import Problem
from common.logging import note_user
from common.state import ServiceState, installed

ALGORITHMS = ["EdDSA"]
ROLES = ("user", "merchant", "admin", "auditor", "service")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (with a role) or a service client (with scopes)."""

    subject: str
    role: str
    kind: str = "user"  # "user" | "service"
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None
    session_id: str | None = None  # user tokens: the session they belong to
    email_verified: bool = False  # user tokens: the account's email was verified at minting

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


class JwksVerifier:
    """Verifies access tokens against a JWKS URL, caching the keys by ``kid``.

    A token that verified is remembered (up to ``cache_size`` of them) until it expires
    or ``cache_s`` passes, whichever comes first: a client sends the same token with
    every request, and a signature check is the costliest step of the gateway's and each
    service's request path. ``cache_s`` bounds how long a token signed by a key withdrawn
    from the JWKS can still be honoured. ``revoked`` holds the ended sessions, checked on
    every call, cached or not (common.revocation.RevokedSessions in every service)."""

    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        audience: str,
        client: httpx.AsyncClient | None = None,
        min_refetch_s: float = 5.0,
        cache_s: float = 30.0,
        cache_size: int = 10_000,
        revoked: Container[str] = frozenset(),
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self._client = client or httpx.AsyncClient(timeout=3)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._min_refetch_s = min_refetch_s
        self._lock = asyncio.Lock()
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._cache_s = cache_s
        self._cache_size = cache_size
        self._revoked = revoked

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self._min_refetch_s and self._keys:
                return
            resp = await self._client.get(self.jwks_url)
            resp.raise_for_status()
            keys = {}
            for jwk in resp.json().get("keys", []):
                if jwk.get("kid"):
                    keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="EdDSA")
            self._keys = keys
            self._fetched_at = time.monotonic()

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        if kid not in self._keys:
            try:
                await self._refresh()
            except httpx.HTTPError as exc:
                raise Problem(503, "jwks_unavailable", "cannot fetch signing keys") from exc
        return self._keys.get(kid)

    async def verify(self, token: str, *, caller: bool = True) -> Principal:
        """The token's principal; raises a 401 ``Problem`` for any invalid token.
        ``caller``: the token is the request's own (its log lines then name the subject);
        False for a token the request only asks about (introspection)."""
        now = time.time()
        hit = self._verified.get(token)
        if hit is not None and now < hit[1]:
            principal = hit[0]
        else:
            if hit is not None:
                del self._verified[token]
            principal, exp = await self._verify(token)
            if len(self._verified) >= self._cache_size:  # drop the oldest entry (dict order)
                del self._verified[next(iter(self._verified))]
            self._verified[token] = (principal, min(exp, now + self._cache_s))
        if principal.session_id in self._revoked:
            raise _unauthorized("the session has ended")
        if caller:
            note_user(principal.subject)  # the request's log lines name the caller
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _unauthorized("malformed token") from None
        if header.get("alg") not in ALGORITHMS:
            raise _unauthorized("unsupported token algorithm")
        key = await self.key_for(str(header.get("kid", "")))
        if key is None:
            raise _unauthorized("unknown signing key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("token expired") from None
        except jwt.PyJWTError:
            raise _unauthorized("invalid token") from None
        if claims.get("typ") != "access":
            raise _unauthorized("not an access token")
        return principal_from_claims(claims), float(claims["exp"])

    async def aclose(self) -> None:
        await self._client.aclose()


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    role = str(claims.get("role", "user"))
    if role not in ROLES:
        raise _unauthorized("unknown role")
    scope = str(claims.get("scope", ""))
    return Principal(
        subject=str(claims["sub"]),
        role=role,
        kind="service" if role == "service" else "user",
        scopes=frozenset(scope.split()) if scope else frozenset(),
        token_id=claims.get("jti"),
        session_id=claims.get("sid"),
        email_verified=claims.get("ev") is True,
    )


def bearer_token(request: Request) -> str:
    return token_of(request.headers.get("authorization"))


def token_of(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; 401 without one."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, by the verifier of the app's typed state."""
    verifier = installed(request.app.state, ServiceState).verifier
    principal = await verifier.verify(bearer_token(request))
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Any:
    """A dependency that lets only ``roles`` through (403 otherwise)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(*roles):
            raise Problem(403, "forbidden", f"needs one of the roles: {', '.join(roles)}")
        return principal

    return Depends(check)
