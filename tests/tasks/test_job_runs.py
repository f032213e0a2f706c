"""A whole (unsplit) job's task on a real Redis, when the world moves under it: the results
service down as it ends, the job cancelled and run again while an older run still works."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from docjobs.bot.queue import JobQueue
from docjobs.bot.sweeper import sweep
from docjobs.jobs.control import cancel_job
from docjobs.jobs.errors import DownloadFailed
from docjobs.jobs.model import State
from docjobs.jobs.results import JobResult, record_result
from docjobs.jobs.store import JobStore, lease_key
from docjobs.tasks import process_job
from docjobs.tasks.celery_app import DELIVER_TASK, PROCESS_TASK
from docjobs.tasks.lease import JobLease
from tests.bot.test_jobs_command import SentJobs
from tests.support.pdfs import write_pages_pdf
from tests.support.servers import wait_until
from tests.tasks.test_split_jobs import (
    RESULTS_URL,
    Harness,
    Message,
    cancel_while_storing,
    make_harness,
    split_settings,
)


@pytest.fixture
def harness(tmp_path: Path, redis_url: str, store: JobStore) -> Iterator[Harness]:
    settings = split_settings(tmp_path, redis_url)  # 5 pages: read whole
    made = make_harness(settings, store, write_pages_pdf(tmp_path / "doc.pdf", 5))
    yield made
    made.ctx.redis.close()


def test_an_outcome_the_results_service_cannot_take_is_recorded_and_not_run_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = harness.handle

    def results_down(request: httpx.Request) -> httpx.Response:
        if str(request.url) == RESULTS_URL:
            return httpx.Response(503)
        return real(request)

    monkeypatch.setattr(
        harness.ctx, "http", httpx.Client(transport=httpx.MockTransport(results_down))
    )
    job_id = harness.share()
    harness.run(Message(PROCESS_TASK, [job_id, 1]))

    job = harness.store.get(job_id)
    assert job is not None and job.state is State.SUCCEEDED and job.chunks > 0
    assert harness.ctx.chunks.count(job_id) == job.chunks
    # The results service still gets the post once it is back.
    assert [m.name for m in harness.queue] == [DELIVER_TASK]
    # The sweeper, taking any job as overdue, finds nothing to run again.
    resent = SentJobs()
    sweep(harness.store, cast(JobQueue, resent), requeue_after_s=0, orphan_after_s=0)
    assert resent.sent == []


def test_a_run_whose_job_ended_meanwhile_leaves_its_chunks(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run of the same attempt stored the chunks and got its outcome recorded (a
    message the sweeper resent, a redelivered one) while this run was still embedding:
    this run stands down, and the chunks the outcome speaks of stay."""
    earlier = harness.share("F0")
    harness.run(Message(PROCESS_TASK, [earlier, 1]))
    rows = [(s.chunk, s.vector) for s in harness.ctx.chunks.load(earlier)]
    job_id = harness.share()
    embedder = harness.ctx.embedder
    real_embed = embedder.embed
    ended: list[str] = []

    def other_run_ends(texts: list[str]) -> list[list[float]]:
        if not ended:
            ended.append(job_id)
            harness.ctx.chunks.write(job_id, rows)
            done = JobResult(job_id=job_id, attempt=1, status="succeeded", chunks=len(rows))
            record_result(harness.store, done)
            time.sleep(harness.ctx.settings.cancel_check_interval_s + 0.05)
        return real_embed(texts)

    monkeypatch.setattr(embedder, "embed", other_run_ends)
    harness.run(Message(PROCESS_TASK, [job_id, 1]))

    job = harness.store.get(job_id)
    assert ended and job is not None and job.state is State.SUCCEEDED
    assert harness.ctx.chunks.count(job_id) == job.chunks == len(rows) > 0


def test_a_run_cancelled_for_good_removes_what_the_job_stored(harness: Harness) -> None:
    """Chunks the job has in the store (an earlier run's, stored before its result was lost)
    are gone once the job is cancelled on the running attempt."""
    earlier = harness.share("F0")
    harness.run(Message(PROCESS_TASK, [earlier, 1]))
    job_id = harness.share()
    rows = [(s.chunk, s.vector) for s in harness.ctx.chunks.load(earlier)]
    assert harness.ctx.chunks.write(job_id, rows) > 0
    embedder = harness.ctx.embedder
    real_embed = embedder.embed

    def cancelled_meanwhile(texts: list[str]) -> list[list[float]]:
        cancel_job(harness.store, job_id, by="U1")
        time.sleep(harness.ctx.settings.cancel_check_interval_s + 0.05)
        return real_embed(texts)

    embedder.embed = cancelled_meanwhile  # type: ignore[method-assign]
    harness.run(Message(PROCESS_TASK, [job_id, 1]))
    job = harness.store.get(job_id)
    assert job is not None and job.state is State.CANCELLED
    assert harness.ctx.chunks.count(job_id) == 0


