from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from common.settings import Settings
from infra.testing.api import ADMIN_EMAIL, ADMIN_PASSWORD, User, login
from infra.testing.stack import StackUnderTest

LAST = "last"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{LAST}: runs after every other test of the session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``last`` (checks over what the whole tier produced) go to the end."""
    items.sort(key=lambda item: item.get_closest_marker(LAST) is not None)


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
