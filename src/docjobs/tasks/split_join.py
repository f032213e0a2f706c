"""Joining a split job: the parts' pages in order, chunked exactly as one pass would chunk
them, embedded where the parts did not, stored, and one outcome sent.

It streams: a first pass reads the parts' texts one at a time to walk the document's chain
of chunks (most are a part's own, a few around each seam are cut here), a second reads their
rows one at a time into the store's one transaction. The joiner never holds more than a part
or two, nor a vector as Python floats, whatever the length of the document.

The part whose output completes the plan joins. A join lease makes it the only joiner while
it works; if it dies, a redelivered part message finds every part in, no live joiner and no
outcome yet, and joins again (storing replaces, and the outcome is recorded once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from celery import Task

from docjobs.jobs.errors import Cancelled
from docjobs.jobs.model import Job, State
from docjobs.tasks.chunk import Chunk
from docjobs.tasks.context import WorkerContext
from docjobs.tasks.embed import Vectors
from docjobs.tasks.lease import JobLease
from docjobs.tasks.outcomes import (
    handle_failure,
    job_error_for,
    remove_output_if_cancelled,
    send_result,
    succeeded_result,
)
from docjobs.tasks.part_chunks import Source, stitch
from docjobs.tasks.part_files import part_files
from docjobs.tasks.part_output import PartRows, PartTexts
from docjobs.tasks.pipeline import Outcome, embed_chunks, stop_if_cancelled, succeeded
from docjobs.tasks.progress import CancelFn, ignore_progress, overall_percent
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
    if plan.stored() != set(range(count)):
        logger.error("job %s attempt %d: a part's output is missing; not joining", job_id, attempt)
        return
    progress = JobProgress(ctx.store, job_id, attempt, interval_s=settings.cancel_check_interval_s)
    try:
        outcome = _join(job_id, plan, count, progress, ctx)
    except Exception as exc:  # noqa: BLE001 - every failure becomes the job's, below
        error = job_error_for(exc, settings, job_id=job_id)
        if isinstance(error, Cancelled) or progress.cancelled:
            abandon(plan, ctx.store.get(job_id), ctx)
            return
        # The join's own retries, not those of the part whose message it runs in.
        retries = plan.join_retries()
        if error.retryable and retries < settings.max_retries:
            plan.add_join_retry()
        else:
            plan.delete()  # the job fails: its parts' outputs are of no more use
        handle_failure(task, job_id, attempt, error, ctx, retries=retries, started=job.started_at)
        return
    if progress.cancelled:
        abandon(plan, ctx.store.get(job_id), ctx)
        return
    seconds = time.time() - (job.started_at or time.time())
    result = succeeded_result(job_id, attempt, outcome, seconds=seconds, retries=plan.retries())
    send_result(task, result, ctx)
    plan.mark_joined()
    part_files.drop(job_id, attempt)
    remove_output_if_cancelled(job_id, attempt, ctx)


def _join(
    job_id: str, plan: SplitPlan, count: int, progress: JobProgress, ctx: WorkerContext
) -> Outcome:
    settings, started = ctx.settings, time.monotonic()
    size, overlap = settings.chunk_chars, settings.chunk_overlap
    progress("chunking", overall_percent("chunking", 0, 1), f"joining {count} parts")
    texts = PartTexts(
        plan.load_text,
        count,
        min_chars_per_page=settings.min_chars_per_page,
        should_cancel=progress.should_cancel,
    )
    # Which part made each of the document's chunks, or the chunk itself where it was cut
    # here: a small record per chunk, the texts and vectors stay in Redis until stored.
    chunks = list(stitch(texts.layouts(), size=size, overlap=overlap))
    counts = texts.counts()
    seams = [chunk for chunk in chunks if isinstance(chunk, Chunk)]
    # The parts embedded all but these few: no embedding step to show.
    seam_vectors = embed_chunks(
        seams,
        ctx.embedder,
        batch=settings.embed_batch,
        on_progress=ignore_progress,
        should_cancel=progress.should_cancel,
    )
    stop_if_cancelled(progress.should_cancel)
    progress("storing", overall_percent("storing", 0, 1), f"{len(chunks)} chunks")
    walked = time.monotonic()
    # A cancel on the way is abandon()'s to clean up: it knows whether the job is cancelled on
    # this attempt or already run again as another (whose chunks these are not).
    rows = _rows(chunks, seam_vectors, plan, should_cancel=progress.should_cancel)
    ctx.chunks.write(job_id, rows)
    progress("storing", 100, f"{len(chunks)} chunks stored")
    logger.info(
        "job %s: %d parts joined in %.2fs (%.2fs finding the chunks, %d cut at seams; "
        "%.2fs storing)",
        job_id,
        count,
        time.monotonic() - started,
        walked - started,
        len(seams),
        time.monotonic() - walked,
    )
    return succeeded(counts, chunks=len(chunks), job_id=job_id, started=started)


def _rows(
    chunks: list[Source | Chunk], seam_vectors: Vectors, plan: SplitPlan, *, should_cancel: CancelFn
) -> Iterator[tuple[Chunk, bytes]]:
    """The document's chunks with their vectors, in order, reading one part's rows at a time."""
    part, rows, seam = -1, None, 0
    for index, chunk in enumerate(chunks):
        if isinstance(chunk, Chunk):
            yield chunk, seam_vectors.blob(seam)
            seam += 1
            continue
        if chunk.part != part:
            stop_if_cancelled(should_cancel)
            packed = plan.load_rows(chunk.part)
            if packed is None:  # the plan was dropped: the job was cancelled or run again
                raise Cancelled(f"Part {chunk.part + 1}'s chunks are gone.")
            part, rows = chunk.part, PartRows.unpack(packed)
        assert rows is not None
        yield rows.row(chunk.chunk, index=index)


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
