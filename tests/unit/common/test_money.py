from decimal import Decimal

import pytest

from common.money import Money, MoneyError


@pytest.mark.parametrize(
    ("major", "currency", "minor"),
    [
        ("25.50", "USD", 2550),
        ("0.01", "EUR", 1),
        ("100", "JPY", 100),
        ("1.234", "KWD", 1234),
        (Decimal("7"), "USD", 700),
        (3, "GBP", 300),
    ],
)
def test_major_units_become_exact_minor_units(major: object, currency: str, minor: int) -> None:
    assert Money.of(major, currency) == Money(minor, currency)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("major", "currency"), [("0.001", "USD"), ("1.5", "JPY"), ("1.2345", "BHD")]
)
def test_excess_precision_is_refused(major: str, currency: str) -> None:
    with pytest.raises(MoneyError, match="decimal places"):
        Money.of(major, currency)


def test_floats_and_bools_never_become_money() -> None:
    with pytest.raises(MoneyError):
        Money.of(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(10.0, "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(True, "USD")


def test_unknown_currency_and_garbage_are_refused() -> None:
    with pytest.raises(MoneyError, match="unsupported currency"):
        Money(1, "XXX")
    with pytest.raises(MoneyError, match="not a number"):
        Money.of("ten", "USD")


def test_arithmetic_keeps_currency_and_refuses_mixing() -> None:
    assert Money(250, "USD") + Money(50, "USD") - Money(100, "USD") == Money(200, "USD")
    assert -Money(5, "EUR") == Money(-5, "EUR")
    with pytest.raises(MoneyError, match="mismatch"):
        Money(1, "USD") + Money(1, "EUR")


def test_display_and_wire_forms() -> None:
    assert Money(2550, "USD").to_major_str() == "25.50"
    assert Money(5, "JPY").to_major_str() == "5"
    assert Money(-1, "KWD").to_major_str() == "-0.001"
    assert Money(2550, "USD").to_dict() == {"amount": 2550, "currency": "USD"}
