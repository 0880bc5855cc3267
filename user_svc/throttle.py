"""Login throttling per account, shared by every user_svc process through Redis.

Every login attempt on an account is counted in a fixed window (common/ratewindow.py)
before its password is checked; a successful login deletes the count. So once an account
has had ``max_failures`` failed attempts since its last success, within one window, each
further attempt is answered 429 with ``Retry-After`` (the rest of the window) whatever
its source address, without checking the password, until the window ends. Counting
before checking makes concurrent guesses count too. Unknown emails are counted like
known ones, so the answers do not tell which accounts exist. Keys hold the SHA-256 of
the email, not the email.
"""

from __future__ import annotations

from redis.asyncio import Redis

from common.errors import Problem
from common.ratewindow import COUNT_SCRIPT, Quota
from user_svc.tokens import token_hash


class RedisLoginThrottle:
    def __init__(
        self, redis: Redis, max_failures: int, window_s: int, prefix: str = "user_svc:login:"
    ) -> None:
        self._redis = redis
        self._count = redis.register_script(COUNT_SCRIPT)
        self._max_failures = max_failures
        self._window_ms = window_s * 1000
        self._prefix = prefix

    def _key(self, email: str) -> str:
        return self._prefix + token_hash(email)

    async def attempt(self, email: str) -> None:
        """Count an attempt on ``email``'s account; 429 when it is locked."""
        count, reset_ms = await self._count(keys=[self._key(email)], args=[self._window_ms])
        quota = Quota(self._max_failures, int(count), int(reset_ms))
        if quota.exceeded:
            raise Problem(
                429,
                "too_many_login_attempts",
                "too many failed logins on this account; try again later",
                headers={"Retry-After": str(quota.reset_s)},
            )

    async def succeeded(self, email: str) -> None:
        """Forget the account's failures."""
        await self._redis.delete(self._key(email))
