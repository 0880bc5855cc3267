"""The masking rules of the audit log: what of an event's data an auditor may read.

An event's data is masked before it is hashed and stored, so the log never holds what
it must not show:

- secrets are dropped: any key naming a token, secret, password, CVC/CVV, PIN, OTP,
  authorization or API key (``EmailVerificationRequested.token`` among them);
- emails keep their first character and domain: ``ada@example.com`` -> ``a***@example.com``;
- names are reduced to initials: ``Ada Lovelace`` -> ``A. L.``;
- card numbers and IBANs (by key, or a card-like digit run or IBAN-like word anywhere in
  a string) keep their last 4: ``****4242``.

Pure and total: any JSON-like value in, a JSON-like value out; masking twice changes
nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

# inside a key (``accessToken``, ``client_secret``) / as a whole word of it (``card_pin``)
SECRET_PARTS = ("token", "secret", "password", "passwd", "authorization", "apikey", "api_key")
SECRET_WORDS = frozenset({"cvc", "cvv", "pin", "otp"})
NAME_KEYS = frozenset(
    {"name", "full_name", "first_name", "last_name", "display_name", "holder_name"}
    | {"cardholder", "card_holder", "account_holder", "account_holder_name"}
)
NUMBER_PARTS = ("card_number", "cardnumber", "iban", "account_number")
NUMBER_WORDS = frozenset({"pan"})
_WORD = re.compile(r"[a-z0-9]+")
_EMAIL = re.compile(r"([^\s@*]+)@([^\s@]+\.[^\s@]+)")
_CARD = re.compile(r"(?<![\w*])\d(?:[ -]?\d){12,18}(?!\w)")
_IBAN = re.compile(r"(?<![\w*])[A-Z]{2}\d{2}[A-Z0-9]{11,30}(?!\w)")
# what any match of _CARD or _IBAN starts with: one search spares both on most strings
_CANDIDATE = re.compile(r"\d(?:[ -]?\d){12}|[A-Z]{2}\d{2}[A-Z0-9]{11}")


def mask(value: Any, key: str = "") -> Any:
    """``value`` (found under ``key``) with the rules applied, recursively; dropped keys of
    a mapping are left out (see ``is_secret``)."""
    if isinstance(value, dict):
        return _mask_mapping(value)
    if isinstance(value, list | tuple):
        return [mask(v, key) for v in value]
    if not isinstance(value, str):
        return value
    return rule_for(key)(value)


def _mask_mapping(value: dict[Any, Any]) -> dict[Any, Any]:
    # the projector masks every event: a plain string or scalar is handled here without
    # a call of ``mask`` per field (about half of making a record, bench/audit_ingest.py)
    out = {}
    for k, v in value.items():
        if is_secret(k):
            continue
        kind = v.__class__
        if kind is str:
            out[k] = rule_for(k)(v)
        elif kind is int or kind is bool or v is None:
            out[k] = v
        else:
            out[k] = mask(v, k)
    return out


@lru_cache(maxsize=4096)
def rule_of(key: str) -> str:
    """Which rule masks a string under ``key`` (cached: events repeat a few keys)."""
    lowered = key.lower()
    if "email" in lowered:
        return "email"
    if lowered in NAME_KEYS:
        return "name"
    if any(p in lowered for p in NUMBER_PARTS) or NUMBER_WORDS & set(_WORD.findall(lowered)):
        return "number"
    return "text"


@lru_cache(maxsize=4096)
def rule_for(key: str) -> Callable[[str], str]:
    """The function that masks a string under ``key`` (``rule_of``'s rule)."""
    return _RULES[rule_of(key)]


@lru_cache(maxsize=4096)
def is_secret(key: str) -> bool:
    """A key whose value is a bearer secret: dropped, never masked."""
    lowered = key.lower()
    return any(p in lowered for p in SECRET_PARTS) or bool(
        SECRET_WORDS & set(_WORD.findall(lowered))
    )


def mask_email(value: str) -> str:
    """``ada@example.com`` -> ``a***@example.com``; a value that is no email: ``***``."""
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain}"


def reduce_name(value: str) -> str:
    """``Ada Lovelace`` -> ``A. L.``: the initial of each word."""
    return " ".join(f"{word[0]}." for word in value.split())


def last4(value: str) -> str:
    """Only the last 4 letters or digits: ``4242 4242 4242 4242`` -> ``****4242``."""
    kept = "".join(c for c in value if c.isalnum())[-4:]
    return f"****{kept}"


def mask_text(value: str) -> str:
    """Emails, card-like digit runs and IBAN-like words inside free text, masked (each
    pattern only tried on a string long enough to hold it)."""
    if "@" in value:
        value = _EMAIL.sub(lambda m: mask_email(m.group(0)), value)
    if len(value) >= 13 and _CANDIDATE.search(value):
        value = _CARD.sub(lambda m: last4(m.group(0)), value)
        value = _IBAN.sub(lambda m: last4(m.group(0)), value)
    return value


_RULES = {"email": mask_email, "name": reduce_name, "number": last4, "text": mask_text}
