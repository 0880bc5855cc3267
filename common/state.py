"""Typed application state: what a service's handlers use, in one typed object.

A composition root opens its clients in the lifespan, puts what its handlers need in
one dataclass that extends :class:`ServiceState` and ``install``s it on the app. Handlers
receive it through a typed dependency, never by attribute lookups on ``app.state``::

    Wallets = Annotated[WalletState, Depends(state_dependency(WalletState))]

    async def get_wallet(state: Wallets, ...) -> ...: ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from fastapi import FastAPI, Request
from starlette.datastructures import State

if TYPE_CHECKING:
    from common.auth import JwksVerifier

S = TypeVar("S", bound="ServiceState")

_KEY = "service_state"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceState:
    """What every service's handlers share: the verifier of bearer tokens."""

    verifier: JwksVerifier


def install(app: FastAPI, state: ServiceState) -> None:
    """Make ``state`` the app's one typed state (in the lifespan, once clients are open)."""
    setattr(app.state, _KEY, state)


def installed(holder: State, kind: type[S]) -> S:
    """The typed state installed on the app whose ``app.state`` is ``holder``."""
    state = getattr(holder, _KEY, None)
    if not isinstance(state, kind):
        raise RuntimeError(f"no {kind.__name__} installed: has the app's lifespan run?")
    return state


def state_dependency(kind: type[S]) -> Callable[[Request], S]:
    """A FastAPI dependency that returns the app's ``kind`` state."""

    def dependency(request: Request) -> S:
        return installed(request.app.state, kind)

    return dependency
