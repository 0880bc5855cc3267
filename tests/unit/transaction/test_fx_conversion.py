"""Conversion at a rate (transaction_svc.fx.conversion) and cross rates (fx.rates), over
currencies with 0, 2 and 3 minor units: rounding never creates money (the payee never
gets more than the payer's amount is worth at the rate) and loses less than one minor
unit of the target currency; rates stay decimals, rounded to 12 significant digits."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from common.money import EXPONENTS
from transaction_svc.fx.conversion import convert, exact_value
from transaction_svc.fx.rates import PIVOT, SIGNIFICANT, RateTable, cross, wire
from transaction_svc.fx.schemas import RateString
from transaction_svc.fx.table import FEED_RATES

UNIT_CURRENCIES = ["JPY", "KRW", "USD", "EUR", "KWD", "BHD"]  # 0, 2 and 3 minor units
AMOUNTS = st.integers(min_value=1, max_value=10**15)
# any rate the API takes: 1 to 12 significant digits, from 1e-12 to 999_999_999_999
RATES = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(min_value=1, max_value=10**SIGNIFICANT - 1),
    st.integers(min_value=-24, max_value=0),
).filter(lambda r: Decimal("1e-12") <= r < Decimal("1e12"))


@given(
    amount=AMOUNTS,
    rate=RATES,
    source=st.sampled_from(UNIT_CURRENCIES),
    target=st.sampled_from(UNIT_CURRENCIES),
)
def test_a_conversion_is_rounded_down_by_less_than_one_minor_unit(
    amount: int, rate: Decimal, source: str, target: str
) -> None:
    from_units, to_units = EXPONENTS[source], EXPONENTS[target]
    # when an amount is converted
    converted = convert(amount, rate, from_units, to_units)
    # then it is a whole number of target minor units, never above the exact value and
    # less than one minor unit below it
    exact = Fraction(amount) * Fraction(rate) * Fraction(10) ** (to_units - from_units)
    assert isinstance(converted, int)
    assert exact_value(amount, rate, from_units, to_units) == exact
    assert converted <= exact < converted + 1
    # and what the payee gets is never worth more than what the payer gave, at the rate
    back = Fraction(converted) / Fraction(rate) * Fraction(10) ** (from_units - to_units)
    assert back <= amount


@given(amount=AMOUNTS, source=st.sampled_from(UNIT_CURRENCIES), target=st.sampled_from(
    UNIT_CURRENCIES))  # fmt: skip
def test_converting_with_the_table_s_cross_rates_creates_no_money(
    amount: int, source: str, target: str
) -> None:
    # given the configured table's rate of target per source
    table = RateTable(1, datetime.now(UTC), FEED_RATES)
    rate = table.rate(source, target)
    assert rate is not None
    # then the conversion at it never pays out more than the amount is worth
    converted = convert(amount, rate, EXPONENTS[source], EXPONENTS[target])
    assert 0 <= converted <= exact_value(amount, rate, EXPONENTS[source], EXPONENTS[target])


def test_known_conversions_between_0_2_and_3_minor_units() -> None:
    # 100.00 USD at 151.2 JPY per USD is 15_120 yen
    assert convert(10_000, Decimal("151.2"), 2, 0) == 15_120
    # 1 yen at 0.00661 USD per JPY is 0.661 cents: rounds down to nothing
    assert convert(1, Decimal("0.00661"), 0, 2) == 0
    # 10.00 USD at 0.307 KWD per USD is 3.070 dinars
    assert convert(1_000, Decimal("0.307"), 2, 3) == 3_070
    # 1.999 KWD at 3.2573 USD per KWD is 6.5113... dollars: 651 cents
    assert convert(1_999, Decimal("3.2573"), 3, 2) == 651


@given(base=st.sampled_from(sorted(FEED_RATES)), quote=st.sampled_from(sorted(FEED_RATES)))
def test_cross_rates_are_decimals_rounded_to_12_significant_digits(base: str, quote: str) -> None:
    rate = cross(FEED_RATES[base], FEED_RATES[quote])
    assert isinstance(rate, Decimal) and rate > 0
    assert len(rate.normalize().as_tuple().digits) <= SIGNIFICANT
    exact = Fraction(FEED_RATES[quote]) / Fraction(FEED_RATES[base])
    assert abs(Fraction(rate) - exact) <= exact * Fraction(1, 10 ** (SIGNIFICANT - 1))


def test_a_table_names_every_rate_against_its_base_and_the_pivot_is_one() -> None:
    table = RateTable(3, datetime.now(UTC), {"EUR": Decimal("0.92"), "JPY": Decimal("151.2")})
    assert table.against(PIVOT) == {"EUR": Decimal("0.92"), "JPY": Decimal("151.2")}
    against_eur = table.against("EUR")
    assert set(against_eur) == {"USD", "JPY"}
    assert wire(against_eur["USD"]) == "1.08695652174"
    assert wire(against_eur["JPY"]) == "164.347826087"
    assert table.rate("EUR", "KWD") is None and table.against("KWD") == {}


def test_rates_are_written_in_plain_decimal_notation() -> None:
    assert wire(Decimal("100")) == "100"
    assert wire(Decimal("1E+2")) == "100"
    assert wire(Decimal("0.92000")) == "0.92"
    assert wire(Decimal("1.2E-7")) == "0.00000012"


@pytest.mark.parametrize(
    "value",
    [0.92, 1, "0", "0.000", "-1", "1e3", "NaN", "Infinity", " 1", "1.", ".5",
     "1234567890123", "1.2345678901234", "123456.1234567"],
)  # fmt: skip
def test_a_rate_is_only_a_positive_decimal_string(value: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(RateString).validate_python(value)


def test_a_rate_string_keeps_its_exact_value() -> None:
    assert TypeAdapter(RateString).validate_python("0.9213") == Decimal("0.9213")
    assert TypeAdapter(RateString).validate_json('"151.200"') == Decimal("151.2")
