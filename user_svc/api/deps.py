"""user_svc's typed application state and the FastAPI dependencies taken from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from common.state import ServiceState, state_dependency
from user_svc.accounts import Accounts
from user_svc.clients import ServiceClients
from user_svc.identity import Identity, Trace
from user_svc.keystore import PgKeyStore
from user_svc.settings import UserSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class UserApp(ServiceState):
    """The use-case objects user_svc's handlers use, made by ``main.create_app``'s lifespan."""

    settings: UserSettings
    identity: Identity
    accounts: Accounts
    clients: ServiceClients
    keys: PgKeyStore


App = Annotated[UserApp, Depends(state_dependency(UserApp))]


def _identity(app: App) -> Identity:
    return app.identity


def _accounts(app: App) -> Accounts:
    return app.accounts


def _clients(app: App) -> ServiceClients:
    return app.clients


def _keys(app: App) -> PgKeyStore:
    return app.keys


def _settings(app: App) -> UserSettings:
    return app.settings


def _trace(request: Request) -> Trace:
    return Trace(
        correlation_id=getattr(request.state, "correlation_id", None),
        traceparent=getattr(request.state, "traceparent", None),
    )


IdentityDep = Annotated[Identity, Depends(_identity)]
AccountsDep = Annotated[Accounts, Depends(_accounts)]
ClientsDep = Annotated[ServiceClients, Depends(_clients)]
KeysDep = Annotated[PgKeyStore, Depends(_keys)]
SettingsDep = Annotated[UserSettings, Depends(_settings)]
TraceDep = Annotated[Trace, Depends(_trace)]
