from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from common.settings import Settings
from infra.testing.api import ADMIN_EMAIL, ADMIN_PASSWORD, User, login
from infra.testing.stack import StackUnderTest


@pytest.fixture(scope="session")
async def api(apps: StackUnderTest, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The public API, through the gateway."""
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(
        base_url=f"{settings.gateway_url}/api/v1", timeout=60, limits=limits
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def admin(api: httpx.AsyncClient) -> User:
    return await login(api, ADMIN_EMAIL, ADMIN_PASSWORD)
