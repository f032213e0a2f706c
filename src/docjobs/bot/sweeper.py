"""Finds jobs whose broker message is gone and sends them again, so no share is dropped.

Four ways a message goes missing: the enqueue itself failed (broker down at share time); the
whole worker died mid-job (Redis would hold its unacked message for a full visibility
timeout); a retry countdown was lost with its worker; a worker took the message and died, or
the broker lost it, before any process started the job (it stays `queued`). Resending is
safe: a duplicate message finds the job leased, finished or on a newer attempt, and does
nothing.
"""

from __future__ import annotations

import logging
import time

from docjobs.bot.queue import JobQueue
from docjobs.jobs.model import State
from docjobs.jobs.store import CELERY_QUEUE, JobStore

logger = logging.getLogger(__name__)


def sweep(
    store: JobStore, queue: JobQueue, *, requeue_after_s: float, orphan_after_s: float
) -> list[str]:
    now = time.time()
    resent: list[str] = []
    queue_empty: bool | None = None  # read once, and only if a queued job has waited long
    for job in store.get_many(store.active_ids()):
        if job.state is State.QUEUED:
            # Never sent; or sent long ago and no longer in the queue. With prefetch off, a
            # live worker takes a message only when a process can start it at once, so the
            # message is gone.
            waited = now - max(job.enqueued_at, job.updated_at) > requeue_after_s
            if waited and job.enqueued_at and queue_empty is None:
                queue_empty = not store.client.llen(CELERY_QUEUE)
            lost = waited and (not job.enqueued_at or bool(queue_empty))
        elif job.state is State.RUNNING:
            lost = now - job.updated_at > orphan_after_s and not store.is_leased(job.id)
        elif job.state is State.RETRYING:
            # The later of its countdown's end and our last resend: resent once, not each sweep.
            due = max(job.next_run_at, job.updated_at)
            lost = now - due > orphan_after_s and not store.is_leased(job.id)
        else:
            lost = False
        if lost:
            logger.warning("job %s (%s) has no live message; sending it again", job.id, job.state)
            queue.enqueue(job.id, job.attempt)
            store.set_fields(job.id, updated_at=now)
            resent.append(job.id)
    return resent
