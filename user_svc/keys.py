"""Ed25519 signing keys: generation, (encrypted) PEM storage form and the public JWK."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.ids import uuid7


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key pair; ``retired_at`` is set once a newer key has replaced it."""

    kid: str
    private_key: Ed25519PrivateKey
    created_at: datetime
    retired_at: datetime | None = None

    @property
    def public_jwk(self) -> dict[str, Any]:
        return public_jwk(self.kid, self.private_key)


def new_kid() -> str:
    """Time-ordered, so the newest key sorts last."""
    return uuid7().hex


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_jwk(kid: str, private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The RFC 8037 OKP JWK of the public half."""
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": kid, "use": "sig",
            "alg": "EdDSA"}  # fmt: skip


def private_pem(private_key: Ed25519PrivateKey, passphrase: bytes | None) -> str:
    """PKCS#8 PEM, encrypted with ``passphrase`` when one is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def load_private_pem(pem: str, passphrase: bytes | None) -> Ed25519PrivateKey:
    """Reads what :func:`private_pem` wrote (an unencrypted PEM ignores the passphrase)."""
    encrypted = "ENCRYPTED" in pem.splitlines()[0]
    key = serialization.load_pem_private_key(pem.encode(), passphrase if encrypted else None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("stored signing key is not Ed25519")
    return key
