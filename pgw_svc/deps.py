"""pgw_svc's typed application state and the dependency that hands it to handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends

from common.auth import Principal, require_roles
from common.state import ServiceState, state_dependency
from pgw_svc.charges_store import PgCharges
from pgw_svc.domain import Scenarios, method_currencies
from pgw_svc.payouts_store import PgPayouts
from pgw_svc.settlement import PendingSettlement
from pgw_svc.store import PgPaymentMethods


@dataclass(frozen=True, slots=True, kw_only=True)
class PgwApp(ServiceState):
    """What the provider's handlers use, opened by ``main.create_app``'s lifespan."""

    methods: PgPaymentMethods
    fingerprint_key: bytes = field(repr=False)  # of card and IBAN fingerprints
    charges: PgCharges
    payouts: PgPayouts
    scenarios: Scenarios = field(repr=False)
    latency_ms: int  # waited by each provider call
    max_amount: int  # the largest charge or payout, minor units
    card_currencies: tuple[str, ...]  # what every card pays in
    settlement: PendingSettlement  # decides pending charges, sends their callbacks

    def currencies(self, method: dict[str, Any]) -> tuple[str, ...]:
        """What a stored method (a row of ``PgPaymentMethods``) can pay in."""
        return method_currencies(method["type"], method["currency"], self.card_currencies)


App = Annotated[PgwApp, Depends(state_dependency(PgwApp))]
# The provider API's callers: the money services' client-credentials tokens.
Service = Annotated[Principal, require_roles("service")]
