"""Identifiers: time-ordered UUIDv7 for new things, UUIDv5 for deterministic ones."""

from __future__ import annotations

import hashlib
import os
import time
import uuid

NAMESPACE = uuid.UUID("6f1c9a52-8a4e-4c1e-9b7d-3f0c2a5e7d10")


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then 74 random bits."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return uuid.UUID(int=value)


_NAMESPACE_BYTES = NAMESPACE.bytes


def deterministic_id(*parts: str) -> str:
    """The same parts always give the same id: the text of the UUIDv5 of the parts (joined
    by a unit separator) in paystream's namespace, ``str(uuid.uuid5(NAMESPACE, ...))``,
    built without the ``UUID`` object (ids are made for every message on the hot path)."""
    name = _NAMESPACE_BYTES + "\x1f".join(parts).encode()
    digest = bytearray(hashlib.sha1(name, usedforsecurity=False).digest()[:16])  # as uuid5
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
