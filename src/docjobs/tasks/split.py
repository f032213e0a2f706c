"""Big PDFs split into page ranges, one Celery task per range, so several worker processes
(on any machines) read one document at once; the last part in joins them (split_join.py).

Only ids and page numbers travel through the broker. Each part downloads the file itself
(once per process), reads, chunks and embeds its pages, and leaves its output in the job's
plan in Redis (split_plan.py). A part holds a lease of its own, so a killed part's redelivered
message can run as soon as that lease lapses; a part of a cancelled, failed or retried job
(another attempt) stops at its next page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from celery import Celery, Task

from docjobs.jobs.errors import Cancelled, JobError
from docjobs.jobs.model import Job
from docjobs.jobs.store import CELERY_QUEUE, lease_key
from docjobs.tasks.context import WorkerContext
from docjobs.tasks.download import download_file
from docjobs.tasks.extract import count_pages, extract_pages
from docjobs.tasks.extract_pdfium import file_digest, trust_checked
from docjobs.tasks.lease import (
    MAX_UNFINISHED_RUNS,
    JobLease,
    UnfinishedRuns,
    engine_after,
    stopped_too_often,
)
from docjobs.tasks.outcomes import handle_failure, job_error_for
from docjobs.tasks.part_chunks import chunk_part
from docjobs.tasks.part_files import part_files
from docjobs.tasks.part_output import PartOutput
from docjobs.tasks.part_watch import PartWatch
from docjobs.tasks.pipeline import embed_chunks
from docjobs.tasks.progress import ProgressFn, ignore_progress, overall_percent
from docjobs.tasks.split_join import abandon, join_parts
from docjobs.tasks.split_plan import PartSpec, SplitPlan, plan_parts

logger = logging.getLogger(__name__)

PART_TASK = "docjobs.extract_part"


def part_lease_name(job_id: str, attempt: int, index: int) -> str:
    return f"{job_id}:{attempt}:part:{index}"


def start_split(
    task: Task,
    job_id: str,
    attempt: int,
    path: Path,
    ctx: WorkerContext,
    progress: ProgressFn,
    *,
    engine: str,
) -> bool:
    """Split the downloaded job into parts and send them, if it is big enough; returns whether
    it did (the caller's work is then done). `path` is where part_files keeps the job's file,
    so the parts this process runs read it from there."""
    settings = ctx.settings
    if settings.split_min_pages <= 0:
        return False
    counted = count_pages(path, engine=engine)
    if counted is None or counted.pages > settings.max_pages:
        return False  # one pass says why it cannot read it, or that it is too long
    pages, least = counted.pages, settings.split_min_pages_for(counted.reader)
    if least <= 0 or pages <= least:
        return False
    parts = plan_parts(pages, per_part=settings.split_pages_per_part)
    if len(parts) < 2:
        return False
    plan = SplitPlan(ctx.redis, job_id, attempt)
    # pdfium reads only what passed the stream check: the parts may trust these bytes.
    checked = file_digest(path) if counted.reader == "pdfium" else ""
    plan.create(parts, pages=pages, pdfium_checked=checked)
    progress("extracting", overall_percent("extracting", 0, pages), f"page 0 of {pages}")
    _send_parts(task.app, job_id, attempt, plan.parts())
    logger.info(
        "job %s attempt %d: %d pages split into %d parts", job_id, attempt, pages, len(parts)
    )
    return True


def resume_split(task: Task, job_id: str, attempt: int, ctx: WorkerContext) -> bool:
    """For the job's own message arriving again (redelivered, or resent by the sweeper because
    the job looked stuck): if the job is split, send again the parts neither in nor running,
    and returns True; False if it is not split."""
    plan = SplitPlan(ctx.redis, job_id, attempt)
    if plan.is_joined():
        return True  # its outcome is on its way
    specs = plan.parts()
    if not specs:
        return False
    stored = plan.stored()
    lost = [
        spec
        for spec in specs
        if spec.index not in stored
        and not ctx.redis.exists(lease_key(part_lease_name(job_id, attempt, spec.index)))
    ]
    if not lost and len(stored) == len(specs):
        lost = specs[-1:]  # all in but not joined: a part message finding that joins
    elif lost and (waiting := ctx.redis.llen(CELERY_QUEUE)):
        # Parts behind a backlog are neither in nor running either: resending them each time
        # the sweeper resends the job would pile up copies. A part lost with a dead worker
        # comes back from the broker itself (the visibility timeout), or once the queue is
        # empty, at the sweeper's next look.
        logger.info(
            "job %s attempt %d: %d parts not in, %d messages queued; not resent yet",
            job_id,
            attempt,
            len(lost),
            waiting,
        )
        return True
    logger.info("job %s attempt %d: split job; sending %d parts again", job_id, attempt, len(lost))
    _send_parts(task.app, job_id, attempt, lost)
    return True


def _send_parts(app: Celery, job_id: str, attempt: int, specs: list[PartSpec]) -> None:
    for spec in specs:
        args = [job_id, attempt, spec.index, spec.first_page, spec.last_page]
        app.send_task(PART_TASK, args=args)


def run_part(
    task: Task,
    job_id: str,
    attempt: int,
    index: int,
    first_page: int,
    last_page: int,
    ctx: WorkerContext,
) -> None:
    """One part's task: read its pages into the plan; the part that completes it joins."""
    job = ctx.store.get(job_id)
    plan = SplitPlan(ctx.redis, job_id, attempt)
    if job is None or job.attempt != attempt or job.is_final:
        abandon(plan, job, ctx)
        return
    specs = plan.parts()
    if not specs:
        logger.info("job %s attempt %d part %d: plan gone; nothing to do", job_id, attempt, index)
        return
    if index not in plan.stored():
        lease = JobLease(
            ctx.redis, part_lease_name(job_id, attempt, index), ttl_s=ctx.settings.lease_ttl_s
        )
        if not lease.acquire():
            # Running elsewhere (a redelivered message): look again once a dead holder's lease
            # would have lapsed.
            wait = max(lease.ttl_s(), 1.0)
            logger.info("job %s part %d is leased; checking again in %.0fs", job_id, index, wait)
            task.apply_async(args=[job_id, attempt, index, first_page, last_page], countdown=wait)
            return
        runs = UnfinishedRuns(ctx.redis, part_lease_name(job_id, attempt, index))
        try:
            deaths = runs.begin()
            if deaths >= MAX_UNFINISHED_RUNS:
                retries = task.request.retries or 0
                _fail_part(task, job, index, stopped_too_often(), plan, ctx, retries=retries)
                done = None
            else:
                engine = engine_after(deaths, ctx.settings.extract_engine)
                done = _read_part(
                    task, job, index, specs, plan, ctx, engine=engine, still_ours=lease.held
                )
        finally:
            runs.end()
            lease.release()
    else:
        done = plan.done()
    if done == len(specs):
        part_files.drop(job_id, attempt)  # every page is read: free the file and its reader
        join_parts(task, job_id, attempt, plan, len(specs), ctx)


