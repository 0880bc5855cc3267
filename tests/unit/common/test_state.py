"""The typed application state (common.state): handlers get the one object installed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, cast

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from common.auth import JwksVerifier
from common.state import ServiceState, install, installed, state_dependency


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterApp(ServiceState):
    greeting: str


class OtherApp(ServiceState):
    pass


Counter = Annotated[CounterApp, Depends(state_dependency(CounterApp))]
VERIFIER = cast(JwksVerifier, object())  # never called here


def test_a_handler_gets_the_state_the_lifespan_installed() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install(app, CounterApp(verifier=VERIFIER, greeting="hello"))
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/greeting")
    async def greeting(state: Counter) -> dict[str, str]:
        return {"greeting": state.greeting}

    with TestClient(app) as client:
        assert client.get("/greeting").json() == {"greeting": "hello"}


def test_state_of_another_kind_or_none_is_an_error_not_a_silent_none() -> None:
    app = FastAPI()
    with pytest.raises(RuntimeError, match="no CounterApp installed"):
        installed(app.state, CounterApp)
    install(app, OtherApp(verifier=VERIFIER))
    with pytest.raises(RuntimeError, match="no CounterApp installed"):
        installed(app.state, CounterApp)
