"""pgw_svc's settings: the card currencies are known codes, the callback goes to
transaction_svc unless another address is set."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pgw_svc.settings import PgwSettings


def test_by_default_cards_pay_in_eleven_currencies_and_callbacks_go_to_transaction_svc() -> None:
    s = PgwSettings(transaction_svc_url="http://127.0.0.1:28003")
    assert s.card_currencies == (
        "USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY", "SEK", "NOK", "DKK", "PLN"
    )  # fmt: skip
    assert s.callback_url == "http://127.0.0.1:28003/internal/provider/callbacks"
    assert s.pgw_async_delay_ms == 1500


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSTREAM_PGW_CARD_CURRENCIES", "EUR,JPY")
    monkeypatch.setenv("PAYSTREAM_PGW_CALLBACK_URL", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("PAYSTREAM_PROVIDER_CALLBACK_SECRET", "k")
    s = PgwSettings()
    assert (s.card_currencies, s.callback_url, s.callback_secret) == (
        ("EUR", "JPY"), "http://127.0.0.1:9/hook", b"k"
    )  # fmt: skip


def test_an_unknown_card_currency_is_refused_at_start() -> None:
    with pytest.raises(ValidationError):
        PgwSettings(pgw_card_currencies="USD,XXX")
