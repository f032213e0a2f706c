"""Sending jobs to the workers, by task name only: the bot never imports the pipeline."""

from __future__ import annotations

import logging
import time

from celery import Celery

from docjobs.jobs.store import JobStore
from docjobs.settings import Settings
from docjobs.tasks.celery_app import PROCESS_TASK, create_celery

logger = logging.getLogger(__name__)


class JobQueue:
    def __init__(self, settings: Settings, store: JobStore) -> None:
        self.celery: Celery = create_celery(settings, with_tasks=False)
        self.store = store

    def enqueue(self, job_id: str, attempt: int) -> bool:
        """Send the job; on a broker failure leave it for the sweeper (it stays `queued`)."""
        try:
            self.celery.send_task(
                PROCESS_TASK,
                args=[job_id, attempt],
                retry=True,
                retry_policy={"max_retries": 3, "interval_start": 0.2},
            )
        except Exception:
            logger.exception("job %s: could not reach the broker; the sweeper will resend", job_id)
            return False
        self.store.set_fields(job_id, enqueued_at=time.time())
        return True

    def close(self) -> None:
        self.celery.close()
