"""/healthz while Redis is down or hung: a quick 503 that names nothing inside."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from docjobs.embedded_redis import EmbeddedRedis
from docjobs.settings import Settings
from docjobs.webhooks.app import create_app
from tests.support.servers import serve

# A prober (compose's healthcheck) gives up after 3 s; the answer must come well within that.
QUICK_S = 2.5


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own, to stop and pause (the suite's is shared)."""
    server = EmbeddedRedis(tmp_path / "redis").start()
    yield server
    if server.process is not None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


@pytest.fixture
def web(own_redis: EmbeddedRedis, tmp_path: Path) -> Iterator[str]:
    settings = Settings(_env_file=None, redis_url=own_redis.url, data_dir=tmp_path / "data")
    with serve(create_app(settings)) as url:
        assert httpx.get(f"{url}/healthz").json() == {"ok": True}
        yield url


def timed_health(url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    reply = httpx.get(f"{url}/healthz", timeout=60)
    return reply, time.monotonic() - started


def test_healthz_answers_at_once_when_redis_is_stopped(web: str, own_redis: EmbeddedRedis) -> None:
    port = own_redis.port
    own_redis.stop()
    for _ in range(3):  # each probe, not only the first
        reply, took = timed_health(web)
        assert reply.status_code == 503 and took < QUICK_S, (reply.text, took)
        assert reply.json() == {"ok": False, "redis": "not answering"}
        assert str(port) not in reply.text and "127.0.0.1" not in reply.text


def test_healthz_answers_within_about_a_second_when_redis_hangs(
    web: str, own_redis: EmbeddedRedis
) -> None:
    assert own_redis.process is not None
    os.kill(own_redis.process.pid, signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        reply, took = timed_health(web)
        assert reply.status_code == 503 and took < QUICK_S, (reply.text, took)
        assert reply.json() == {"ok": False, "redis": "not answering"}
        assert str(own_redis.port) not in reply.text
    finally:
        os.kill(own_redis.process.pid, signal.SIGCONT)
    assert httpx.get(f"{web}/healthz").json() == {"ok": True}
