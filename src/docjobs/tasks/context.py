"""What a worker process builds once (after the fork) and reuses for every job."""

from __future__ import annotations

import gc
import logging
import sqlite3
import tempfile
from dataclasses import dataclass
from functools import cached_property

import httpx
import redis
from celery.signals import worker_process_init

from docjobs.jobs.connection import connect
from docjobs.jobs.store import JobStore
from docjobs.settings import Settings, get_settings
from docjobs.tasks.embed import Embedder, build_embedder
from docjobs.tasks.store import ChunkStore

logger = logging.getLogger(__name__)


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

    def warm(self) -> None:
        """Build what every job uses before the first job comes: otherwise that job waits a
        quarter of a second for the engines' imports and the HTTP client. Nothing here may
        block: Celery gives a new process 4 s to start (Redis and the chunk store, which can
        wait on a lock, are left to the first job). What fails here fails in the job too, which
        says why; the worker's main process has checked the settings and data directory
        (`check_worker_can_start`), so that is a passing failure, not every job's."""
        import docjobs.tasks.extract_pdfium  # noqa: F401 - pypdfium2 and its library
        import docjobs.tasks.extract_pypdf  # noqa: F401

        try:
            _ = self.store, self.http, self.embedder
        except Exception as exc:  # noqa: BLE001 - a job started now would meet it and say so
            logger.warning("worker process not warmed up: %s: %s", type(exc).__name__, exc)


class WorkerCannotStart(RuntimeError):
    """What would make every job fail, found before the worker takes any."""


def check_worker_can_start(settings: Settings) -> None:
    """Raise WorkerCannotStart if no job could be stored or embedded here.

    Run by the worker's main process before its pool starts: a pool process only warns (see
    `warm`), since raising there makes Celery start it again and again, and every job would
    then fail as a transient error after all its retries."""
    data_dir = settings.data_dir
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir):
            pass
        ChunkStore(settings.store_path)  # the store itself: a file or directory in its way
    except (OSError, sqlite3.Error) as exc:
        raise WorkerCannotStart(
            f"DOCJOBS_DATA_DIR ({data_dir}) is not a directory the worker can write to "
            f"({settings.store_path.name} goes there): {type(exc).__name__}: {exc}"
        ) from exc
    try:
        with httpx.Client() as client:
            build_embedder(settings, client=client)
    except Exception as exc:  # noqa: BLE001 - whatever it is, no job could be embedded
        raise WorkerCannotStart(
            f"the embedder (DOCJOBS_EMBEDDER={settings.embedder}) cannot be built: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


_context: WorkerContext | None = None


def worker_context() -> WorkerContext:
    global _context
    if _context is None:
        _context = WorkerContext(get_settings())
    return _context


@worker_process_init.connect
def _warm_up(**_: object) -> None:
    worker_context().warm()
    # What the pool process holds now (modules, the engines, the clients) lives as long as it
    # does: out of the collector's full passes, which a job's chunker sets off again and again.
    # Each walked it for ~30 ms; a split part of 92 pages is read, chunked and embedded in 9 %
    # less time (BENCHMARKS.md).
    gc.freeze()
