"""notification_worker's own settings (``PAYSTREAM_*`` like the rest)."""

from __future__ import annotations

from pydantic import Field

from common.settings import Settings


class NotificationSettings(Settings):
    """Where mail goes from, where links point, and how deliveries are retried."""

    service_name: str = "notification_worker"

    mail_from: str = "paystream <no-reply@paystream.example.com>"
    # The web front end the mailed links open (it posts the token to the API).
    web_url: str = "http://127.0.0.1:18000"
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    # The simulated SMS and push providers refuse this share of messages (0..1).
    sms_failure_share: float = Field(default=0.0, ge=0, le=1)
    push_failure_share: float = Field(default=0.0, ge=0, le=1)
    # Each delivery is tried this many times, waiting backoff * 2^n (capped at 5 s)
    # between tries, before it counts as failed and its event goes to the DLQ.
    delivery_attempts: int = Field(default=4, ge=1)
    delivery_backoff_s: float = Field(default=0.2, ge=0)
    notifications_page_max: int = Field(default=100, ge=1)
