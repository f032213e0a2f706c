"""A key per live worker with a short TTL, so `/jobs stats` can count workers from Redis
without a broadcast that waits for answers (Slack gives a command only 3 s)."""

from __future__ import annotations

import contextlib
import threading

import redis
from celery.signals import worker_ready, worker_shutdown

from docjobs.jobs.connection import connect
from docjobs.settings import get_settings

PREFIX = "docjobs:worker:"
INTERVAL_S = 5.0
TTL_S = 15

_stop = threading.Event()


@worker_ready.connect
def _start(sender: object = None, **_: object) -> None:
    hostname = getattr(sender, "hostname", "worker")
    url = get_settings().redis_url
    if not url:
        return
    client = connect(url)

    def beat() -> None:
        while True:
            with contextlib.suppress(redis.RedisError):
                client.set(PREFIX + hostname, "1", ex=TTL_S)
            if _stop.wait(INTERVAL_S):
                with contextlib.suppress(redis.RedisError):
                    client.delete(PREFIX + hostname)
                return

    threading.Thread(target=beat, name="docjobs-heartbeat", daemon=True).start()


@worker_shutdown.connect
def _stop_beating(**_: object) -> None:
    _stop.set()
