"""How a task ends a job: retry with backoff, fail it (dead-lettered once retries run out), or
post its outcome. Shared by the whole-document task and the page-range tasks of a split job."""

from __future__ import annotations

import logging
import random
import time

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from docjobs.jobs.errors import JobError, TooLarge, TransientError
from docjobs.jobs.model import State
from docjobs.jobs.results import JobResult, record_result
from docjobs.settings import Settings
from docjobs.tasks.celery_app import DELIVER_TASK
from docjobs.tasks.context import WorkerContext
from docjobs.tasks.delivery import ResultRefused, post_result
from docjobs.tasks.pipeline import Outcome

logger = logging.getLogger(__name__)

DELIVERY_MAX_RETRIES = 40
GAVE_UP_HINT = "Wait a few minutes for the service to recover."


def backoff_s(retries: int, *, base: float, cap: float, at_least: float = 0.0) -> float:
    """Exponential backoff with jitter, never below what the server asked for, nor past
    `cap`: the longest wait the broker's visibility timeout is checked against (a longer
    countdown would be redelivered early, and run twice)."""
    return min(cap, max(at_least, random.uniform(0.5, 1.0) * min(cap, base * 2**retries)))


def job_error_for(exc: BaseException, settings: Settings, *, job_id: str) -> JobError:
    """The JobError a task ends with when something other than a JobError stopped it."""
    if isinstance(exc, JobError):
        return exc
    if isinstance(exc, SoftTimeLimitExceeded):
        return out_of_time(settings)
    if isinstance(exc, MemoryError):
        return TooLarge("This PDF needs more memory than a worker may use.")
    logger.error("job %s: unexpected error", job_id, exc_info=exc)
    return TransientError("An unexpected error stopped the job.")


def out_of_time(settings: Settings) -> TooLarge:
    minutes = settings.task_soft_time_limit // 60 or 1
    return TooLarge(f"Processing took longer than {minutes} minutes.")


def handle_failure(
    task: Task,
    job_id: str,
    attempt: int,
    exc: JobError,
    ctx: WorkerContext,
    *,
    retries: int,
    started: float,
) -> None:
    """Retry `task` later if that can help (raises celery's Retry); else post a failed outcome."""
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


def succeeded_result(
    job_id: str, attempt: int, outcome: Outcome, *, seconds: float, retries: int
) -> JobResult:
    """The result a task sends for a job it finished, whole or joined from parts."""
    return JobResult(
        job_id=job_id,
        attempt=attempt,
        status="succeeded",
        pages=outcome.pages,
        words=outcome.words,
        chunks=outcome.chunks,
        warnings=outcome.warnings,
        seconds=seconds,
        retries=retries,
    )


def send_result(task: Task, result: JobResult, ctx: WorkerContext) -> None:
    """Post the outcome now. If the results service is down, record it here (once, whoever
    gets there first) and hand the post to a durable task, so that service still hears of it:
    a job left running with its lease released would look orphaned to the sweeper within a
    minute and run again."""
    try:
        _post(result, ctx)
    except TransientError as exc:
        logger.warning(
            "job %s: outcome not delivered (%s); recorded here, the post queued for later",
            result.job_id,
            exc.detail,
        )
        record_result(ctx.store, result)
        task.app.send_task(DELIVER_TASK, args=[result.model_dump()], countdown=1)
    except ResultRefused as exc:
        _record_refused(result, exc, ctx)


def _record_refused(result: JobResult, exc: ResultRefused, ctx: WorkerContext) -> None:
    """Left running, the job would look orphaned to the sweeper and run again, for ever."""
    logger.error("job %s: %s; recording the outcome here", result.job_id, exc)
    record_result(ctx.store, result)


def remove_output_if_cancelled(job_id: str, attempt: int, ctx: WorkerContext) -> bool:
    """Delete the job's stored chunks if it is cancelled on `attempt` (or gone); True if so.
    Chunks are stored by job, so a job that went on to a newer attempt, or whose outcome was
    recorded, keeps them. Called when a run stands down, and after a run's outcome is sent:
    a cancel that came while it was stored wins over the outcome (the state script lets one
    of them in) and must not leave the chunks behind."""
    job = ctx.store.get(job_id)
    if job is not None and not (job.attempt == attempt and job.state is State.CANCELLED):
        return False
    ctx.chunks.delete(job_id)
    logger.info("job %s attempt %d cancelled; its output removed", job_id, attempt)
    return True


def _post(result: JobResult, ctx: WorkerContext) -> None:
    post_result(
        ctx.http, url=ctx.settings.results_url, secret=ctx.settings.results_secret, result=result
    )


def deliver_later(task: Task, result: JobResult, ctx: WorkerContext) -> None:
    try:
        _post(result, ctx)
    except ResultRefused as exc:
        _record_refused(result, exc, ctx)
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
