"""Staying inside Slack's rate limits before Slack has to say so, and backing off when it does.

chat.postMessage: about 1 message per second per channel, "short bursts >1 allowed". chat.update
and reactions.*: Tier 3 (50+ per minute per workspace). A 429's Retry-After holds that method back
for as long as asked.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

# Posts a channel may take back to back before the 1 per second pace binds. Two let a quick
# job's outcome reply follow its progress message at once instead of a second later; Slack
# allows short bursts but promises nothing for longer ones, so no more than that.
POST_CHANNEL_BURST = 2


@dataclass
class TokenBucket:
    rate_per_s: float
    burst: float
    tokens: float = -1.0  # full at first use
    stamp: float = 0.0

    def wait_time(self, now: float) -> float:
        """Seconds until a token is free; takes it (returns 0) when one is."""
        self.tokens, self.stamp = self._tokens_at(now), now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate_per_s

    def ready_in(self, now: float) -> float:
        """Seconds until a token is free, taking none."""
        return max(0.0, (1 - self._tokens_at(now)) / self.rate_per_s)

    def _tokens_at(self, now: float) -> float:
        if self.tokens < 0:
            return self.burst
        return min(self.burst, self.tokens + (now - self.stamp) * self.rate_per_s)


class SlackPacer:
    def __init__(self, *, per_minute: Mapping[str, float], post_per_channel_s: float = 1.0) -> None:
        self._per_minute = per_minute
        self._post_interval = post_per_channel_s
        self._buckets: dict[str, TokenBucket] = {}
        self._blocked_until: dict[str, float] = {}

    def wait_time(self, method: str, channel: str = "", now: float | None = None) -> float:
        """0 and a slot taken if `method` may be called now; otherwise seconds to wait."""
        now = time.monotonic() if now is None else now
        blocked = self._blocked_until.get(method, 0.0) - now
        if blocked > 0:
            return blocked
        return self._bucket(method, channel).wait_time(now)

    def ready_in(self, method: str, channel: str = "", now: float | None = None) -> float:
        """Seconds until `method` may be called, taking no slot: to skip work done only for a
        call that would have to wait anyway."""
        now = time.monotonic() if now is None else now
        blocked = self._blocked_until.get(method, 0.0) - now
        return max(blocked, self._bucket(method, channel).ready_in(now))

    def _bucket(self, method: str, channel: str) -> TokenBucket:
        key = f"{method}:{channel}" if method == "chat.postMessage" else method
        bucket = self._buckets.get(key)
        if bucket is None:
            if method == "chat.postMessage":
                bucket = TokenBucket(rate_per_s=1 / self._post_interval, burst=POST_CHANNEL_BURST)
            else:
                per_minute = self._per_minute.get(method, 50)
                # Slack lets Tier 3 methods burst; half the minute's budget keeps a margin.
                bucket = TokenBucket(rate_per_s=per_minute / 60, burst=max(1, per_minute / 2))
            self._buckets[key] = bucket
        return bucket

    def rate_limited(self, method: str, retry_after_s: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._blocked_until[method] = max(self._blocked_until.get(method, 0.0), now + retry_after_s)
