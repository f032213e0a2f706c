"""What a worker process builds once (after the fork) and reuses for every job."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import httpx
import redis

from docjobs.jobs.connection import connect
from docjobs.jobs.store import JobStore
from docjobs.settings import Settings, get_settings
from docjobs.tasks.embed import Embedder, build_embedder
from docjobs.tasks.store import ChunkStore


@dataclass
class WorkerContext:
    settings: Settings

    @cached_property
    def redis(self) -> redis.Redis:
        assert self.settings.redis_url
        return connect(self.settings.redis_url)

    @cached_property
    def store(self) -> JobStore:
        return JobStore(self.redis)

    @cached_property
    def http(self) -> httpx.Client:
        return httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0), follow_redirects=True)

    @cached_property
    def embedder(self) -> Embedder:
        return build_embedder(self.settings)

    @cached_property
    def chunks(self) -> ChunkStore:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return ChunkStore(self.settings.store_path)


_context: WorkerContext | None = None


def worker_context() -> WorkerContext:
    global _context
    if _context is None:
        _context = WorkerContext(get_settings())
    return _context
