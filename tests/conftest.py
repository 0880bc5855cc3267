"""Fixtures shared by every test tier.

Unit tests need nothing. Integration, e2e and chaos tests ask for ``stack``: real Kafka,
Postgres, Mongo-compatible, Redis and Prometheus (see infra/testing/stack.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings

from common.settings import Settings
from infra.testing.api import ADMIN_EMAIL, ADMIN_PASSWORD
from infra.testing.stack import StackUnderTest

# Properties are checked, never timed (speed is measured in bench/): without Hypothesis's
# 200 ms deadline per example, an example slowed by a busy machine is not a failure.
hypothesis_settings.register_profile("paystream", deadline=None)
hypothesis_settings.load_profile("paystream")


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
    """Every paystream service and worker running as a real process.

    The first admin comes from configuration, as in production. The gateway's rate
    limits are raised: e2e tests send hundreds of requests from one address on purpose
    (the limit itself is tested in tests/integration/test_gateway.py). Login throttling
    keeps its threshold but a short window, so a test can wait for a lock to end.
    """
    os.environ.update(
        PAYSTREAM_ADMIN_EMAIL=ADMIN_EMAIL,
        PAYSTREAM_ADMIN_PASSWORD=ADMIN_PASSWORD,
        PAYSTREAM_RATE_LIMIT_IP_PER_MINUTE="1000000",
        PAYSTREAM_RATE_LIMIT_USER_PER_MINUTE="1000000",
        PAYSTREAM_LOGIN_FAILURE_WINDOW_S="10",
    )
    stack.start_apps()
    return stack
