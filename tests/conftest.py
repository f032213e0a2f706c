"""Shared fixtures: a real Redis server the suite starts itself (no Redis needs to be running),
and the corpus location."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from docjobs.embedded_redis import EmbeddedRedis
from docjobs.jobs.connection import connect
from docjobs.jobs.store import JobStore

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", help="run the long soak (make soak)")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    path = Path(os.environ.get("DOCJOBS_CORPUS", REPO.parent / "shared" / "corpus"))
    if not (path / "MANIFEST.tsv").exists():
        pytest.fail(
            f"corpus not found at {path}: put ../shared beside the repo or set DOCJOBS_CORPUS"
        )
    return path


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = connect(redis_url)
    yield client
    client.close()


@pytest.fixture
def store(redis_client: redis.Redis) -> JobStore:
    return JobStore(redis_client)
