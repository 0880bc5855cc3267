"""Fixed-window counters in Redis, shared by every process that counts the same thing.

One Lua script counts any number of keys atomically (``INCR`` and, on a new window,
``PEXPIRE``) and answers each key's count and the milliseconds left in its window. The
window starts with the first count and ends when the key expires; Redis's clock decides,
so the callers' clocks do not matter. Used by the gateway's rate limits and user_svc's
login throttling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# KEYS: one counter per identity; ARGV[1]: window in ms. Returns count, ttl_ms pairs.
COUNT_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
return out
"""


@dataclass(frozen=True, slots=True)
class Quota:
    """One identity's counter in the current window."""

    limit: int
    count: int
    reset_ms: int

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def reset_s(self) -> int:
        """Whole seconds until the window ends (at least 1, so clients never spin)."""
        return max(1, math.ceil(self.reset_ms / 1000))
