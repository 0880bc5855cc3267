"""notification_worker's typed application state and the dependencies its handlers use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from common.auth import Principal, require_roles
from common.state import ServiceState, state_dependency
from notification_worker.settings import NotificationSettings
from notification_worker.store import Db


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationApp(ServiceState):
    """What the handlers use, made by ``main.create_app``'s lifespan."""

    settings: NotificationSettings
    db: Db


App = Annotated[NotificationApp, Depends(state_dependency(NotificationApp))]
# People read their own notifications; service clients have none.
Person = Annotated[Principal, require_roles("user", "merchant", "admin", "auditor")]
