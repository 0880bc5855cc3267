"""user_svc's own settings (``PAYSTREAM_*`` like the rest, plus identity knobs)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from common.settings import Settings


class UserSettings(Settings):
    """Token lifetimes, key handling, the first admin and the password policy."""

    service_name: str = "user_svc"

    access_token_ttl_s: int = Field(default=60 * 60, ge=30)
    refresh_token_ttl_s: int = Field(default=7 * 24 * 60 * 60, ge=60)
    service_token_ttl_s: int = Field(default=15 * 60, ge=30)
    email_token_ttl_s: int = Field(default=24 * 60 * 60, ge=60)
    password_reset_ttl_s: int = Field(default=30 * 60, ge=60)
    # At most this many reset mails per account and window (user_svc/throttle.py); a
    # request over it is still answered 202 and mails nothing.
    password_reset_max_requests: int = Field(default=3, ge=1)
    password_reset_window_s: int = Field(default=60 * 60, ge=1)
    # The service clients that send mail: they may fetch one-time email links (POST
    # /internal/email-links) and a user's contact (GET /internal/users/{id}/contact).
    email_link_clients: frozenset[str] = frozenset({"notification_worker"})

    # Private keys are stored PEM-encrypted with this passphrase when it is set.
    signing_key_passphrase: SecretStr | None = None
    # How long an instance trusts its cached copy of the key table before re-reading it.
    key_cache_s: int = Field(default=30, ge=1)

    # The first admin, created at startup when both are set and the email is unknown.
    admin_email: str | None = None
    admin_password: SecretStr | None = None
    # Service clients created (or given this secret) at startup: "client_id=secret,..."
    # (user_svc/seeded_clients.py).
    seed_service_clients: SecretStr | None = None

    password_min_length: int = Field(default=12, ge=8)
    # Login throttling per account (user_svc/throttle.py): after this many failed logins
    # since the last success, within one window, the account answers 429 until it ends.
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_s: int = Field(default=15 * 60, ge=1)
    outbox_poll_s: float = Field(default=1.0, gt=0)
    admin_page_max: int = Field(default=200, ge=1)

    @property
    def key_publish_window_s(self) -> int:
        """How long a retired key stays published: every token it signed has expired by then
        (the longest token lifetime, plus the time another instance may still sign with it
        from its cache)."""
        return max(self.access_token_ttl_s, self.service_token_ttl_s) + self.key_cache_s
