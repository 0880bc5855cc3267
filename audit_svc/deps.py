"""audit_svc's typed application state and the dependency that hands it to handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import Depends

from audit_svc.store import MongoAuditLog
from common.state import ServiceState, state_dependency


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditApp(ServiceState):
    """What the audit API's handlers use, made by ``main.create_app``'s lifespan."""

    log: MongoAuditLog  # the audit log, read only here
    producer: AIOKafkaProducer  # each query, recorded on audit-events


App = Annotated[AuditApp, Depends(state_dependency(AuditApp))]
