"""The in-process verifier: common.auth's verification, keys straight from the key store."""

from __future__ import annotations

from collections.abc import Container

import jwt

from common.auth import JwksVerifier
from user_svc.keystore import PgKeyStore


class KeyStoreVerifier(JwksVerifier):
    """Exactly :class:`common.auth.JwksVerifier` (EdDSA only, iss, aud, exp, ``typ`` access),
    except that keys come from the shared key table instead of an HTTP round trip to itself.
    """

    def __init__(
        self, keys: PgKeyStore, jwks_url: str, issuer: str, audience: str,
        revoked: Container[str] = frozenset(),
    ) -> None:  # fmt: skip
        super().__init__(jwks_url, issuer, audience, revoked=revoked)
        self._store = keys

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        return await self._store.public_key(kid)
