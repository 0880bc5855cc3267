"""The fee of a money movement, in integers: one rule per transaction type and currency.

``fee = fixed + ceil(amount * basis_points / 10_000)``, then raised to ``minimum`` and
lowered to ``maximum`` (when there is one). The percentage part is rounded UP to the next
minor unit: the only rounding, so a fee is never a fraction and never below its rate.
Pure: the schedule is read from Postgres by ``transaction_svc.terms``.
"""

from __future__ import annotations

from dataclasses import dataclass

BPS_SCALE = 10_000  # basis points in a whole


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeRule:
    """What a transaction type costs in one currency (minor units, basis points)."""

    basis_points: int = 0
    fixed: int = 0
    minimum: int = 0
    maximum: int | None = None  # None: no cap

    def fee(self, amount: int) -> int:
        """The fee of moving ``amount`` (minor units, > 0)."""
        percentage = -(-amount * self.basis_points // BPS_SCALE)  # ceil, in integers
        fee = max(self.fixed + percentage, self.minimum)
        return fee if self.maximum is None else min(fee, self.maximum)


NO_FEE = FeeRule()
