"""Integration modules share one stack but not their processes or settings."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db import make_engine
from common.settings import Settings
from infra.testing.stack import StackUnderTest


@pytest.fixture(autouse=True, scope="module")
def module_isolation(stack: StackUnderTest) -> Iterator[None]:
    """Each module starts the paystream processes it needs, configured as it needs them;
    afterwards they are stopped and the environment is restored, so the next module
    starts from a clean slate (it may want a stand-in on the same port)."""
    env = dict(os.environ)
    before = set(stack.started_apps())
    yield
    stack.stop_apps([name for name in stack.started_apps() if name not in before])
    os.environ.clear()
    os.environ.update(env)


@pytest.fixture
async def engine(stack: StackUnderTest, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine on the stack's Postgres, for tests that read or write its rows directly."""
    engine = make_engine(settings.postgres_dsn)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def users(started: StackUnderTest, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of user_svc, for modules whose own ``started`` fixture starts it."""
    async with httpx.AsyncClient(base_url=settings.user_svc_url, timeout=10) as client:
        yield client


@pytest.fixture
async def transactions(
    started: StackUnderTest, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of transaction_svc, for modules whose own ``started`` fixture starts it."""
    async with httpx.AsyncClient(base_url=settings.transaction_svc_url, timeout=10) as client:
        yield client
