"""Joining a split job: the parts' pages in order, chunked exactly as one pass would chunk
them, embedded where the parts did not, stored, and one outcome sent.

The part whose output completes the plan joins. A join lease makes it the only joiner while
it works; if it dies, a redelivered part message finds every part in, no live joiner and no
outcome yet, and joins again (storing replaces, and the outcome is recorded once).
"""

from __future__ import annotations

import logging
import time

from celery import Task

from docjobs.jobs.errors import Cancelled
from docjobs.jobs.model import Job, State
from docjobs.jobs.results import JobResult
from docjobs.tasks.context import WorkerContext
from docjobs.tasks.lease import JobLease
from docjobs.tasks.outcomes import handle_failure, job_error_for, send_result
from docjobs.tasks.part_chunks import stitch
from docjobs.tasks.part_files import part_files
from docjobs.tasks.part_output import PartOutput, merge_extractions
from docjobs.tasks.pipeline import Outcome, index_chunks
from docjobs.tasks.progress import overall_percent
from docjobs.tasks.reporting import JobProgress
from docjobs.tasks.split_plan import SplitPlan

logger = logging.getLogger(__name__)


def join_parts(
    task: Task, job_id: str, attempt: int, plan: SplitPlan, count: int, ctx: WorkerContext
) -> None:
    lease = JobLease(ctx.redis, f"{job_id}:{attempt}:join", ttl_s=ctx.settings.lease_ttl_s)
    if not lease.acquire():
        if not plan.is_joined():
            # Joining elsewhere: look again once a dead joiner's lease would have lapsed.
            wait = max(lease.ttl_s(), 1.0)
            task.apply_async(args=task.request.args, countdown=wait)
        return
    try:
        _join_leased(task, job_id, attempt, plan, count, ctx)
    finally:
        lease.release()


def _join_leased(
    task: Task, job_id: str, attempt: int, plan: SplitPlan, count: int, ctx: WorkerContext
) -> None:
    settings = ctx.settings
    job = ctx.store.get(job_id)
    if plan.is_joined() or not plan.exists():
        return
    if job is None or job.attempt != attempt or job.is_final:
        abandon(plan, job, ctx)
        return
    packed = plan.load_outputs(count)
    if any(p is None for p in packed):
        logger.error("job %s attempt %d: a part's output is missing; not joining", job_id, attempt)
        return
    progress = JobProgress(ctx.store, job_id, attempt, interval_s=settings.cancel_check_interval_s)
    try:
        outcome = _join(job_id, packed, progress, ctx)
    except Exception as exc:  # noqa: BLE001 - every failure becomes the job's, below
        error = job_error_for(exc, settings, job_id=job_id)
        if isinstance(error, Cancelled) or progress.cancelled:
            abandon(plan, ctx.store.get(job_id), ctx)
            return
        if not error.retryable:
            plan.delete()
        retries = task.request.retries or 0
        handle_failure(task, job_id, attempt, error, ctx, retries=retries, started=job.started_at)
        return
    if progress.cancelled:
        abandon(plan, ctx.store.get(job_id), ctx)
        return
    result = JobResult(
        job_id=job_id,
        attempt=attempt,
        status="succeeded",
        pages=outcome.pages,
        words=outcome.words,
        chunks=outcome.chunks,
        warnings=outcome.warnings,
        seconds=time.time() - (job.started_at or time.time()),
        retries=plan.retries(),
    )
    send_result(task, result, ctx)
    plan.mark_joined()
    part_files.drop(job_id, attempt)


def _join(
    job_id: str, packed: list[str | None], progress: JobProgress, ctx: WorkerContext
) -> Outcome:
    settings, started = ctx.settings, time.monotonic()
    outputs = [
        PartOutput.unpack(p, min_chars_per_page=settings.min_chars_per_page)
        for p in packed
        if p is not None
    ]
    extraction = merge_extractions(
        [output.extraction for output in outputs], min_chars_per_page=settings.min_chars_per_page
    )
    progress("chunking", overall_percent("chunking", 0, 1), f"{extraction.words} words")
    chunks, sources = stitch(
        [output.chunked for output in outputs],
        extraction.page_texts,
        size=settings.chunk_chars,
        overlap=settings.chunk_overlap,
    )
    vectors: list[list[float] | None] = []
    for source in sources:
        made = outputs[source.part].vectors if source is not None else []
        vectors.append(made[source.chunk] if source and source.chunk < len(made) else None)
    # A cancel on the way is abandon()'s to clean up: it knows whether the job is cancelled on
    # this attempt or already run again as another (whose chunks these are not).
    return index_chunks(
        extraction,
        chunks,
        vectors,
        job_id=job_id,
        settings=settings,
        # The parts embedded all but the few chunks cut at seams: no embedding step to show.
        on_progress=lambda step, percent, detail: (
            None if step == "embedding" else progress(step, percent, detail)
        ),
        should_cancel=progress.should_cancel,
        embedder=ctx.embedder,
        store=ctx.chunks,
        started=started,
    )


def abandon(plan: SplitPlan, job: Job | None, ctx: WorkerContext) -> None:
    """A part or joiner found its job over (cancelled, failed, or on another attempt): drop
    the plan, and a cancelled job's stored chunks."""
    had_plan = plan.delete()
    part_files.drop(plan.job_id, plan.attempt)
    removed = 0
    if job is not None and job.attempt == plan.attempt and job.state is State.CANCELLED:
        removed = ctx.chunks.delete(plan.job_id)
    if had_plan or removed:
        state = job.state if job is not None and job.attempt == plan.attempt else "superseded"
        logger.info(
            "job %s attempt %d %s: split plan and %d stored chunks removed",
            plan.job_id,
            plan.attempt,
            state,
            removed,
        )
