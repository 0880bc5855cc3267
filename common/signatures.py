"""Signed callbacks and webhooks: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

Signing the timestamp with the body lets a receiver refuse an old message that someone
recorded and sends again; the window is `tolerance` seconds both ways (clocks drift).
Within the window a replay still verifies, so the receiver must remember what it has
accepted: `Verified.signature` (or the event id it carries) for at least twice the
tolerance, after which the timestamp check alone refuses the copy.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_TOLERANCE_S = 300
HEADER = "Paystream-Signature"  # the HTTP header that carries the signature
_HEX = frozenset("0123456789abcdef")


class SignatureProblem(StrEnum):
    MALFORMED_HEADER = "malformed_header"
    BAD_SIGNATURE = "bad_signature"
    STALE_TIMESTAMP = "stale_timestamp"


class SignatureRejected(ValueError):
    """A callback whose signature header does not verify; `reason` says why."""

    def __init__(self, reason: SignatureProblem) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Verified:
    """What a verified header carried: remember `signature` to refuse a replay."""

    timestamp: int
    signature: str


def _digest(secret: bytes, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(secret: bytes | Sequence[bytes], timestamp: int, body: bytes) -> str:
    """The signature header for `body` sent at `timestamp` (unix seconds); with several
    secrets (a sender rotating its secret), one `v1` for each, in the order given."""
    secrets = [secret] if isinstance(secret, bytes) else list(secret)
    return ",".join([f"t={timestamp}"] + [f"v1={_digest(s, timestamp, body)}" for s in secrets])


def _parse(header: str) -> tuple[int, list[str]]:
    """The timestamp and v1 signatures of a header; other schemes are ignored."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureRejected(SignatureProblem.MALFORMED_HEADER)
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not signatures:
        raise SignatureRejected(SignatureProblem.MALFORMED_HEADER)
    t = timestamps[0]
    if not (t.isascii() and t.isdigit() and len(t) <= 12):
        raise SignatureRejected(SignatureProblem.MALFORMED_HEADER)
    if any(len(s) != 64 or not set(s) <= _HEX for s in signatures):
        raise SignatureRejected(SignatureProblem.MALFORMED_HEADER)
    return int(t), signatures


def verify(
    header: str, body: bytes, secret: bytes, now: int, tolerance: int = DEFAULT_TOLERANCE_S
) -> Verified:
    """Check `header` against the raw `body` at `now` (unix seconds), or raise.

    Several `v1` values are allowed (a sender rotating its secret); one must match. The
    comparison is constant-time. A replay inside the window is the caller's to refuse.
    """
    timestamp, signatures = _parse(header)
    expected = _digest(secret, timestamp, body)
    matched = next((s for s in signatures if hmac.compare_digest(s, expected)), None)
    if matched is None:
        raise SignatureRejected(SignatureProblem.BAD_SIGNATURE)
    if abs(now - timestamp) > tolerance:
        raise SignatureRejected(SignatureProblem.STALE_TIMESTAMP)
    return Verified(timestamp=timestamp, signature=matched)
