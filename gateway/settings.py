"""Settings of the gateway: the shared ones plus limits, breaker and CORS knobs.

Like every setting they come from ``PAYSTREAM_<FIELD>`` environment variables, e.g.
``PAYSTREAM_RATE_LIMIT_IP_PER_MINUTE=100`` or ``PAYSTREAM_CORS_ORIGINS='["https://app"]'``.
"""

from __future__ import annotations

from pydantic import Field

from common.settings import Settings


class GatewaySettings(Settings):
    """What the gateway adds to :class:`common.settings.Settings`."""

    service_name: str = "gateway"

    # Rate limits: requests per window per client IP and per authenticated subject.
    # The window is a minute unless ``rate_limit_window_s`` says otherwise (tests shorten it).
    rate_limit_ip_per_minute: int = Field(default=100, ge=1)
    rate_limit_user_per_minute: int = Field(default=600, ge=1)
    rate_limit_window_s: float = Field(default=60.0, gt=0)

    # Forwarding: one pooled client per upstream.
    upstream_timeout_s: float = Field(default=10.0, gt=0)
    upstream_connect_timeout_s: float = Field(default=2.0, gt=0)
    upstream_max_connections: int = Field(default=200, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=0)

    # Circuit breaker per upstream.
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_reset_timeout_s: float = Field(default=10.0, gt=0)

    cors_origins: list[str] = Field(default_factory=list)

    # Aggregated OpenAPI document: how long an upstream's document is reused.
    openapi_cache_ttl_s: float = Field(default=60.0, ge=0)
