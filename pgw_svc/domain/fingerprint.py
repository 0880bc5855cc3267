"""Keyed fingerprints of card numbers and IBANs.

A plain hash of a card number can be reversed by trying every number of a brand's
shape, so the fingerprint is an HMAC-SHA256 under a provider secret: equal for the same
number (to spot duplicates and to recognise the test cards), useless without the key.
"""

from __future__ import annotations

import hashlib
import hmac


def fingerprint(key: bytes, value: str) -> str:
    """Hex HMAC-SHA256 of a normalised card number or IBAN under `key`."""
    return hmac.new(key, value.encode("ascii"), hashlib.sha256).hexdigest()
