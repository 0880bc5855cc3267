"""Merchants' webhooks retry on the shared rule (common.retry) with their own settings:
10 s doubling to 1 h, half drawn off at random, 24 h horizon, no attempt limit."""

from __future__ import annotations

from common.retry import RetryPolicy
from transaction_svc.settings import TransactionSettings


def test_the_webhook_retry_policy_comes_from_the_settings() -> None:
    settings = TransactionSettings(
        webhook_retry_base_s=0.5, webhook_retry_max_s=4, webhook_retry_horizon_s=60
    )
    assert settings.webhook_retry == RetryPolicy(
        base_ms=500, cap_ms=4000, max_age_ms=60_000, max_attempts=None, jitter=0.5
    )
    assert TransactionSettings().webhook_retry == RetryPolicy(
        base_ms=10_000, cap_ms=3_600_000, max_age_ms=86_400_000, jitter=0.5
    )
