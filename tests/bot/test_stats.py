"""`/jobs stats` against a real Redis: the counts people read are right after every kind of
move (retries, cancels, late and stale outcomes), agree with counting every job by hand, and
cost the same few Redis commands however many jobs there are."""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import replace

import pytest
import redis

from docjobs.bot.command_views import Stats
from docjobs.bot.stats import collect_stats
from docjobs.jobs.control import cancel_job, retry_job
from docjobs.jobs.model import ACTIVE_STATES, LEGAL_MOVES, Job, State
from docjobs.jobs.results import JobResult, record_result
from docjobs.jobs.store import ACTIVE_SET, JobStore, active_state_key


def share(store: JobStore, n: int) -> str:
    job = Job(
        id="", channel="C1", thread_ts=f"{n}.0", file_id=f"F{n}", file_name=f"{n}.pdf", user="U1"
    )
    return store.create(job)[1]


def succeed(store: JobStore, job_id: str, *, attempt: int = 1, pages: int, seconds: float) -> None:
    store.transition(job_id, State.RUNNING, attempt=attempt)
    result = JobResult(
        job_id=job_id, attempt=attempt, status="succeeded", pages=pages, seconds=seconds
    )
    assert record_result(store, result).value == "recorded"


def fail(store: JobStore, job_id: str, *, attempt: int = 1, dead: bool = False) -> None:
    result = JobResult(
        job_id=job_id, attempt=attempt, status="failed", reason="Broken.", dead_lettered=dead
    )
    assert record_result(store, result).value == "recorded"


def stats_by_loading_every_job(store: JobStore) -> Stats:
    """What `/jobs stats` computed before it kept counts: every active and recently succeeded
    job loaded and looked at. Workers are left out (they are counted elsewhere)."""
    hour_ago = time.time() - 3600
    active = store.get_many(store.active_ids())
    succeeded = store.get_many(store.finished_since(State.SUCCEEDED, hour_ago))
    per_page = [job.seconds / job.pages for job in succeeded if job.pages and job.seconds]
    return Stats(
        queue_depth=int(store.client.llen("celery")),
        running=sum(1 for job in active if job.state is State.RUNNING),
        queued=sum(1 for job in active if job.state in (State.QUEUED, State.RETRYING)),
        workers=0,
        succeeded_last_hour=len(succeeded),
        failed_last_hour=len(store.finished_since(State.FAILED, hour_ago)),
        dead_letters=len(store.dead_letter_ids()),
        median_s_per_page=statistics.median(per_page) if per_page else None,
    )


def counted(store: JobStore) -> Stats:
    return replace(collect_stats(store), workers=0)


def test_counts_follow_creates_runs_retries_and_cancels(store: JobStore) -> None:
    ids = [share(store, n) for n in range(8)]
    stats = counted(store)
    assert (stats.queued, stats.running, stats.succeeded_last_hour) == (8, 0, 0)
    assert stats.median_s_per_page is None

    store.transition(ids[0], State.RUNNING, attempt=1, fields={"step": "extracting"})
    store.transition(ids[0], State.RUNNING, attempt=1, fields={"percent": 40})  # progress
    store.transition(ids[1], State.RUNNING, attempt=1)
    store.transition(ids[1], State.RETRYING, attempt=1)  # a transient error, waiting to retry
    succeed(store, ids[2], pages=4, seconds=2.0)
    succeed(store, ids[3], pages=10, seconds=1.0)
    fail(store, ids[4])
    assert cancel_job(store, ids[5], by="U1").job.state is State.CANCELLED  # type: ignore[union-attr]
    store.transition(ids[6], State.RUNNING, attempt=1)
    cancel_job(store, ids[6], by="U1")  # cancelled while running
    fail(store, ids[7], dead=True)  # gave up after automatic retries

    stats = counted(store)
    assert stats == Stats(
        queue_depth=0,
        running=1,
        queued=1,  # the retrying one; the cancelled queued job left the count
        workers=0,
        succeeded_last_hour=2,
        failed_last_hour=2,
        dead_letters=1,
        median_s_per_page=pytest.approx(0.3),  # median of 0.5 and 0.1
    )
    assert stats == stats_by_loading_every_job(store)

    # Retrying the failed and the cancelled job queues them again, once each; the failure
    # still counts in the last hour, as it did happen.
    assert retry_job(store, ids[4], by="U1").job.attempt == 2  # type: ignore[union-attr]
    retry_job(store, ids[5], by="U1")
    retry_job(store, ids[7], by="U1")
    stats = counted(store)
    assert (stats.queued, stats.running, stats.failed_last_hour, stats.dead_letters) == (4, 1, 2, 0)
    assert stats == stats_by_loading_every_job(store)

    # The retried job succeeds on its second attempt; a late outcome of the first changes nothing.
    succeed(store, ids[4], attempt=2, pages=2, seconds=3.0)
    stale = JobResult(job_id=ids[4], attempt=1, status="failed", reason="late")
    assert record_result(store, stale).value == "stale"
    stats = counted(store)
    assert (stats.queued, stats.running, stats.succeeded_last_hour) == (3, 1, 3)
    assert stats.median_s_per_page == pytest.approx(0.5)  # 0.1, 0.5, 1.5
    assert stats == stats_by_loading_every_job(store)


