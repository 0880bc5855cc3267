"""What the simulated provider answers to a charge or a payout, as api.md fixes it.

The test cards and test bank accounts are recognised by their keyed fingerprint (the
provider never keeps a number). Any other card succeeds with probability `success_rate`,
drawn from the caller's idempotency key rather than a random source, so a retried charge
with the same key gets the same answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from pgw_svc.domain.fingerprint import fingerprint

BASIS_POINTS = 10_000
DEFAULT_SUCCESS_RATE_BP = 9_000  # 0.9


class Status(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"


class FailureReason(StrEnum):
    """The provider's `failure_reason` codes."""

    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    ACCOUNT_CLOSED = "account_closed"
    DEADLINE_PASSED = "deadline_passed"  # the create came after the caller's deadline


@dataclass(frozen=True, slots=True)
class Outcome:
    """A provider answer: `failure_reason` is set exactly when `status` is failed."""

    status: Status
    failure_reason: FailureReason | None = None


SUCCEEDED = Outcome(Status.SUCCEEDED)
PENDING = Outcome(Status.PENDING)
# what a create that arrives after its deadline is answered and stored with: the caller
# has stopped waiting for it, so it must not move money now
PAST_DEADLINE = Outcome(Status.FAILED, FailureReason.DEADLINE_PASSED)

TEST_CARDS: dict[str, Outcome] = {
    "4242424242424242": SUCCEEDED,
    "5555555555554444": SUCCEEDED,
    "4000000000000002": Outcome(Status.FAILED, FailureReason.CARD_DECLINED),
    "4000000000009995": Outcome(Status.FAILED, FailureReason.INSUFFICIENT_FUNDS),
    "4000000000003220": PENDING,
}
TEST_BANK_ACCOUNTS: dict[str, Outcome] = {
    "GB33BUKB20201555555555": SUCCEEDED,
    "DE89370400440532013000": SUCCEEDED,
    "GB94BARC10201530093459": Outcome(Status.FAILED, FailureReason.ACCOUNT_CLOSED),
}


def settled(outcome: Outcome) -> Outcome:
    """The final answer the provider later confirms for a pending charge (it succeeds)."""
    return SUCCEEDED if outcome.status is Status.PENDING else outcome


def success_draw(idempotency_key: str) -> int:
    """A number in [0, 10 000) fixed by the key: the first 8 bytes of its SHA-256."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % BASIS_POINTS


class Scenarios:
    """The provider's outcome table under one fingerprint key.

    `success_rate_bp` is the share of other cards that succeed, in basis points
    (9 000 = 0.9), so no float takes part in the decision.
    """

    def __init__(
        self, fingerprint_key: bytes, success_rate_bp: int = DEFAULT_SUCCESS_RATE_BP
    ) -> None:
        if not 0 <= success_rate_bp <= BASIS_POINTS:
            raise ValueError(f"success_rate_bp must be within 0..{BASIS_POINTS}")
        self.success_rate_bp = success_rate_bp
        self._cards = {fingerprint(fingerprint_key, n): o for n, o in TEST_CARDS.items()}
        self._accounts = {
            fingerprint(fingerprint_key, iban): o for iban, o in TEST_BANK_ACCOUNTS.items()
        }

    def charge(self, card_fingerprint: str, idempotency_key: str) -> Outcome:
        """The immediate answer to a charge of the card with this fingerprint."""
        known = self._cards.get(card_fingerprint)
        if known is not None:
            return known
        if success_draw(idempotency_key) < self.success_rate_bp:
            return SUCCEEDED
        return Outcome(Status.FAILED, FailureReason.CARD_DECLINED)

    def payout(self, account_fingerprint: str) -> Outcome:
        """The answer to a payout: the failing test account fails, every other one pays."""
        return self._accounts.get(account_fingerprint, SUCCEEDED)
