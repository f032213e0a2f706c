"""Split jobs that do not simply succeed, at the task level on a real Redis: cancelled, run
again as a new attempt, failed by one part for good or for a while, out of time."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from docjobs.jobs.control import cancel_job, retry_job
from docjobs.jobs.errors import CorruptPdf, DownloadFailed
from docjobs.jobs.model import State
from docjobs.jobs.store import CELERY_QUEUE, JobStore, lease_key
from docjobs.settings import Settings
from docjobs.tasks import split as split_module
from docjobs.tasks.celery_app import PROCESS_TASK
from docjobs.tasks.split_plan import SplitPlan
from tests.support.pdfs import write_pages_pdf
from tests.tasks.test_split_jobs import (
    Harness,
    Message,
    cancel_while_storing,
    make_harness,
    plan_keys,
    split_settings,
    start,
)


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    return split_settings(tmp_path, redis_url)


@pytest.fixture
def harness(settings: Settings, store: JobStore, tmp_path: Path) -> Harness:
    pdf = write_pages_pdf(tmp_path / "doc.pdf", 45, words_per_page=120)
    return make_harness(settings, store, pdf)


def test_cancel_stops_the_parts_and_leaves_nothing(harness: Harness) -> None:
    job_id, parts = start(harness)
    harness.run(parts[0])
    harness.run(parts[1])
    assert cancel_job(harness.store, job_id, by="U1").verdict == "done"
    for message in parts[2:]:
        harness.run(message)
    assert not harness.results and not harness.queue
    assert plan_keys(harness.ctx.redis, job_id) == []
    assert harness.ctx.chunks.count(job_id) == 0
    job = harness.store.get(job_id)
    assert job is not None and job.state is State.CANCELLED


def test_cancel_between_pages_of_a_running_part(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, parts = start(harness)
    real = split_module.extract_pages

    def cancelled_midway(*args: Any, **kwargs: Any) -> Any:
        on_page = kwargs["on_page"]

        def cancel_at_page_3(done: int, total: int) -> None:
            on_page(done, total)
            if done == 3:
                cancel_job(harness.store, job_id, by="U1")

        return real(*args, **{**kwargs, "on_page": cancel_at_page_3})

    monkeypatch.setattr(split_module, "extract_pages", cancelled_midway)
    harness.run(parts[0])
    assert not harness.results
    assert plan_keys(harness.ctx.redis, job_id) == []
    monkeypatch.setattr(split_module, "extract_pages", real)
    for message in parts[1:]:
        harness.run(message)
    assert not harness.results and harness.ctx.chunks.count(job_id) == 0


def test_a_retried_job_runs_a_new_plan_and_old_parts_stand_down(harness: Harness) -> None:
    job_id, old_parts = start(harness)
    harness.run(old_parts[0])
    cancel_job(harness.store, job_id, by="U1")
    assert retry_job(harness.store, job_id, by="U1").verdict == "done"
    harness.run(Message(PROCESS_TASK, [job_id, 2]))
    new_parts = harness.take()
    assert [m.args[1] for m in new_parts] == [2] * 5
    for old, new in zip(old_parts[1:], new_parts, strict=False):
        harness.run(old)  # attempt 1's messages: stand down, touch nothing of attempt 2
        harness.run(new)
    harness.run(new_parts[-1])
    assert [(r.attempt, r.status) for r in harness.results] == [(2, "succeeded")]
    assert plan_keys(harness.ctx.redis, job_id) == [f"docjobs:parts:{job_id}:2:joined"]
    assert harness.ctx.chunks.count(job_id) == harness.results[0].chunks


def test_a_permanent_failure_in_one_part_fails_the_job_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, parts = start(harness)
    real = split_module.extract_pages

    def page_19_is_damaged(*args: Any, **kwargs: Any) -> Any:
        if kwargs["first_page"] <= 19 <= kwargs["last_page"]:
            raise CorruptPdf("page 19 has a broken cross-reference.")
        return real(*args, **kwargs)

    monkeypatch.setattr(split_module, "extract_pages", page_19_is_damaged)
    harness.run(parts[0])
    harness.run(parts[1])  # pages 10-18
    harness.run(parts[2])  # pages 19-27: fails the job
    for message in parts[3:] + parts[2:3]:  # the rest, and a redelivery of the failed one
        harness.run(message)
    assert [(r.status, r.reason_code) for r in harness.results] == [("failed", "corrupt")]
    assert not harness.results[0].dead_lettered
    job = harness.store.get(job_id)
    assert job is not None and job.state is State.FAILED and "cross-reference" in job.reason
    assert plan_keys(harness.ctx.redis, job_id) == []
    assert harness.ctx.chunks.count(job_id) == 0


def test_a_transient_failure_retries_the_part_only(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, parts = start(harness)
    real = split_module.extract_pages
    failures = {"left": 1}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if kwargs["first_page"] == 28 and failures["left"]:
            failures["left"] -= 1
            raise DownloadFailed("Slack answered HTTP 503.")
        return real(*args, **kwargs)

    monkeypatch.setattr(split_module, "extract_pages", flaky)
    harness.run(parts[3])
    [retry] = harness.queue
    assert retry.args == parts[3].args and retry.retries == 1
    job = harness.store.get(job_id)
    assert job is not None and job.state is State.RETRYING  # shown while it waits
    for message in parts[:3] + parts[4:]:
        harness.run(message)  # the other parts carry on meanwhile
    assert not harness.results
    harness.drain()
    assert [(r.status, r.retries) for r in harness.results] == [("succeeded", 1)]


def test_a_part_that_outlives_its_retries_dead_letters_the_job(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, parts = start(harness)

    def always_down(*args: Any, **kwargs: Any) -> Any:
        raise DownloadFailed("Slack answered HTTP 503.")

    monkeypatch.setattr(split_module, "extract_pages", always_down)
    harness.run(parts[0])
    harness.drain()  # two retries, then the job fails
    assert [(r.status, r.dead_lettered) for r in harness.results] == [("failed", True)]
    assert harness.store.dead_letter_ids() == [job_id]
    for message in parts[1:]:
        harness.run(message)
    assert len(harness.results) == 1


def test_the_parts_share_one_time_budget(harness: Harness, settings: Settings) -> None:
    """A job may not dodge the time limit by being split: its parts' time adds up."""
    settings.task_soft_time_limit = 60
    job_id, parts = start(harness)
    harness.run(parts[0])
    SplitPlan(harness.ctx.redis, job_id, 1).add_busy(60.0)  # as if the parts had been slow
    for message in parts[1:]:
        harness.run(message)
    assert [(r.status, r.reason_code) for r in harness.results] == [("failed", "too_large")]
    assert "longer than 1 minutes" in harness.results[0].reason
    job = harness.store.get(job_id)
    assert job is not None and job.state is State.FAILED


