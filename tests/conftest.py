"""Fixtures shared by every test tier.

Unit tests need nothing. Integration, e2e and chaos tests ask for ``stack``: real Kafka,
Postgres, Mongo-compatible, Redis and Prometheus (see common/testing/stack.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from common.settings import Settings
from common.testing.stack import StackUnderTest


@pytest.fixture(scope="session")
def stack() -> Iterator[StackUnderTest]:
    s = StackUnderTest().open()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def settings(stack: StackUnderTest) -> Settings:
    return Settings(service_name="tests")


@pytest.fixture(scope="session")
def apps(stack: StackUnderTest) -> StackUnderTest:
    """Every paystream service running as a real process."""
    stack.start_apps()
    return stack
