"""Rendering notifications from Jinja2 templates, one folder per kind.

``templates/<kind>/`` holds ``subject.txt.j2`` (the title, also kept in the history),
``email.txt.j2`` and ``email.html.j2`` (the two bodies of one mail), and ``sms.txt.j2``
and ``push.txt.j2`` for the kinds sent on those channels: the files present are the
channels a kind has. HTML is autoescaped; an unknown variable is an error, not a blank.
Amounts are integer minor units, shown with their currency's exponent (no floats).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from common.money import EXPONENTS


def money(amount: int, currency: str) -> str:
    """``1234, "EUR"`` -> ``"12.34 EUR"`` (integer arithmetic only)."""
    exponent = EXPONENTS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 10**exponent)
    return f"{sign}{whole:,}{'.' + str(minor).zfill(exponent) if exponent else ''} {currency}"


def duration(seconds: int) -> str:
    """A link's lifetime in words: ``1800`` -> ``"30 minutes"``."""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


@cache
def environment() -> Environment:
    """One environment per process; templates are compiled once and never re-checked
    (``auto_reload=False``: the files change only with a release, and the check was a
    ``stat`` per template per render)."""
    env = Environment(
        loader=PackageLoader("notification_worker", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        auto_reload=False,
    )
    env.filters["money"] = money
    env.filters["duration"] = duration
    return env


@dataclass(frozen=True, slots=True)
class Rendered:
    """What goes out: a title, the plain text, and (email only) the HTML."""

    subject: str
    text: str
    html: str | None = None


@cache
def channels_of(kind: str) -> frozenset[str]:
    """The channels ``kind`` has templates for (listing them walks the folder: once)."""
    names = set(environment().list_templates())
    return frozenset(c for c in ("email", "sms", "push") if f"{kind}/{c}.txt.j2" in names)


def subject(kind: str, context: dict[str, Any]) -> str:
    """The title of the notification ``kind`` (the mail's subject, the history's title)."""
    return environment().get_template(f"{kind}/subject.txt.j2").render(context).strip()


def render(kind: str, channel: str, context: dict[str, Any]) -> Rendered:
    """The notification ``kind`` for ``channel``, filled from ``context``."""
    env = environment()
    text = env.get_template(f"{kind}/{channel}.txt.j2").render(context).strip() + "\n"
    html = env.get_template(f"{kind}/email.html.j2").render(context) if channel == "email" else None
    return Rendered(subject(kind, context), text, html)