def test_counts_agree_with_loading_every_job_after_random_moves(store: JobStore) -> None:
    """Legal and illegal moves, stale attempts, retries and cancels in any order: the kept
    counts never drift from what the job records say."""
    rng = random.Random(7)
    ids = [share(store, n) for n in range(40)]
    for step in range(400):
        job_id = rng.choice(ids)
        job = store.get(job_id)
        assert job is not None
        roll = rng.random()
        if roll < 0.1:
            cancel_job(store, job_id, by="U1")
        elif roll < 0.2:
            retry_job(store, job_id, by="U1")
        elif roll < 0.3 and job.state is State.RUNNING:
            succeed(store, job_id, attempt=job.attempt, pages=rng.randint(0, 9), seconds=1.5)
        else:
            to = rng.choice(list(State))
            attempt = job.attempt if rng.random() < 0.9 else job.attempt - 1  # some stale
            fields = {"pages": rng.randint(1, 5), "seconds": rng.random()}
            moved = store.transition(job_id, to, attempt=attempt, fields=fields)
            assert moved == (job.state in LEGAL_MOVES[to] and attempt == job.attempt)
            if moved and to is State.FAILED and rng.random() < 0.3:
                store.dead_letter(job_id)
        if step % 25 == 0:
            assert counted(store) == stats_by_loading_every_job(store), step
    assert counted(store) == stats_by_loading_every_job(store)
    for state in ACTIVE_STATES:
        members = store.client.smembers(active_state_key(state))
        assert members == {j.id for j in store.get_many(ids) if j.state is state}


def test_a_store_written_before_the_per_state_sets_is_indexed_at_start_up(
    store: JobStore, redis_client: redis.Redis
) -> None:
    ids = [share(store, n) for n in range(5)]
    store.transition(ids[0], State.RUNNING, attempt=1)
    store.transition(ids[1], State.RUNNING, attempt=1)
    store.transition(ids[1], State.RETRYING, attempt=1)
    fail(store, ids[2])
    redis_client.delete(*(active_state_key(s) for s in ACTIVE_STATES))
    redis_client.sadd(active_state_key(State.RUNNING), ids[3])  # and a stray entry
    store.index_active_states()
    stats = counted(store)
    assert (stats.running, stats.queued) == (1, 3)
    assert stats == stats_by_loading_every_job(store)
    assert redis_client.scard(ACTIVE_SET) == 4


def test_stats_cost_the_same_redis_commands_with_5_jobs_or_300(
    store: JobStore, redis_client: redis.Redis
) -> None:
    def commands_for_stats() -> int:
        before = int(redis_client.info("stats")["total_commands_processed"])
        collect_stats(store)
        return int(redis_client.info("stats")["total_commands_processed"]) - before

    for n in range(5):
        succeed(store, share(store, n), pages=3, seconds=1.0)
    commands_for_stats()  # the first may open a connection
    few = commands_for_stats()
    for n in range(5, 300):
        job_id = share(store, n)
        if n % 3 == 0:
            succeed(store, job_id, pages=3, seconds=1.0)
    assert commands_for_stats() == few
    assert counted(store) == stats_by_loading_every_job(store)
