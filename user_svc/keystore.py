"""Signing keys shared by every user_svc instance through Postgres (``users.signing_keys``).

Exactly one key is current (``retired_at IS NULL``); rotation retires it and creates a
new one. A retired key stays published in the JWKS until every token it can have signed
has expired, so rotating never invalidates a token that is still in its lifetime.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import jwt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from user_svc.keys import (
    SigningKey,
    generate_private_key,
    load_private_pem,
    new_kid,
    private_pem,
    public_jwk,
)

_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('users.signing_keys'))")
_PUBLISHED = text(
    "SELECT kid, public_jwk, created_at, retired_at FROM users.signing_keys"
    " WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => :window)"
    " ORDER BY kid"
)


class PgKeyStore:
    """The key table, with a per-process cache re-read every ``cache_s`` seconds."""

    def __init__(
        self, engine: AsyncEngine, passphrase: bytes | None, publish_window_s: int,
        cache_s: float,
    ) -> None:  # fmt: skip
        self._engine = engine
        self._passphrase = passphrase
        self._window = publish_window_s
        self._cache_s = cache_s
        self._current: SigningKey | None = None
        self._public: dict[str, jwt.PyJWK] = {}
        self._loaded_at = float("-inf")
        self._miss_reload_at = float("-inf")

    async def _insert_new(self, conn: AsyncConnection) -> str:
        key = generate_private_key()
        kid = new_kid()
        await conn.execute(
            text(
                "INSERT INTO users.signing_keys (kid, private_pem, public_jwk, created_at)"
                " VALUES (:kid, :pem, CAST(:jwk AS jsonb), :now)"
            ),
            {"kid": kid, "pem": private_pem(key, self._passphrase),
             "jwk": json.dumps(public_jwk(kid, key)), "now": datetime.now(UTC)},
        )  # fmt: skip
        return kid

    async def ensure_current(self) -> None:
        """Create the first key if there is no current one (safe with many instances)."""
        async with self._engine.begin() as conn:
            await conn.execute(_LOCK)
            found = await conn.scalar(
                text("SELECT kid FROM users.signing_keys WHERE retired_at IS NULL LIMIT 1")
            )
            if found is None:
                await self._insert_new(conn)
        await self.reload()

    async def rotate(self) -> str:
        """Retire the current key and make a new one current; returns the new kid."""
        async with self._engine.begin() as conn:
            await conn.execute(_LOCK)
            await conn.execute(
                text("UPDATE users.signing_keys SET retired_at = now() WHERE retired_at IS NULL")
            )
            kid = await self._insert_new(conn)
        await self.reload()
        return kid

    async def reload(self) -> None:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_PUBLISHED, {"window": self._window})).all()
            current = [r for r in rows if r.retired_at is None]
            if not current:
                raise RuntimeError("no current signing key (ensure_current was not run)")
            newest = max(current, key=lambda r: r.kid)
            if self._current is None or self._current.kid != newest.kid:
                pem = await conn.scalar(
                    text("SELECT private_pem FROM users.signing_keys WHERE kid = :kid"),
                    {"kid": newest.kid},
                )
                self._current = SigningKey(
                    newest.kid, load_private_pem(pem, self._passphrase), newest.created_at
                )
        self._public = {r.kid: jwt.PyJWK(r.public_jwk, algorithm="EdDSA") for r in rows}
        self._loaded_at = time.monotonic()

    async def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at > self._cache_s:
            await self.reload()

    async def current(self) -> SigningKey:
        """The key new tokens are signed with."""
        await self._fresh()
        assert self._current is not None
        return self._current

    async def jwks(self) -> dict[str, Any]:
        """Every published public key, read from the table (never stale across instances)."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_PUBLISHED, {"window": self._window})).all()
        return {"keys": [r.public_jwk for r in rows]}

    async def public_key(self, kid: str) -> jwt.PyJWK | None:
        """The published key ``kid``; an unknown kid re-reads the table at most once a second
        (another instance may have rotated)."""
        await self._fresh()
        if kid not in self._public and time.monotonic() - self._miss_reload_at > 1.0:
            self._miss_reload_at = time.monotonic()
            await self.reload()
        return self._public.get(kid)
