"""pgw_svc's own settings (``PAYSTREAM_*`` like the rest)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from common.money import EXPONENTS
from common.retry import RetryPolicy
from common.settings import Settings
from pgw_svc.domain import DEFAULT_SUCCESS_RATE_BP, RETRY_BASE_MS, RETRY_CAP_MS


class PgwSettings(Settings):
    """The provider's settings.

    ``pgw_fingerprint_key``: the HMAC key of card and IBAN fingerprints
    (``pgw_svc.domain.fingerprint``); changing it makes every stored fingerprint, and the
    recognition of the test cards and accounts by fingerprint, differ from new ones.
    ``pgw_latency_ms``: how long each provider call (charge, capture, void, refund,
    payout) waits before it answers, as a real provider's network and processing would.
    ``pgw_success_rate_bp``: the share of other cards' charges that succeed, in basis points.
    ``pgw_max_amount``: the largest charge or payout, in minor units of any currency.
    ``pgw_card_currencies``: the currencies a card pays in, comma-separated ISO codes.
    ``pgw_async_delay_ms``: how long after it was made a pending charge is decided.
    ``pgw_callback_url``: where the signed callback of a decided charge is POSTed; by
    default transaction_svc's ``/internal/provider/callbacks``.
    ``pgw_callback_max_attempts`` and ``pgw_callback_max_age_s``: a callback the receiver
    does not take is given up after this many attempts, or once it has been due this long
    (``callback_retry``: ``common.retry``).
    """

    service_name: str = "pgw_svc"
    pgw_fingerprint_key: SecretStr = SecretStr("paystream-dev-pgw-fingerprint-key")
    pgw_latency_ms: int = Field(default=0, ge=0, le=60_000)
    pgw_success_rate_bp: int = Field(default=DEFAULT_SUCCESS_RATE_BP, ge=0, le=10_000)
    pgw_max_amount: int = Field(default=100_000_000, gt=0)
    pgw_card_currencies: str = "USD,EUR,GBP,CHF,CAD,AUD,JPY,SEK,NOK,DKK,PLN"
    pgw_async_delay_ms: int = Field(default=1500, ge=0, le=3_600_000)
    pgw_callback_url: str | None = None
    pgw_callback_max_attempts: int = Field(default=100, ge=1, le=10_000)
    pgw_callback_max_age_s: int = Field(default=86_400, ge=1, le=30 * 86_400)

    @field_validator("pgw_card_currencies")
    @classmethod
    def _known_currencies(cls, value: str) -> str:
        unknown = [code for code in value.split(",") if code not in EXPONENTS]
        if unknown:
            raise ValueError(f"unknown currencies {unknown}")
        return value

    @property
    def card_currencies(self) -> tuple[str, ...]:
        return tuple(self.pgw_card_currencies.split(","))

    @property
    def callback_url(self) -> str:
        return self.pgw_callback_url or f"{self.transaction_svc_url}/internal/provider/callbacks"

    @property
    def callback_secret(self) -> bytes:
        return self.provider_callback_secret.get_secret_value().encode()

    @property
    def callback_retry(self) -> RetryPolicy:
        """When a callback is sent again and when it is given up."""
        return RetryPolicy(
            base_ms=RETRY_BASE_MS,
            cap_ms=RETRY_CAP_MS,
            max_attempts=self.pgw_callback_max_attempts,
            max_age_ms=self.pgw_callback_max_age_s * 1000,
        )

    @property
    def fingerprint_key(self) -> bytes:
        return self.pgw_fingerprint_key.get_secret_value().encode()
