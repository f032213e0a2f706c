"""One way to open Redis, with retries, so a Redis restart is a pause rather than a crash."""

from __future__ import annotations

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=5,
        socket_timeout=30,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=20),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )
