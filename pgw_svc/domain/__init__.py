"""Pure core of the simulated payment provider (no I/O, no clock, no randomness):
card and IBAN checks and tokenisation, the currencies a method pays in, the outcome table,
and the callback's backoff (its retry rule is common.retry; callback signatures are
common.signatures: the money services verify them too)."""

from pgw_svc.domain.bank_accounts import (
    IBAN_LENGTHS,
    BankAccountToken,
    iban_check_digits,
    iban_valid,
    normalise_iban,
    tokenize_bank_account,
)
from pgw_svc.domain.callbacks import RETRY_BASE_MS, RETRY_CAP_MS, charge_status
from pgw_svc.domain.cards import (
    Brand,
    CardToken,
    detect_brand,
    luhn_check_digit,
    luhn_valid,
    tokenize_card,
)
from pgw_svc.domain.currencies import account_currency, country_currency, method_currencies
from pgw_svc.domain.outcomes import (
    DEFAULT_SUCCESS_RATE_BP,
    PAST_DEADLINE,
    FailureReason,
    Outcome,
    Scenarios,
    Status,
    settled,
)
from pgw_svc.domain.rejections import PaymentMethodRejected, Rejection

__all__ = [
    "DEFAULT_SUCCESS_RATE_BP",
    "IBAN_LENGTHS",
    "PAST_DEADLINE",
    "RETRY_BASE_MS",
    "RETRY_CAP_MS",
    "BankAccountToken",
    "Brand",
    "CardToken",
    "FailureReason",
    "Outcome",
    "PaymentMethodRejected",
    "Rejection",
    "Scenarios",
    "Status",
    "account_currency",
    "charge_status",
    "country_currency",
    "detect_brand",
    "iban_check_digits",
    "iban_valid",
    "luhn_check_digit",
    "luhn_valid",
    "method_currencies",
    "normalise_iban",
    "settled",
    "tokenize_bank_account",
    "tokenize_card",
]
