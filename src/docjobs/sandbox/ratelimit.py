"""Slack's Web API rate limits as token buckets: per method per workspace by tier (bursts up
to the per-minute number), and chat.postMessage at one message per second per channel with a
short burst, under a workspace-wide cap. Over the limit a call is refused, not queued."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
# From Slack's method pages (via java-slack-sdk's MethodsRateLimits); auth.test is "special",
# treated as Tier 4. Methods not listed get Tier 3.
METHOD_TIERS = {
    "auth.test": 4,
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "reactions.add": 3,
    "reactions.remove": 3,
    "files.info": 4,
    "files.upload": 2,
    "conversations.replies": 3,
    "conversations.history": 3,
    "users.info": 4,
}
POST_PER_CHANNEL_PER_S = 1.0
POST_CHANNEL_BURST = 3
POST_WORKSPACE_PER_MINUTE = 600  # Slack names no number; high enough that channels bind first


@dataclass(frozen=True)
class Limit:
    key: str
    per_s: float
    burst: float


class Bucket:
    def __init__(self, limit: Limit, now: float) -> None:
        self.limit, self.tokens, self.stamp = limit, limit.burst, now

    def wait(self, now: float) -> float:
        """Seconds until a call may go (0: now), after refilling for the time passed."""
        self.tokens = min(self.limit.burst, self.tokens + (now - self.stamp) * self.limit.per_s)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.limit.per_s


def limits_for(method: str, channel: str) -> list[Limit]:
    if method == "chat.postMessage":
        workspace = POST_WORKSPACE_PER_MINUTE
        return [
            Limit(f"chat.postMessage:{channel}", POST_PER_CHANNEL_PER_S, POST_CHANNEL_BURST),
            Limit("chat.postMessage:*", workspace / 60, workspace / 6),
        ]
    per_minute = TIER_PER_MINUTE[METHOD_TIERS.get(method, 3)]
    return [Limit(method, per_minute / 60, per_minute)]


class RateLimiter:
    def __init__(
        self, enabled: bool = True, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.enabled = enabled
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

    def check(self, method: str, channel: str = "") -> int:
        """0 if the call may go (and it is counted); else the Retry-After seconds (at least 1),
        and nothing is counted: a refused call has no effect."""
        if not self.enabled:
            return 0
        now = self.clock()
        with self._lock:
            buckets = [
                self._buckets.setdefault(limit.key, Bucket(limit, now))
                for limit in limits_for(method, channel)
            ]
            wait = max(bucket.wait(now) for bucket in buckets)
            if wait > 0:
                return max(1, math.ceil(wait))
            for bucket in buckets:
                bucket.tokens -= 1
            return 0
