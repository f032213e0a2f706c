"""The sweeper against a real Redis: a job whose broker message is gone is sent again, and
only once while that message has its chance to run."""

from __future__ import annotations

import time
from typing import cast

from docjobs.bot.queue import JobQueue
from docjobs.bot.sweeper import sweep
from docjobs.jobs.model import Job, State
from docjobs.jobs.store import JobStore
from tests.bot.test_jobs_command import SentJobs


def share(store: JobStore) -> str:
    job = Job(id="", channel="C1", thread_ts="1.0", file_id="F1", file_name="1.pdf", user="U1")
    return store.create(job)[1]


def test_a_retrying_job_whose_countdown_was_lost_is_sent_again_once(store: JobStore) -> None:
    job_id = share(store)
    store.transition(job_id, State.RUNNING)
    # Its countdown ended two minutes ago and no worker has taken it: the message is gone.
    now = time.time()
    fields = {"next_run_at": now - 120, "updated_at": now - 130, "detail": "retry 1 of 3"}
    assert store.transition(job_id, State.RETRYING, fields=fields)
    queue = SentJobs()
    for _ in range(4):  # sweeps come every few seconds; the resent message needs longer
        sweep(store, cast(JobQueue, queue), requeue_after_s=30, orphan_after_s=60)
    assert queue.sent == [(job_id, 1)]
    # Still not running a full orphan_after_s after that resend: it is sent again.
    store.set_fields(job_id, updated_at=time.time() - 61)
    sweep(store, cast(JobQueue, queue), requeue_after_s=30, orphan_after_s=60)
    assert queue.sent == [(job_id, 1), (job_id, 1)]
