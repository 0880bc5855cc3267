"""Converting an amount in minor units at a rate, in exact arithmetic. Pure.

The one rounding rule: the converted amount is rounded DOWN to a whole minor unit of
the target currency. ``amount * rate`` is computed exactly (a ``Fraction`` of the
decimal rate, shifted by the difference of the two currencies' minor units), so the
payee never gets more than the payer's money is worth at the rate, and less by under one
minor unit: the remainder stays with paystream. An amount whose conversion rounds to
zero converts nothing and is refused by the caller.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction


def exact_value(amount: int, rate: Decimal, from_units: int, to_units: int) -> Fraction:
    """``amount`` minor units (with ``from_units`` decimals) at ``rate``, in minor units
    of a currency with ``to_units`` decimals, before any rounding."""
    return Fraction(rate) * amount * Fraction(10) ** (to_units - from_units)


def convert(amount: int, rate: Decimal, from_units: int, to_units: int) -> int:
    """What ``amount`` is worth at ``rate``, rounded down to a whole target minor unit."""
    return math.floor(exact_value(amount, rate, from_units, to_units))