def test_the_parts_share_one_text_limit(harness: Harness, settings: Settings) -> None:
    """Each part may hold its share of DOCJOBS_MAX_TEXT_CHARS: split or not, a job holds no
    more text than the limit."""
    job_id, parts = start(harness)
    settings.max_text_chars = 2_000  # far less than 45 pages of 120 words
    for message in parts:
        harness.run(message)
    assert [(r.status, r.reason_code) for r in harness.results] == [("failed", "too_large")]
    assert "DOCJOBS_MAX_TEXT_CHARS" in harness.results[0].reason
    assert harness.ctx.chunks.count(job_id) == 0


def test_a_cancel_that_lands_while_the_join_stores_leaves_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, parts = start(harness)
    for message in parts[:-1]:
        harness.run(message)
    cancel_while_storing(harness, monkeypatch)
    harness.run(parts[-1])
    job = harness.store.get(job_id)
    assert job is not None and job.state is State.CANCELLED
    assert harness.ctx.chunks.count(job_id) == 0


def test_the_join_has_retries_of_its_own(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last part used up its retries reading; the join, in that part's message, still
    gets its own when the store is busy once."""
    job_id, parts = start(harness)
    for message in parts[:-1]:
        harness.run(message)
    real_fetch = split_module.fetch_job_file
    fetch_failures = {"left": harness.ctx.settings.max_retries}

    def flaky_fetch(*args: Any, **kwargs: Any) -> Any:
        if fetch_failures["left"]:
            fetch_failures["left"] -= 1
            raise DownloadFailed("Slack answered HTTP 503.")
        return real_fetch(*args, **kwargs)

    real_write = harness.ctx.chunks.write
    writes: list[str] = []

    def busy_once(job: str, rows: Any) -> int:
        writes.append(job)
        if len(writes) == 1:
            raise sqlite3.OperationalError("database is locked")
        return real_write(job, rows)

    monkeypatch.setattr(split_module, "fetch_job_file", flaky_fetch)
    monkeypatch.setattr(harness.ctx.chunks, "write", busy_once)
    harness.run(parts[-1])
    harness.drain()
    assert len(writes) == 2
    assert [r.status for r in harness.results] == ["succeeded"]
    job = harness.store.get(job_id)
    assert job is not None and harness.ctx.chunks.count(job_id) == job.chunks > 0


def test_a_join_that_outlives_its_retries_fails_and_drops_the_plan(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, parts = start(harness)

    def always_busy(job: str, rows: Any) -> int:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(harness.ctx.chunks, "write", always_busy)
    for message in parts:
        harness.run(message)
    harness.drain()
    assert [(r.status, r.dead_lettered) for r in harness.results] == [("failed", True)]
    assert plan_keys(harness.ctx.redis, job_id) == []


def test_a_part_that_stops_its_process_every_time_fails_the_job(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, parts = start(harness)

    def crash(*args: object, **kwargs: object) -> None:
        os._exit(70)

    def one_run_that_dies() -> None:
        monkeypatch.setattr(split_module, "extract_pages", crash)
        harness.run(parts[0])

    fork = multiprocessing.get_context("fork")
    for _ in range(3):
        child = fork.Process(target=one_run_that_dies)
        child.start()
        child.join(timeout=30)
        assert child.exitcode == 70
        harness.ctx.redis.delete(lease_key(split_module.part_lease_name(job_id, 1, 0)))
    harness.run(parts[0])  # the message Celery put back once more
    for message in parts[1:]:
        harness.run(message)

    assert [(r.status, r.reason_code) for r in harness.results] == [("failed", "unsupported")]
    assert plan_keys(harness.ctx.redis, job_id) == []


def test_parts_waiting_behind_a_backlog_are_not_sent_again(harness: Harness) -> None:
    """The sweeper resends a split job whose parts have waited a minute in the broker's
    queue: while messages wait there, the job's task sends no copies of its parts; once the
    queue is empty, the parts still missing are lost, and are sent again."""
    job_id, parts = start(harness)
    harness.run(parts[0])
    client = harness.ctx.redis
    client.lpush(CELERY_QUEUE, "another job's message")
    try:
        harness.run(Message(PROCESS_TASK, [job_id, 1]))  # the sweeper's resend
        assert harness.queue == []
    finally:
        client.delete(CELERY_QUEUE)
    harness.run(Message(PROCESS_TASK, [job_id, 1]))
    assert sorted(m.args[2] for m in harness.take()) == [p.args[2] for p in parts[1:]]
