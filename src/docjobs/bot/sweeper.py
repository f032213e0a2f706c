"""Finds jobs whose broker message is gone and sends them again, so no share is dropped.

Three ways a message goes missing: the enqueue itself failed (broker down at share time); the
whole worker died mid-job (Redis would hold its unacked message for a full visibility
timeout); a retry countdown was lost with its worker. Resending is safe: a duplicate message
finds the job leased, finished or on a newer attempt, and does nothing.
"""

from __future__ import annotations

import logging
import time

from docjobs.bot.queue import JobQueue
from docjobs.jobs.model import State
from docjobs.jobs.store import JobStore

logger = logging.getLogger(__name__)


def sweep(
    store: JobStore, queue: JobQueue, *, requeue_after_s: float, orphan_after_s: float
) -> list[str]:
    now = time.time()
    resent: list[str] = []
    for job in store.get_many(store.active_ids()):
        if job.state is State.QUEUED:
            lost = not job.enqueued_at and now - job.updated_at > requeue_after_s
        elif job.state is State.RUNNING:
            lost = now - job.updated_at > orphan_after_s and not store.is_leased(job.id)
        elif job.state is State.RETRYING:
            due = job.next_run_at or job.updated_at
            lost = now - due > orphan_after_s and not store.is_leased(job.id)
        else:
            lost = False
        if lost:
            logger.warning("job %s (%s) has no live message; sending it again", job.id, job.state)
            queue.enqueue(job.id, job.attempt)
            store.set_fields(job.id, updated_at=now)
            resent.append(job.id)
    return resent
