"""The simulated rate feed's step, pure: a bounded random walk around an anchor.

Each tick moves a rate by at most ``step`` (a fraction of it, up or down, at random) and
keeps it within ``bound`` (a fraction) of its anchor: the configured rate, or the last one
an admin set. Rates stay decimals; the randomness is a whole number drawn from ``rng``.
"""

from __future__ import annotations

import random
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal

from transaction_svc.fx.rates import ROUNDED, SIGNIFICANT

GRAIN = 10_000  # a step is split into this many equal moves up or down
_UP = Context(prec=SIGNIFICANT, rounding=ROUND_CEILING)
_DOWN = Context(prec=SIGNIFICANT, rounding=ROUND_FLOOR)


def bounds(anchor: Decimal, bound: Decimal) -> tuple[Decimal, Decimal]:
    """The lowest and highest rate the feed may reach around ``anchor``, rounded inward."""
    return _UP.multiply(anchor, 1 - bound), _DOWN.multiply(anchor, 1 + bound)


def drift(
    current: Decimal, anchor: Decimal, bound: Decimal, step: Decimal, rng: random.Random
) -> Decimal:
    """The next rate after ``current``: moved by up to ``step`` of it, kept inside
    ``bounds(anchor, bound)`` (0 <= bound < 1, 0 <= step)."""
    move = Decimal(rng.randint(-GRAIN, GRAIN)) / GRAIN * step
    low, high = bounds(anchor, bound)
    return min(max(ROUNDED.multiply(current, 1 + move), low), high)
