"""pgw_svc's own settings (``PAYSTREAM_*`` like the rest)."""

from __future__ import annotations

from pydantic import SecretStr

from common.settings import Settings


class PgwSettings(Settings):
    """The provider's secrets.

    ``pgw_fingerprint_key``: the HMAC key of card and IBAN fingerprints
    (``pgw_svc.domain.fingerprint``); changing it makes every stored fingerprint, and the
    recognition of the test cards and accounts by fingerprint, differ from new ones.
    """

    service_name: str = "pgw_svc"
    pgw_fingerprint_key: SecretStr = SecretStr("paystream-dev-pgw-fingerprint-key")

    @property
    def fingerprint_key(self) -> bytes:
        return self.pgw_fingerprint_key.get_secret_value().encode()
