"""FastAPI dependencies: the use-case objects the composition root put on ``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from user_svc.accounts import Accounts
from user_svc.clients import ServiceClients
from user_svc.identity import Identity, Trace
from user_svc.keystore import PgKeyStore
from user_svc.settings import UserSettings


def _identity(request: Request) -> Identity:
    identity: Identity = request.app.state.identity
    return identity


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def _clients(request: Request) -> ServiceClients:
    clients: ServiceClients = request.app.state.clients
    return clients


def _keys(request: Request) -> PgKeyStore:
    keys: PgKeyStore = request.app.state.keys
    return keys


def _settings(request: Request) -> UserSettings:
    settings: UserSettings = request.app.state.settings
    return settings


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
