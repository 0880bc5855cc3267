"""Per-account limits of user_svc, shared by every user_svc process through Redis.

Both count per account in a fixed window (common/ratewindow.py), keyed by the SHA-256 of
the email (never the email), and count unknown emails like known ones, so what they do
tells nobody which accounts exist:

- login throttling: every login attempt on an account is counted before its password is
  checked; a successful login deletes the count. So once an account has had
  ``max_failures`` failed attempts since its last success, within one window, each
  further attempt is answered 429 with ``Retry-After`` (the rest of the window) whatever
  its source address, without checking the password, until the window ends. Counting
  before checking makes concurrent guesses count too.
- password reset requests: at most so many reset mails per account and window; a request
  over it is still answered 202 (the answer never depends on the account) and mails
  nothing, so nobody can flood a mailbox with reset links.
"""

from __future__ import annotations

from redis.asyncio import Redis

from common.errors import Problem
from common.ratewindow import COUNT_SCRIPT, Quota
from user_svc.tokens import token_hash


class RedisAccountCounter:
    """Counts what happens to each account in fixed windows of ``window_s``, under
    ``limit``."""

    def __init__(self, redis: Redis, limit: int, window_s: int, prefix: str) -> None:
        self._redis = redis
        self._count = redis.register_script(COUNT_SCRIPT)
        self._limit = limit
        self._window_ms = window_s * 1000
        self._prefix = prefix

    def _key(self, email: str) -> str:
        return self._prefix + token_hash(email)

    async def count(self, email: str) -> Quota:
        """Count one more for ``email``'s account; its quota in the current window."""
        count, reset_ms = await self._count(keys=[self._key(email)], args=[self._window_ms])
        return Quota(self._limit, int(count), int(reset_ms))

    async def forget(self, email: str) -> None:
        """Start the account's count again."""
        await self._redis.delete(self._key(email))


class RedisLoginThrottle:
    def __init__(
        self, redis: Redis, max_failures: int, window_s: int, prefix: str = "user_svc:login:"
    ) -> None:
        self._attempts = RedisAccountCounter(redis, max_failures, window_s, prefix)

    async def attempt(self, email: str) -> None:
        """Count an attempt on ``email``'s account; 429 when it is locked."""
        quota = await self._attempts.count(email)
        if quota.exceeded:
            raise Problem(
                429,
                "too_many_login_attempts",
                "too many failed logins on this account; try again later",
                headers={"Retry-After": str(quota.reset_s)},
            )

    async def succeeded(self, email: str) -> None:
        """Forget the account's failures."""
        await self._attempts.forget(email)


def reset_requests(redis: Redis, limit: int, window_s: int) -> RedisAccountCounter:
    """The counter of password reset requests per account."""
    return RedisAccountCounter(redis, limit, window_s, "user_svc:reset:")
