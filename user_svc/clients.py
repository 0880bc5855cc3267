"""Service clients: machine identities that get access tokens by the client-credentials
grant (OAuth 2.0, RFC 6749 section 4.4) and may check other tokens."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import jwt
from sqlalchemy.ext.asyncio import AsyncEngine

from common.auth import JwksVerifier
from common.errors import Problem
from user_svc import store
from user_svc.keystore import PgKeyStore
from user_svc.passwords import Argon2Passwords
from user_svc.tokens import TokenMinter, opaque_token

log = logging.getLogger("user_svc.clients")


def _invalid_client() -> Problem:
    return Problem(401, "invalid_client", "unknown client or wrong secret",
                   headers={"WWW-Authenticate": "Basic"})  # fmt: skip


class ServiceClients:
    def __init__(
        self, engine: AsyncEngine, keys: PgKeyStore, passwords: Argon2Passwords,
        minter: TokenMinter, verifier: JwksVerifier, ttl_s: int,
    ) -> None:  # fmt: skip
        self._engine = engine
        self._keys = keys
        self._passwords = passwords
        self._minter = minter
        self._verifier = verifier
        self._ttl = ttl_s

    async def create(self, name: str, scopes: list[str], created_by: str) -> dict[str, Any]:
        """A new client; its secret is returned here once and stored only as a hash."""
        client_id = "svc_" + secrets.token_hex(8)
        secret = opaque_token()
        async with self._engine.begin() as conn:
            await store.insert_service_client(
                conn, client_id=client_id, name=name, scopes=sorted(set(scopes)),
                secret_hash=await self._passwords.hash(secret), created_by=created_by,
            )  # fmt: skip
        log.info("service client created", extra={"client_id": client_id, "by": created_by})
        return {"client_id": client_id, "client_secret": secret, "name": name,
                "scopes": sorted(set(scopes))}  # fmt: skip

    async def grant(
        self, grant_type: str, client_id: str, client_secret: str, scope: str | None
    ) -> dict[str, Any]:
        """The client-credentials grant: an access token with role ``service``."""
        if grant_type != "client_credentials":
            raise Problem(400, "unsupported_grant_type", "only client_credentials is supported")
        async with self._engine.connect() as conn:
            found = await store.service_client(conn, client_id)
        if not await self._passwords.verify(found[0] if found else None, client_secret):
            raise _invalid_client()
        assert found is not None
        allowed = set(found[1])
        wanted = set(scope.split()) if scope else allowed
        if not wanted <= allowed:
            raise Problem(400, "invalid_scope", "scope exceeds what the client may ask for",
                          allowed=sorted(allowed))  # fmt: skip
        granted = " ".join(sorted(wanted))
        token, _ = self._minter.access_token(
            await self._keys.current(), subject=client_id, role="service",
            now=int(time.time()), ttl_s=self._ttl, scope=granted,
        )  # fmt: skip
        return {"access_token": token, "token_type": "bearer", "expires_in": self._ttl,
                "scope": granted}  # fmt: skip

    async def introspect(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token (checked exactly as every service checks it);
        401 otherwise."""
        await self._verifier.verify(token, caller=False)  # the caller is the service asking
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return claims
