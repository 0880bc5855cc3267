"""pgw_svc's own settings (``PAYSTREAM_*`` like the rest)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from common.settings import Settings
from pgw_svc.domain import DEFAULT_SUCCESS_RATE_BP


class PgwSettings(Settings):
    """The provider's secrets.

    ``pgw_fingerprint_key``: the HMAC key of card and IBAN fingerprints
    (``pgw_svc.domain.fingerprint``); changing it makes every stored fingerprint, and the
    recognition of the test cards and accounts by fingerprint, differ from new ones.
    ``pgw_latency_ms``: how long each provider call (charge, capture, void, refund,
    payout) waits before it answers, as a real provider's network and processing would.
    ``pgw_success_rate_bp``: the share of other cards' charges that succeed, in basis points.
    ``pgw_max_amount``: the largest charge or payout, in minor units of any currency.
    """

    service_name: str = "pgw_svc"
    pgw_fingerprint_key: SecretStr = SecretStr("paystream-dev-pgw-fingerprint-key")
    pgw_latency_ms: int = Field(default=0, ge=0, le=60_000)
    pgw_success_rate_bp: int = Field(default=DEFAULT_SUCCESS_RATE_BP, ge=0, le=10_000)
    pgw_max_amount: int = Field(default=100_000_000, gt=0)

    @property
    def fingerprint_key(self) -> bytes:
        return self.pgw_fingerprint_key.get_secret_value().encode()
