"""Each live worker beats into one sorted set (jobs.workers), so `/jobs stats` counts workers
from Redis without a broadcast that waits for answers (Slack gives a command only 3 s)."""

from __future__ import annotations

import contextlib
import threading

import redis
from celery.signals import worker_ready, worker_shutdown

from docjobs.jobs.connection import connect
from docjobs.jobs.workers import BEAT_INTERVAL_S, Heartbeats
from docjobs.settings import get_settings

_stop = threading.Event()


@worker_ready.connect
def _start(sender: object = None, **_: object) -> None:
    hostname = getattr(sender, "hostname", "worker")
    url = get_settings().redis_url
    if not url:
        return
    heartbeats = Heartbeats(connect(url))

    def beat() -> None:
        while True:
            with contextlib.suppress(redis.RedisError):
                heartbeats.beat(hostname)
            if _stop.wait(BEAT_INTERVAL_S):
                with contextlib.suppress(redis.RedisError):
                    heartbeats.leave(hostname)
                return

    threading.Thread(target=beat, name="docjobs-heartbeat", daemon=True).start()


@worker_shutdown.connect
def _stop_beating(**_: object) -> None:
    _stop.set()