def test_a_cancel_that_lands_while_the_chunks_are_stored_leaves_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = harness.share()
    cancel_while_storing(harness, monkeypatch)
    harness.run(Message(PROCESS_TASK, [job_id, 1]))
    job = harness.store.get(job_id)
    assert job is not None and job.state is State.CANCELLED
    assert harness.ctx.chunks.count(job_id) == 0


@pytest.mark.parametrize(("deaths", "ending"), [(2, "succeeded"), (3, "failed")])
def test_a_pdf_that_stops_the_process_every_time_fails_after_three_tries(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, deaths: int, ending: str
) -> None:
    """Each run's process dies mid-read (a crash in native code, the hard time limit), so
    Celery puts the message back; the job must end, not be read for ever."""
    job_id = harness.share()

    def crash(*args: object, **kwargs: object) -> None:
        os._exit(70)

    def one_run_that_dies() -> None:
        monkeypatch.setattr(process_job, "run_pipeline", crash)
        harness.run(Message(PROCESS_TASK, [job_id, 1]))

    fork = multiprocessing.get_context("fork")
    for _ in range(deaths):
        child = fork.Process(target=one_run_that_dies)
        child.start()
        child.join(timeout=30)
        assert child.exitcode == 70
        harness.ctx.redis.delete(lease_key(job_id))  # the dead run's lease lapses
    harness.run(Message(PROCESS_TASK, [job_id, 1]))  # the message Celery put back

    assert [r.status for r in harness.results] == [ending]
    job = harness.store.get(job_id)
    assert job is not None and job.state.value == ending
    if ending == "failed":
        assert job.reason_code == "unsupported"
        assert "stopped a worker process 3 times" in job.reason
    else:  # the deaths' count goes with the run that ends
        assert list(harness.ctx.redis.scan_iter(f"docjobs:runs:{job_id}:*")) == []


def test_a_second_message_for_a_retrying_job_neither_skips_its_backoff_nor_its_count(
    tmp_path: Path, redis_url: str, store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweeper resent a job whose retry message waited for a free process: two messages,
    one carrying no retry count. The job still waits out each backoff and counts on."""
    settings = split_settings(tmp_path, redis_url).model_copy(
        update={"retry_backoff_base_s": 30.0, "max_retries": 5}
    )
    harness = make_harness(settings, store, write_pages_pdf(tmp_path / "doc.pdf", 5))
    monkeypatch.setattr(harness.ctx, "redis", harness.store.client)
    fetches: list[int] = []

    def slack_down(*args: object, **kwargs: object) -> None:
        fetches.append(1)
        raise DownloadFailed("Slack answered HTTP 503.")

    monkeypatch.setattr(process_job, "fetch_job_file", slack_down)
    job_id = harness.share()
    harness.run(Message(PROCESS_TASK, [job_id, 1]))
    [retry] = harness.take(PROCESS_TASK)
    job = harness.store.get(job_id)
    assert job is not None and job.state is State.RETRYING and job.retries == 1

    # The sweeper's copy comes before the backoff ends: it waits for it, reading nothing.
    harness.run(Message(PROCESS_TASK, [job_id, 1]))
    [waiting] = harness.take(PROCESS_TASK)
    assert fetches == [1] and waiting.countdown > 0

    harness.store.set_fields(job_id, next_run_at=time.time() - 1)  # the backoff is over
    harness.run(retry)
    harness.take(PROCESS_TASK)
    job = harness.store.get(job_id)
    assert job is not None and job.retries == 2 and "retry 2 of" in job.detail

    harness.store.set_fields(job_id, next_run_at=time.time() - 1)
    harness.run(waiting)  # the copy, with no count of its own, once its time comes
    job = harness.store.get(job_id)
    assert job is not None and job.retries == 3 and "retry 3 of" in job.detail


def test_a_run_whose_lapsed_lease_another_run_took_stands_down(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis out of reach for longer than the lease: the sweeper sends the job again and
    another worker takes the lapsed lease. The first run must not go on beside it."""
    job_id = harness.share()
    real = process_job.run_pipeline

    def another_run_takes_over(*args: Any, **kwargs: Any) -> Any:
        harness.ctx.redis.set(lease_key(job_id), "another-run", px=60_000)
        time.sleep(harness.ctx.settings.lease_ttl_s)  # this run's next renewal finds it
        return real(*args, **kwargs)

    monkeypatch.setattr(process_job, "run_pipeline", another_run_takes_over)
    harness.run(Message(PROCESS_TASK, [job_id, 1]))

    assert harness.results == []  # no outcome from the run that lost its lease
    job = harness.store.get(job_id)
    assert job is not None and job.state is State.RUNNING  # the other run's to end
    assert harness.ctx.redis.get(lease_key(job_id)) == "another-run"


def test_a_lease_that_lapsed_while_redis_was_away_is_taken_again(harness: Harness) -> None:
    lease = JobLease(harness.ctx.redis, "LAPSED", ttl_s=0.3)
    assert lease.acquire()
    try:
        harness.ctx.redis.delete(lease.key)  # expired while Redis could not be reached
        wait_until(lambda: harness.ctx.redis.get(lease.key) == lease.token, timeout_s=2)
        assert lease.held()
    finally:
        lease.release()
