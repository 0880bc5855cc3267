from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from common.settings import Settings
from infra.testing.stack import StackUnderTest


@pytest.fixture(scope="session")
async def api(apps: StackUnderTest, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{settings.gateway_url}/api/v1", timeout=60,
        limits=httpx.Limits(max_connections=100),
    ) as client:  # fmt: skip
        yield client
