"""Slack's Web API rate limits: per method per workspace by tier, and chat.postMessage at about
one message per second per channel (short bursts allowed)."""

from __future__ import annotations

import math
import threading
import time

TIERS_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIERS = {
    "auth.test": 4,
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "reactions.add": 3,
    "reactions.remove": 3,
    "files.info": 4,
    "conversations.replies": 3,
    "conversations.history": 3,
    "users.info": 4,
}
POST_PER_CHANNEL_PER_S = 1.0
POST_BURST = 3
POST_WORKSPACE_PER_MINUTE = 600


class Bucket:
    def __init__(self, per_s: float, burst: float) -> None:
        self.per_s, self.burst, self.tokens, self.stamp = per_s, burst, burst, time.monotonic()

    def take(self, now: float) -> float:
        """0 if a call may go now (and counts it); else seconds until one may."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_s)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_s


class RateLimiter:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def check(self, method: str, channel: str = "") -> int:
        """0 if allowed; otherwise the Retry-After seconds Slack would send (at least 1)."""
        if not self.enabled:
            return 0
        now = time.monotonic()
        with self._lock:
            if method == "chat.postMessage":
                keys = [
                    (f"post:{channel}", POST_PER_CHANNEL_PER_S, POST_BURST),
                    ("post:*", POST_WORKSPACE_PER_MINUTE / 60, POST_WORKSPACE_PER_MINUTE / 6),
                ]
            else:
                per_minute = TIERS_PER_MINUTE[METHOD_TIERS.get(method, 3)]
                keys = [(method, per_minute / 60, per_minute)]
            waits = []
            for key, per_s, burst in keys:
                bucket = self._buckets.setdefault(key, Bucket(per_s, burst))
                waits.append(bucket.take(now))
            wait = max(waits)
            if wait > 0:
                # Give back what was taken from the other buckets: the call had no effect.
                for (key, _, _), taken in zip(keys, waits, strict=True):
                    if taken == 0:
                        self._buckets[key].tokens += 1
                return max(1, math.ceil(wait))
            return 0
