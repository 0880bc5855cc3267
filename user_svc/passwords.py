"""The password policy (pure) and argon2id hashing."""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from common.cpu import CpuBound
from common.settings import Settings

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")

_CLASSES = (
    set(string.ascii_lowercase),
    set(string.ascii_uppercase),
    set(string.digits),
)


def _classes_used(password: str) -> int:
    used = sum(1 for cls in _CLASSES if any(c in cls for c in password))
    others = any(not any(c in cls for cls in _CLASSES) for c in password)
    return used + int(others)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case), read once."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def password_problems(password: str, email: str, min_length: int = 12) -> list[str]:
    """Why ``password`` is too weak for the account ``email`` (empty when it is fine).

    At least ``min_length`` characters, not in the list of common passwords (ignoring
    case), at least two character classes (lower, upper, digits, others), and not
    containing the email's local part (when it has 3+ chars).
    """
    problems = []
    if len(password) < min_length:
        problems.append(f"must be at least {min_length} characters long")
    if password.lower() in common_passwords():
        problems.append("must not be a commonly used password")
    if _classes_used(password) < 2:
        problems.append("must mix at least two of: lower case, upper case, digits, symbols")
    local = email.partition("@")[0].lower()
    if len(local) >= 3 and local in password.lower():
        problems.append("must not contain the email address")
    return problems


class Argon2Passwords:
    """argon2id hashes, computed within ``bound`` (threads, at most so many at once): the
    event loop keeps serving, and a burst is refused 503 rather than queued past the
    gateway's timeout."""

    def __init__(self, hasher: PasswordHasher | None = None, bound: CpuBound | None = None) -> None:
        self._hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        self._bound = bound or CpuBound.of(Settings())
        self._dummy = self._hasher.hash("not a real password, only spends time")

    async def hash(self, secret: str) -> str:
        return await self._bound.run(self._hasher.hash, secret)

    def _verify(self, stored: str | None, secret: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, secret) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, secret: str) -> bool:
        """True when ``secret`` matches ``stored``; with no ``stored`` hash (unknown
        account) a dummy hash is checked anyway so both answers take the same time."""
        return await self._bound.run(self._verify, stored, secret)

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)
