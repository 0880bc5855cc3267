"""The simulated feed's configured rates (``fx_feed_rates``' default): units of each
currency per one US dollar, round figures near the market's; every currency of
``common.money.EXPONENTS`` but the pivot has one."""

from __future__ import annotations

from decimal import Decimal

FEED_RATES: dict[str, Decimal] = {
    code: Decimal(rate)
    for code, rate in {
        "EUR": "0.92", "GBP": "0.79", "CHF": "0.88", "CAD": "1.36", "AUD": "1.52",
        "NZD": "1.66", "SEK": "10.5", "NOK": "10.7", "DKK": "6.86", "PLN": "3.98",
        "CZK": "23.1", "HUF": "360", "INR": "83.3", "CNY": "7.2", "BRL": "5.0",
        "MXN": "17.1", "ZAR": "18.6", "SGD": "1.34", "HKD": "7.82", "TRY": "32.0",
        "NGN": "1500", "KES": "130", "JPY": "151.2", "KRW": "1350", "ISK": "138",
        "CLP": "940", "VND": "25000", "UGX": "3800", "BHD": "0.376", "KWD": "0.307",
        "OMR": "0.385", "JOD": "0.709", "TND": "3.11",
    }.items()
}  # fmt: skip
