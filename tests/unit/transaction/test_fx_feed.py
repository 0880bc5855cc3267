"""The simulated feed's step (transaction_svc.fx.feed): a rate moves by at most its
step at a time and never leaves its bounds around the anchor, however long it runs."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from transaction_svc.fx.feed import bounds, drift
from transaction_svc.fx.table import FEED_RATES

ANCHORS = st.sampled_from(sorted(FEED_RATES.values())) | st.decimals(
    min_value=Decimal("0.000001"), max_value=Decimal("1000000"), places=6
)
FRACTIONS = st.decimals(min_value=Decimal(0), max_value=Decimal("0.5"), places=4)


@settings(max_examples=50)
@given(anchor=ANCHORS, bound=FRACTIONS, step=FRACTIONS, seed=st.integers())
def test_a_drifting_rate_stays_within_its_bounds_and_moves_at_most_a_step(
    anchor: Decimal, bound: Decimal, step: Decimal, seed: int
) -> None:
    # given a rate that starts at its anchor
    rng = random.Random(seed)
    low, high = bounds(anchor, bound)
    rate = anchor
    for _ in range(200):
        # when the feed moves it
        moved = drift(rate, anchor, bound, step, rng)
        # then it stays a positive decimal inside the bounds, one step at most from before
        assert isinstance(moved, Decimal) and moved > 0
        assert low <= moved <= high
        assert abs(moved - rate) <= rate * step + rate * Decimal("1e-11")
        rate = moved


@given(seed=st.integers())
def test_a_rate_outside_its_bounds_is_brought_back_inside(seed: int) -> None:
    # given a rate far above its anchor (an admin set a new anchor below it)
    rate = drift(
        Decimal("2.0"), Decimal("1.0"), Decimal("0.05"), Decimal("0.01"), random.Random(seed)
    )
    # then the next move puts it back within 5 % of the anchor
    assert Decimal("0.95") <= rate <= Decimal("1.05")


def test_a_feed_without_bound_or_step_keeps_the_rate() -> None:
    rng = random.Random(7)
    assert drift(Decimal("151.2"), Decimal("151.2"), Decimal(0), Decimal("0.01"), rng) == Decimal(
        "151.2"
    )
    assert drift(Decimal("0.92"), Decimal("0.92"), Decimal("0.05"), Decimal(0), rng) == Decimal(
        "0.92"
    )


def test_the_feed_moves_rates_both_ways() -> None:
    rng = random.Random(1)
    rate, seen = Decimal("1.00"), set()
    for _ in range(50):
        moved = drift(rate, Decimal("1.00"), Decimal("0.05"), Decimal("0.01"), rng)
        seen.add((moved > rate) - (moved < rate))
        rate = moved
    assert {-1, 1} <= seen
