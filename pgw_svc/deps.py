"""pgw_svc's typed application state and the dependency that hands it to handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends

from common.state import ServiceState, state_dependency
from pgw_svc.charges_store import PgCharges
from pgw_svc.domain import Scenarios
from pgw_svc.payouts_store import PgPayouts
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


App = Annotated[PgwApp, Depends(state_dependency(PgwApp))]
