"""The Celery tasks: take a job id, load what is needed, call the pipeline, report."""

from __future__ import annotations

import logging
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded

from docjobs.jobs.errors import JobError, TooLarge, TransientError
from docjobs.jobs.model import State
from docjobs.jobs.results import JobResult, record_result
from docjobs.tasks.celery_app import DELIVER_TASK, PROCESS_TASK
from docjobs.tasks.context import WorkerContext, worker_context
from docjobs.tasks.delivery import post_result
from docjobs.tasks.download import download_file
from docjobs.tasks.lease import JobLease
from docjobs.tasks.pipeline import run_pipeline
from docjobs.tasks.reporting import JobProgress

logger = logging.getLogger(__name__)

DELIVERY_MAX_RETRIES = 40
GAVE_UP_HINT = "Wait a few minutes for the service to recover."


def register_tasks(app: Celery) -> None:
    @app.task(name=PROCESS_TASK, bind=True, max_retries=None)
    def process_job(self: Task, job_id: str, attempt: int) -> None:
        run_job(self, job_id, attempt, worker_context())

    @app.task(name=DELIVER_TASK, bind=True, max_retries=DELIVERY_MAX_RETRIES)
    def deliver_result(self: Task, payload: dict[str, Any]) -> None:
        deliver_later(self, JobResult.model_validate(payload), worker_context())


def backoff_s(retries: int, *, base: float, cap: float, at_least: float = 0.0) -> float:
    """Exponential backoff with full jitter, never below what the server asked for."""
    return max(at_least, random.uniform(0.5, 1.0) * min(cap, base * 2**retries))


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
    lease = JobLease(ctx.redis, job_id, ttl_s=ctx.settings.lease_ttl_s)
    if not lease.acquire():
        # Another worker holds it (Redis redelivered a running message): look again later,
        # so the job is not lost if that worker has just died.
        wait = max(lease.ttl_s(), 1.0)
        logger.info("job %s is leased by another worker; checking again in %.0fs", job_id, wait)
        task.apply_async(args=[job_id, attempt], countdown=wait)
        return
    try:
        _run_leased(task, job_id, attempt, ctx)
    finally:
        lease.release()


def _run_leased(task: Task, job_id: str, attempt: int, ctx: WorkerContext) -> None:
    settings, store = ctx.settings, ctx.store
    retries = task.request.retries or 0
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
    progress = JobProgress(store, job_id, attempt, interval_s=settings.cancel_check_interval_s)
    try:
        with tempfile.TemporaryDirectory(prefix=f"docjobs-{job_id}-") as tmp:
            path = download_file(
                job.url,
                token=settings.slack_bot_token or "",
                dest_dir=Path(tmp),
                max_bytes=settings.max_file_bytes,
                client=ctx.http,
                on_progress=progress,
            )
            outcome = run_pipeline(
                path,
                job_id=job_id,
                settings=settings,
                on_progress=progress,
                should_cancel=progress.should_cancel,
                embedder=ctx.embedder,
                store=ctx.chunks,
                engine=settings.extract_engine,
            )
    except JobError as exc:
        if exc.code == "cancelled" or progress.cancelled:
            ctx.chunks.delete(job_id)
            logger.info("job %s attempt %d cancelled; partial output removed", job_id, attempt)
            return
        _handle_failure(task, job_id, attempt, exc, ctx, retries=retries, started=started)
        return
    except SoftTimeLimitExceeded:
        minutes = settings.task_soft_time_limit // 60 or 1
        too_long = TooLarge(f"Processing took longer than {minutes} minutes.")
        _handle_failure(task, job_id, attempt, too_long, ctx, retries=retries, started=started)
        return
    except MemoryError:
        too_big = TooLarge("This PDF needs more memory than a worker may use.")
        _handle_failure(task, job_id, attempt, too_big, ctx, retries=retries, started=started)
        return
    except Exception:
        logger.exception("job %s attempt %d: unexpected error", job_id, attempt)
        unexpected = TransientError("An unexpected error stopped the job.")
        _handle_failure(task, job_id, attempt, unexpected, ctx, retries=retries, started=started)
        return
    if progress.cancelled:
        ctx.chunks.delete(job_id)
        return
    result = JobResult(
        job_id=job_id,
        attempt=attempt,
        status="succeeded",
        pages=outcome.pages,
        words=outcome.words,
        chunks=outcome.chunks,
        warnings=outcome.warnings,
        seconds=time.time() - started,
        retries=retries,
    )
    send_result(task, result, ctx)


def _handle_failure(
    task: Task,
    job_id: str,
    attempt: int,
    exc: JobError,
    ctx: WorkerContext,
    *,
    retries: int,
    started: float,
) -> None:
    settings = ctx.settings
    if exc.retryable and retries < settings.max_retries:
        countdown = backoff_s(
            retries,
            base=settings.retry_backoff_base_s,
            cap=settings.retry_backoff_max,
            at_least=float(getattr(exc, "retry_after", None) or 0),
        )
        ctx.store.transition(
            job_id,
            State.RETRYING,
            attempt=attempt,
            fields={
                "reason": exc.sentence,
                "reason_code": exc.code,
                "retries": retries + 1,
                "next_run_at": time.time() + countdown,
                "detail": f"retry {retries + 1} of {settings.max_retries} in {countdown:.0f}s",
            },
        )
        logger.warning(
            "job %s attempt %d: %s; retry %d in %.1fs",
            job_id,
            attempt,
            exc.detail,
            retries + 1,
            countdown,
        )
        raise task.retry(countdown=countdown, max_retries=None)
    dead = exc.retryable  # a transient error that outlived its retries
    logger.warning(
        "job %s attempt %d failed (%s): %s%s",
        job_id,
        attempt,
        exc.code,
        exc.detail,
        " — dead-lettered" if dead else "",
    )
    result = JobResult(
        job_id=job_id,
        attempt=attempt,
        status="failed",
        reason_code=exc.code,
        reason=exc.sentence,
        hint=GAVE_UP_HINT if dead else exc.hint,
        seconds=time.time() - started,
        retries=retries,
        dead_lettered=dead,
    )
    send_result(task, result, ctx)


def send_result(task: Task, result: JobResult, ctx: WorkerContext) -> None:
    """Post the outcome now; if the results service is down, hand it to a durable task."""
    try:
        post_result(
            ctx.http,
            url=ctx.settings.results_url,
            secret=ctx.settings.results_secret,
            result=result,
        )
    except TransientError as exc:
        logger.warning(
            "job %s: outcome not delivered (%s); queued for redelivery", result.job_id, exc.detail
        )
        task.app.send_task(DELIVER_TASK, args=[result.model_dump()], countdown=1)


def deliver_later(task: Task, result: JobResult, ctx: WorkerContext) -> None:
    try:
        post_result(
            ctx.http,
            url=ctx.settings.results_url,
            secret=ctx.settings.results_secret,
            result=result,
        )
    except TransientError as exc:
        retries = task.request.retries or 0
        if retries < DELIVERY_MAX_RETRIES:
            raise task.retry(countdown=backoff_s(retries, base=1.0, cap=60.0)) from exc
        # The results service has been gone for most of an hour: record it here rather than
        # lose the outcome. record_result applies it once, whoever gets there first.
        logger.error(
            "job %s: results service unreachable; recording outcome directly", result.job_id
        )
        record_result(ctx.store, result)
