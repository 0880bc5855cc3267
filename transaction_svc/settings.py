"""Settings of transaction_svc."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from common.retry import RetryPolicy
from common.settings import Settings
from transaction_svc.fx.table import FEED_RATES

WEBHOOK_RETRY_JITTER = 0.5  # endpoints that failed together are not all retried at once


class TransactionSettings(Settings):
    """A saga not finished this many seconds after its request is driven to a terminal
    state: its debit and credit commands expire and the decider rejects them."""

    transfer_timeout_s: int = Field(default=30, ge=1, le=3600)
    # The saga worker's sweep of requests whose first messages never reached Kafka (see
    # SagaWorker.sweep_unstarted): how often, and how long a request must have been
    # pending before it is appended again.
    saga_sweep_interval_s: float = Field(default=5.0, gt=0)
    saga_sweep_grace_s: float = Field(default=30.0, ge=0)
    # How long a call to pgw_svc may take before its outcome counts as unknown (a create
    # is then asked about by its idempotency key before it is sent again).
    provider_timeout_s: float = Field(default=5.0, gt=0)
    # A charge or payout the provider has not decided this long after the provider worker
    # was asked for it is decided failed (deadline_passed) by the provider when it is
    # reached again (docs/payments.md); refunds have no deadline.
    provider_deadline_s: float = Field(default=900.0, gt=0)
    # Whether an account whose email is not verified may move money out (transfers and
    # withdrawals); read from the access token's ``ev`` claim. On by default, so that
    # scripted clients keep working.
    unverified_may_move_money: bool = True
    # Webhooks to merchants (transaction_svc/webhooks, docs/merchants.md). Targets must be
    # https and public; the local stack and the tests allow http and loopback.
    webhook_allow_http: bool = False
    webhook_allow_loopback: bool = False
    # A failed delivery is tried again after min(max, base * 2^(n-1)) seconds, less up to
    # half of it at random (longer when the receiver's Retry-After asks), while that falls
    # within the horizon after it was recorded; a 4xx but 408 and 429 gives it up at once
    # (``webhook_retry``: ``common.retry``).
    webhook_retry_base_s: float = Field(default=10.0, gt=0)
    webhook_retry_max_s: float = Field(default=3600.0, gt=0)
    webhook_retry_horizon_s: float = Field(default=86400.0, ge=0)
    # An endpoint whose attempts failed this many times in a row is disabled.
    webhook_disable_after_failures: int = Field(default=100, ge=1)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    # After a rotation, deliveries are signed with the old secret too for this long.
    webhook_secret_overlap_s: float = Field(default=86400.0, ge=0)
    webhook_endpoints_per_merchant: int = Field(default=16, ge=1)
    # FX (docs/fx.md): how long a quote's rate is locked; how long Redis keeps the rates.
    fx_quote_ttl_s: int = Field(default=30, ge=1, le=3600)
    fx_rates_cache_ttl_s: int = Field(default=300, ge=1)
    # The simulated rate feed (the local stack and the tests): whether it runs, its table
    # (units per USD), how often it moves (0: the table is recorded once and stays), and
    # how far: at most `step` of a rate per move, within `bound` of its anchor.
    fx_feed_enabled: bool = True
    fx_feed_rates: dict[str, Decimal] = Field(default_factory=lambda: dict(FEED_RATES))
    fx_feed_interval_s: float = Field(default=60.0, ge=0)
    fx_feed_bound: Decimal = Field(default=Decimal("0.05"), ge=0, lt=1)
    fx_feed_step: Decimal = Field(default=Decimal("0.002"), ge=0, lt=1)
    # Schedules (docs/schedules.md): the shortest interval accepted; how long the scheduler
    # worker waits between passes when nothing is due.
    schedule_min_interval_s: float = Field(default=60.0, ge=0)
    scheduler_poll_s: float = Field(default=1.0, gt=0)
    # A schedule whose last this many runs failed is paused (docs/schedules.md).
    schedule_pause_after_failures: int = Field(default=3, ge=1)

    @property
    def webhook_retry(self) -> RetryPolicy:
        """When a failed webhook delivery is sent again and when it is given up."""
        return RetryPolicy(
            base_ms=round(self.webhook_retry_base_s * 1000),
            cap_ms=round(self.webhook_retry_max_s * 1000),
            max_age_ms=round(self.webhook_retry_horizon_s * 1000),
            jitter=WEBHOOK_RETRY_JITTER,
        )
