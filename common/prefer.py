"""``Prefer: wait=N`` (RFC 7240): how long a write may wait for its outcome.

One reading for the gateway and every service. A preference the server does not
understand is ignored, as RFC 7240 asks, so a malformed ``wait`` means "not given";
a given wait is clamped to ``0..MAX_WAIT_S`` seconds.
"""

from __future__ import annotations

MAX_WAIT_S = 30


def prefer_wait(prefer: str | None, default: float = 0.0) -> float:
    """Seconds the client is willing to wait, or ``default`` when it named no valid wait."""
    for part in (prefer or "").split(","):
        for token in part.split(";"):
            name, _, value = token.strip().partition("=")
            if name.strip().lower() != "wait":
                continue
            value = value.strip().strip('"')
            if not (value.isascii() and value.isdigit()):
                return default
            seconds = int(value) if len(value) <= 6 else MAX_WAIT_S  # no giant ints
            return float(min(seconds, MAX_WAIT_S))
    return default
