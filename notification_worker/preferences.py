"""Who wants what: notification categories, channels, and a user's switches (pure).

A user's stored preferences hold only what they changed; everything else is the default.
Security messages (email verification, password reset and change) and alerts (money of
theirs that only an operator can settle: a withdrawal paid out but not debited, a
transfer whose reversal failed) always go out by email: their switches cannot be turned
off (the API's model refuses it).
"""

from __future__ import annotations

from collections.abc import Mapping

CHANNELS = ("email", "sms", "push")
SECURITY = "security"
ALERTS = "alerts"
ALWAYS_ON = frozenset({SECURITY, ALERTS})  # categories a user cannot turn off
# category -> the channels it is sent on
CATEGORIES: dict[str, tuple[str, ...]] = {
    SECURITY: ("email",),
    ALERTS: ("email",),
    "transfers": CHANNELS,
    "deposits": CHANNELS,
    "withdrawals": CHANNELS,
    "merchant": CHANNELS,
}
DEFAULT_ON = {"email": True, "sms": False, "push": True}

Switches = dict[str, dict[str, bool]]


def effective(stored: Mapping[str, Mapping[str, bool]] | None) -> Switches:
    """Every category's switches: the stored ones over the defaults (security and alerts
    always on)."""
    stored = stored or {}
    result: Switches = {}
    for category, channels in CATEGORIES.items():
        mine = stored.get(category, {})
        result[category] = {c: bool(mine.get(c, DEFAULT_ON[c])) for c in channels}
    for category in ALWAYS_ON:
        result[category] = dict.fromkeys(CATEGORIES[category], True)
    return result


def merged(stored: Mapping[str, Mapping[str, bool]] | None, change: Switches) -> Switches:
    """The stored switches with ``change`` applied (only known categories and channels)."""
    result: Switches = {k: dict(v) for k, v in (stored or {}).items()}
    for category, switches in change.items():
        if category in ALWAYS_ON or category not in CATEGORIES:
            continue
        for channel, on in switches.items():
            if channel in CATEGORIES[category]:
                result.setdefault(category, {})[channel] = on
    return result


def channels_for(category: str, stored: Mapping[str, Mapping[str, bool]] | None) -> tuple[str, ...]:
    """The channels a message of ``category`` goes out on for this user."""
    switches = effective(stored)[category]
    return tuple(c for c in CATEGORIES[category] if switches[c])
