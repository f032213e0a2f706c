"""Numbers for `/jobs stats`, read from Redis (job store, broker queue, worker heartbeats)."""

from __future__ import annotations

import statistics
import time

from docjobs.bot.command_views import Stats
from docjobs.jobs.model import State
from docjobs.jobs.store import JobStore

CELERY_QUEUE = "celery"
WORKER_HEARTBEAT_PREFIX = "docjobs:worker:"


def collect_stats(store: JobStore) -> Stats:
    hour_ago = time.time() - 3600
    active = store.get_many(store.active_ids())
    succeeded = store.get_many(store.finished_since(State.SUCCEEDED, hour_ago))
    per_page = [job.seconds / job.pages for job in succeeded if job.pages and job.seconds]
    workers = sum(1 for _ in store.client.scan_iter(f"{WORKER_HEARTBEAT_PREFIX}*", count=1000))
    return Stats(
        queue_depth=int(store.client.llen(CELERY_QUEUE)),
        running=sum(1 for job in active if job.state is State.RUNNING),
        queued=sum(1 for job in active if job.state in (State.QUEUED, State.RETRYING)),
        workers=workers,
        succeeded_last_hour=len(succeeded),
        failed_last_hour=len(store.finished_since(State.FAILED, hour_ago)),
        dead_letters=len(store.dead_letter_ids()),
        median_s_per_page=statistics.median(per_page) if per_page else None,
    )
