"""Exchange rates as decimals, never floats: every currency's rate is kept against one
pivot currency (units of the currency per one ``PIVOT``), and the rate between any two
currencies is derived from theirs. Pure.

Every rate paystream computes (a cross rate, a rate the feed moves) is rounded to
``SIGNIFICANT`` significant digits, half to even; a rate an admin sets is kept as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

PIVOT = "USD"
SIGNIFICANT = 12
ROUNDED = Context(prec=SIGNIFICANT, rounding=ROUND_HALF_EVEN)


def wire(rate: Decimal) -> str:
    """A rate as a JSON string: plain notation, no trailing zeros ("0.9213", "151.2")."""
    return format(rate.normalize(), "f")


@dataclass(frozen=True, slots=True)
class RateTable:
    """The latest rate of every currency that has one, against ``PIVOT`` (which is 1).

    ``version`` grows with every change (the history's last id), ``as_of`` is when the
    last change was made; ``None`` for a table nothing was recorded in yet."""

    version: int
    as_of: datetime | None
    pivot_rates: Mapping[str, Decimal]

    def pivot_rate(self, currency: str) -> Decimal | None:
        """Units of ``currency`` per one ``PIVOT``, or None when it has no rate."""
        return Decimal(1) if currency == PIVOT else self.pivot_rates.get(currency)

    def rate(self, base: str, quote: str) -> Decimal | None:
        """Units of ``quote`` per one ``base`` (None when either has no rate)."""
        return cross(self.pivot_rate(base), self.pivot_rate(quote))

    def against(self, base: str) -> dict[str, Decimal]:
        """Every other currency's rate per one ``base`` (empty when ``base`` has none)."""
        currencies = {PIVOT, *self.pivot_rates} - {base}
        pairs = ((c, self.rate(base, c)) for c in sorted(currencies))
        return {c: r for c, r in pairs if r is not None}


def cross(base_rate: Decimal | None, quote_rate: Decimal | None) -> Decimal | None:
    """The rate of ``quote`` per ``base`` from their pivot rates (rounded, see above)."""
    if base_rate is None or quote_rate is None:
        return None
    return ROUNDED.divide(quote_rate, base_rate)
