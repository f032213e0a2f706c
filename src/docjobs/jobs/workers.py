"""Which Celery workers are alive: one sorted set of heartbeats scored by Redis's own clock, so
`/jobs stats` counts workers with one read instead of a scan of the keyspace, and a clock
skewed on some worker's machine cannot hide it or keep it alive."""

from __future__ import annotations

from typing import Any

import redis

WORKERS_KEY = "docjobs:workers"
BEAT_INTERVAL_S = 5.0
# A worker that has not beaten for this long is gone (three beats missed).
ALIVE_FOR_S = 15.0

_BEAT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return 1
"""


class Heartbeats:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._beat = client.register_script(_BEAT)

    def beat(self, worker: str) -> None:
        """`worker` is alive now; workers silent for longer than ALIVE_FOR_S are dropped."""
        self._beat(keys=[WORKERS_KEY], args=[worker, str(ALIVE_FOR_S)])

    def leave(self, worker: str) -> None:
        self.client.zrem(WORKERS_KEY, worker)


def read_live_workers(pipe: Any) -> None:
    """Queue the two reads `count_live_workers` needs on `pipe` (the beats and Redis's clock)."""
    pipe.zrange(WORKERS_KEY, 0, -1, withscores=True)
    pipe.time()


def count_live_workers(beats: list[tuple[str, float]], redis_time: tuple[int, int]) -> int:
    now = redis_time[0] + redis_time[1] / 1_000_000
    return sum(1 for _, at in beats if at >= now - ALIVE_FOR_S)
