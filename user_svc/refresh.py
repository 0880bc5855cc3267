"""Refresh tokens in Redis: opaque, stored by SHA-256, grouped in rotation families.

``rt:<hash>`` is a hash ``{family, user, used}`` living as long as the token may be used;
``rtf:<family>`` is ``active`` or ``revoked``. Rotation marks the presented token used
and stores its successor in the same family, atomically (one Lua script). Presenting a
token that was already used means it leaked: the whole family is revoked, so the thief's
and the owner's newest tokens both stop working. A family is a session: its id is the
``sid`` of the access tokens minted with it, and revoking it also ends those
(common/revocation.py). ``uf:<user>`` is the set of a user's families, so that a
password reset or change can end every session (`revoke_user`).
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from common.revocation import revoke_session
from contracts.ids import uuid7
from user_svc.tokens import opaque_token, token_hash

_ROTATE = """
local rec = redis.call('HMGET', KEYS[1], 'family', 'user', 'used')
if not rec[1] then return {'unknown', '', ''} end
local fam = ARGV[1] .. rec[1]
if rec[3] == '1' then
  if redis.call('EXISTS', fam) == 1 then redis.call('SET', fam, 'revoked', 'KEEPTTL') end
  return {'reused', rec[1], rec[2]}
end
if redis.call('GET', fam) ~= 'active' then return {'revoked', rec[1], rec[2]} end
redis.call('HSET', KEYS[1], 'used', '1')
redis.call('HSET', KEYS[2], 'family', rec[1], 'user', rec[2], 'used', '0')
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('EXPIRE', fam, ARGV[2])
return {'ok', rec[1], rec[2]}
"""


class Outcome(enum.Enum):
    OK = "ok"
    UNKNOWN = "unknown"  # never issued, or expired
    REUSED = "reused"  # already rotated once: the family is now revoked
    REVOKED = "revoked"  # the family was revoked (logout or an earlier reuse)


@dataclass(frozen=True, slots=True)
class Rotation:
    outcome: Outcome
    family: str
    user_id: str
    new_token: str | None = None


class RedisRefreshTokens:
    """Issue, rotate and revoke refresh tokens. ``access_ttl_s`` is how long an access
    token minted for a family may live: that long its revocation must be remembered."""

    def __init__(
        self, redis: Redis, ttl_s: int, access_ttl_s: int, prefix: str = "user_svc:"
    ) -> None:
        self._redis = redis
        self._ttl = ttl_s
        self._access_ttl = access_ttl_s
        self._tok = f"{prefix}rt:"
        self._fam = f"{prefix}rtf:"
        self._user = f"{prefix}uf:"
        self._rotate = redis.register_script(_ROTATE)

    async def issue(self, user_id: str) -> tuple[str, str]:
        """A token starting a new family (at login), and the family's id."""
        token, family = opaque_token(), uuid7().hex
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._fam + family, "active", ex=self._ttl)
            pipe.hset(self._tok + token_hash(token),
                      mapping={"family": family, "user": user_id, "used": "0"})  # fmt: skip
            pipe.expire(self._tok + token_hash(token), self._ttl)
            pipe.sadd(self._user + user_id, family)
            pipe.expire(self._user + user_id, self._ttl)  # outlives every family in it
            await pipe.execute()
        return token, family

    async def rotate(self, token: str) -> Rotation:
        """Use ``token`` once: its successor in the same family, or why not."""
        new = opaque_token()
        outcome, family, user = await self._rotate(
            keys=[self._tok + token_hash(token), self._tok + token_hash(new)],
            args=[self._fam, self._ttl],
        )
        result = Outcome(outcome)
        return Rotation(result, family, user, new if result is Outcome.OK else None)

    async def owner(self, token: str) -> tuple[str, str] | None:
        """(family, user id) of a known token."""
        family, user = await self._redis.hmget(self._tok + token_hash(token), ["family", "user"])
        return (str(family), str(user)) if family else None

    async def revoke_family(self, family: str) -> None:
        """End the session: its refresh tokens and the access tokens minted with them."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._fam + family, "revoked", xx=True, keepttl=True)
            # a minute more: a token being minted while this runs expires a little later
            revoke_session(pipe, family, self._access_ttl + 60, time.time())
            await pipe.execute()

    async def revoke_user(self, user_id: str) -> int:
        """End every live session of ``user_id``; how many were ended."""
        families = [str(f) for f in await self._redis.smembers(self._user + user_id)]
        ended = 0
        for family in families:
            if await self._redis.get(self._fam + family) == "active":
                await self.revoke_family(family)
                ended += 1
        if families:
            await self._redis.srem(self._user + user_id, *families)
        return ended
