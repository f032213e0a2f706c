"""The Celery tasks: take a job id, load what is needed, call the pipeline, report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import Celery, Task

from docjobs.jobs.model import State
from docjobs.jobs.results import JobResult
from docjobs.tasks.celery_app import DELIVER_TASK, PROCESS_TASK
from docjobs.tasks.context import WorkerContext, worker_context
from docjobs.tasks.lease import (
    MAX_UNFINISHED_RUNS,
    JobLease,
    UnfinishedRuns,
    engine_after,
    stopped_too_often,
)
from docjobs.tasks.outcomes import (
    DELIVERY_MAX_RETRIES,
    deliver_later,
    handle_failure,
    job_error_for,
    remove_output_if_cancelled,
    send_result,
    succeeded_result,
)
from docjobs.tasks.part_files import part_files
from docjobs.tasks.pipeline import run_pipeline
from docjobs.tasks.reporting import JobProgress
from docjobs.tasks.split import (
    PART_TASK,
    fetch_job_file,
    resume_split,
    run_part,
    start_split,
)

logger = logging.getLogger(__name__)

# How early a retry's message may come (clocks of different machines) and still run.
EARLY_SLACK_S = 1.0


def register_tasks(app: Celery) -> None:
    @app.task(name=PROCESS_TASK, bind=True, max_retries=None)
    def process_job(self: Task, job_id: str, attempt: int) -> None:
        run_job(self, job_id, attempt, worker_context())

    @app.task(name=PART_TASK, bind=True, max_retries=None)
    def extract_part(
        self: Task, job_id: str, attempt: int, part: int, first_page: int, last_page: int
    ) -> None:
        run_part(self, job_id, attempt, part, first_page, last_page, worker_context())

    @app.task(name=DELIVER_TASK, bind=True, max_retries=DELIVERY_MAX_RETRIES)
    def deliver_result(self: Task, payload: dict[str, Any]) -> None:
        deliver_later(self, JobResult.model_validate(payload), worker_context())


def run_job(task: Task, job_id: str, attempt: int, ctx: WorkerContext) -> None:
    job = ctx.store.get(job_id)
    if job is None or job.attempt != attempt or job.is_final:
        # A duplicate delivery, a cancelled job, or a message from an older attempt.
        logger.info(
            "job %s attempt %s: nothing to do (%s)",
            job_id,
            attempt,
            job.state if job else "unknown job",
        )
        return
    wait = job.next_run_at - time.time() if job.state is State.RETRYING else 0.0
    if wait > EARLY_SLACK_S:
        # A second message for a job waiting out its backoff (the sweeper resent it while
        # the first waited for a free process): it runs when the backoff ends, not now.
        logger.info("job %s attempt %d: retry due in %.0fs; waiting", job_id, attempt, wait)
        task.apply_async(args=[job_id, attempt], countdown=wait)
        return
    lease = JobLease(ctx.redis, job_id, ttl_s=ctx.settings.lease_ttl_s)
    if not lease.acquire():
        # Another worker holds it (Redis redelivered a running message): look again later,
        # so the job is not lost if that worker has just died.
        wait = max(lease.ttl_s(), 1.0)
        logger.info("job %s is leased by another worker; checking again in %.0fs", job_id, wait)
        task.apply_async(args=[job_id, attempt], countdown=wait)
        return
    runs = UnfinishedRuns(ctx.redis, f"{job_id}:{attempt}")
    try:
        deaths = runs.begin()
        if deaths >= MAX_UNFINISHED_RUNS:
            job = ctx.store.get(job_id)
            started = (job.started_at if job else 0.0) or time.time()
            retries = task.request.retries or 0
            handle_failure(
                task, job_id, attempt, stopped_too_often(), ctx, retries=retries, started=started
            )
        elif not resume_split(task, job_id, attempt, ctx):
            engine = engine_after(deaths, ctx.settings.extract_engine)
            _run_leased(task, job_id, attempt, ctx, engine=engine, still_ours=lease.held)
    finally:
        runs.end()
        lease.release()


def _run_leased(
    task: Task,
    job_id: str,
    attempt: int,
    ctx: WorkerContext,
    *,
    engine: str,
    still_ours: Callable[[], bool],
) -> None:
    settings, store = ctx.settings, ctx.store
    # The job's own count, not only the message's: a message the sweeper or a lease re-poll
    # sent carries none, and must not give the attempt its retries again.
    job = store.get(job_id)
    retries = max(task.request.retries or 0, job.retries if job else 0)
    started = time.time()
    moved = store.transition(
        job_id,
        State.RUNNING,
        attempt=attempt,
        fields={
            "started_at": started,
            "step": "downloading",
            "percent": 0,
            "detail": "",
            "retries": retries,
            "reason": "",
            "reason_code": "",
        },
    )
    if not moved:
        logger.info("job %s attempt %d: no longer runnable", job_id, attempt)
        return
    job = store.get(job_id)
    assert job is not None
    progress = JobProgress(
        store,
        job_id,
        attempt,
        interval_s=settings.cancel_check_interval_s,
        still_ours=still_ours,
    )
    split = False
    try:
        path = fetch_job_file(job, ctx, on_progress=progress)
        split = start_split(task, job_id, attempt, path, ctx, progress, engine=engine)
        if split:
            return  # its parts carry on, on any worker process
        outcome = run_pipeline(
            path,
            job_id=job_id,
            settings=settings,
            on_progress=progress,
            should_cancel=progress.should_cancel,
            embedder=ctx.embedder,
            store=ctx.chunks,
            engine=engine,
        )
    except Exception as caught:  # noqa: BLE001 - every failure becomes a JobError, below
        exc = job_error_for(caught, settings, job_id=job_id)
        if exc.code == "cancelled" or progress.cancelled:
            remove_output_if_cancelled(job_id, attempt, ctx)
            return
        handle_failure(task, job_id, attempt, exc, ctx, retries=retries, started=started)
        return
    finally:
        if not split:
            part_files.drop(job_id, attempt)
    if progress.cancelled:
        remove_output_if_cancelled(job_id, attempt, ctx)
        return
    result = succeeded_result(
        job_id, attempt, outcome, seconds=time.time() - started, retries=retries
    )
    send_result(task, result, ctx)
    remove_output_if_cancelled(job_id, attempt, ctx)
