"""Worker heartbeats against a real Redis: live workers are counted, silent and departed ones
are not, by Redis's clock."""

from __future__ import annotations

import redis

from docjobs.jobs.workers import (
    ALIVE_FOR_S,
    WORKERS_KEY,
    Heartbeats,
    count_live_workers,
    read_live_workers,
)


def live_workers(client: redis.Redis) -> int:
    pipe = client.pipeline()
    read_live_workers(pipe)
    beats, now = pipe.execute()
    return count_live_workers(beats, now)


def test_beating_workers_are_counted_once_each_and_a_departed_one_is_not(
    redis_client: redis.Redis,
) -> None:
    heartbeats = Heartbeats(redis_client)
    assert live_workers(redis_client) == 0
    for _ in range(3):
        heartbeats.beat("docjobs-1@a")
    heartbeats.beat("docjobs-2@b")
    assert live_workers(redis_client) == 2
    heartbeats.leave("docjobs-1@a")
    assert live_workers(redis_client) == 1


def test_a_worker_that_stopped_beating_drops_out(redis_client: redis.Redis) -> None:
    seconds, _ = redis_client.time()
    redis_client.zadd(WORKERS_KEY, {"killed@c": seconds - ALIVE_FOR_S - 1})
    assert live_workers(redis_client) == 0
    Heartbeats(redis_client).beat("docjobs-3@d")  # a live worker's beat clears it away
    assert redis_client.zrange(WORKERS_KEY, 0, -1) == ["docjobs-3@d"]
    assert live_workers(redis_client) == 1