def fetch_job_file(job: Job, ctx: WorkerContext, *, on_progress: ProgressFn | None = None) -> Path:
    """The job's PDF, downloaded once per worker process into the cache its parts look in, so
    a split job's file (and what the engines learn about it) is not fetched or checked again."""
    settings = ctx.settings
    return part_files.get(
        job.id,
        job.attempt,
        lambda directory: download_file(
            job.url,
            token=settings.slack_bot_token or "",
            dest_dir=directory,
            max_bytes=settings.max_file_bytes,
            client=ctx.http,
            on_progress=on_progress,
            trusted_hosts=settings.trusted_file_hosts,
        ),
        source=job.url,
    )


def _read_part(
    task: Task,
    job: Job,
    index: int,
    specs: list[PartSpec],
    plan: SplitPlan,
    ctx: WorkerContext,
    *,
    engine: str,
    still_ours: Callable[[], bool],
) -> int | None:
    """Read, chunk and embed the part's pages and store them; the parts done, or None if the
    part stopped (cancelled, superseded, failed, or to be retried)."""
    settings, job_id, attempt = ctx.settings, job.id, job.attempt
    first_page, last_page = specs[index].first_page, specs[index].last_page
    retries = task.request.retries or 0
    watch = PartWatch(
        plan, ctx.store, settings, index=index, pages=plan.pages(), still_ours=still_ours
    )
    try:
        watch.should_stop()  # the time budget may be spent before this part began
        path = fetch_job_file(job, ctx)
        if checked := plan.pdfium_checked():
            trust_checked(path, checked)
        extraction = extract_pages(
            path,
            max_pages=settings.max_pages,
            on_page=watch.on_page,
            should_cancel=watch.should_stop,
            min_chars_per_page=settings.min_chars_per_page,
            engine=engine,
            first_page=first_page,
            last_page=last_page,
            readers=part_files.readers,
            # Its share of the job's text limit, so the parts together hold no more.
            max_chars=-(-settings.max_text_chars * specs[index].pages // max(plan.pages(), 1)),
        )
        read_s = watch.elapsed_s
        chunked = chunk_part(
            extraction.page_texts, size=settings.chunk_chars, overlap=settings.chunk_overlap
        )
        # The last chunk of any part but the last runs on into the next part: the joiner
        # cuts that one, so it is not worth a vector.
        rows = chunked.chunks if index + 1 == len(specs) else chunked.chunks[:-1]
        vectors = embed_chunks(
            rows,
            ctx.embedder,
            batch=settings.embed_batch,
            on_progress=ignore_progress,
            should_cancel=watch.should_stop,
        )
        text, packed_rows = PartOutput(extraction, chunked, rows, vectors).pack()
    except Exception as exc:  # noqa: BLE001 - every failure becomes the job's, below
        plan.add_busy(watch.elapsed_s)
        error = job_error_for(exc, settings, job_id=job_id)
        if isinstance(error, Cancelled) or watch.cancelled:
            abandon(plan, ctx.store.get(job_id), ctx)
            return None
        _fail_part(task, job, index, error, plan, ctx, retries=retries)
        return None
    plan.add_busy(watch.elapsed_s)
    stored = plan.store_part(index, text, packed_rows)
    if stored is None:
        logger.info("job %s attempt %d part %d: plan gone (job ended)", job_id, attempt, index)
        return None
    new, done = stored
    logger.info(
        "job %s attempt %d: part %d of %d (pages %d-%d) stored%s in %.2fs (%.2fs reading)",
        job_id,
        attempt,
        index + 1,
        len(specs),
        first_page,
        last_page,
        "" if new else " (already)",
        watch.elapsed_s,
        read_s,
    )
    return done


def _fail_part(
    task: Task,
    job: Job,
    index: int,
    error: JobError,
    plan: SplitPlan,
    ctx: WorkerContext,
    *,
    retries: int,
) -> None:
    """Retry the part if that can help (raises celery's Retry), else fail the whole job."""
    logger.warning("job %s attempt %d part %d: %s", job.id, job.attempt, index, error.detail)
    if error.retryable and retries < ctx.settings.max_retries:
        plan.add_retry()
    else:
        plan.delete()  # the job fails: the other parts stop at their next page
        part_files.drop(job.id, job.attempt)
    handle_failure(
        task,
        job.id,
        job.attempt,
        error,
        ctx,
        retries=retries,
        started=job.started_at or time.time(),
    )
