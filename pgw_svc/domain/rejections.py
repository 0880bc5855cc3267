"""Why the provider refuses a payment method: stable codes the API answers with a 422."""

from __future__ import annotations

from enum import StrEnum


class Rejection(StrEnum):
    """Stable `code` of a refused card or bank account (the problem+json `code`)."""

    INVALID_NUMBER = "invalid_number"
    UNSUPPORTED_BRAND = "unsupported_brand"
    INVALID_EXPIRY = "invalid_expiry"
    EXPIRED_CARD = "expired_card"
    INVALID_CVC = "invalid_cvc"
    INVALID_IBAN = "invalid_iban"
    UNSUPPORTED_COUNTRY = "unsupported_country"
    CURRENCY_REQUIRED = "currency_required"  # an account whose country names no currency


class PaymentMethodRejected(ValueError):
    """A card or bank account the provider will not tokenise; `reason` says why.

    The message holds only the reason, never the number, CVC or IBAN, so it is safe to log.
    """

    def __init__(self, reason: Rejection) -> None:
        super().__init__(reason.value)
        self.reason = reason
