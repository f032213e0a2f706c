"""Split jobs at the task level, on a real Redis: the task functions run by hand in the order a
test chooses (the broker is a list here), so redeliveries, kills, cancels and retries land
exactly where each test wants them. Real worker processes run them in tests/e2e."""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import redis

from docjobs.jobs.control import cancel_job
from docjobs.jobs.model import Job, State
from docjobs.jobs.results import JobResult, record_result
from docjobs.jobs.store import JobStore
from docjobs.settings import Settings
from docjobs.tasks import extract_pdfium
from docjobs.tasks.celery_app import DELIVER_TASK, PROCESS_TASK
from docjobs.tasks.context import WorkerContext
from docjobs.tasks.lease import JobLease
from docjobs.tasks.part_files import part_files
from docjobs.tasks.pipeline import local_job_id, process_local_file
from docjobs.tasks.process_job import run_job
from docjobs.tasks.split import PART_TASK, run_part
from docjobs.tasks.split_plan import SplitPlan
from docjobs.tasks.store import ChunkStore
from tests.support.pdfs import page_words, write_pages_pdf, write_text_pdf

FILE_URL = "https://files.slack.com/files-pri/T1-F1/doc.pdf"
RESULTS_URL = "https://results.test/results"


class RetryLater(Exception):
    """What task.retry() returns for the task code to raise."""


@dataclass
class Message:
    name: str
    args: list[Any]
    retries: int = 0
    countdown: float = 0.0


@dataclass
class Harness:
    """One worker's context, a hand-run broker, and the results service (recording outcomes)."""

    ctx: WorkerContext
    store: JobStore
    pdf: bytes
    queue: list[Message] = field(default_factory=list)
    results: list[JobResult] = field(default_factory=list)
    downloads: int = 0

    def send_task(self, name: str, args: list[Any], countdown: float | None = None) -> None:
        self.queue.append(Message(name, list(args), 0, countdown or 0.0))

    def run(self, message: Message) -> None:
        task = _Task(self, message)
        try:
            if message.name == PROCESS_TASK:
                run_job(task, *message.args, self.ctx)  # type: ignore[arg-type]
            elif message.name == PART_TASK:
                run_part(task, *message.args, self.ctx)  # type: ignore[arg-type]
            else:
                raise AssertionError(f"unexpected task {message.name}")
        except RetryLater:
            pass

    def take(self, name: str = PART_TASK) -> list[Message]:
        """Take the queued messages of one kind off the queue."""
        taken = [m for m in self.queue if m.name == name]
        self.queue = [m for m in self.queue if m.name != name]
        return taken

    def drain(self) -> None:
        while self.queue:
            self.run(self.queue.pop(0))

    def share(self, file_id: str = "F1") -> str:
        job = Job(
            id="", channel="C1", thread_ts="1.0", file_id=file_id, file_name="doc.pdf", user="U1"
        )
        job.url = FILE_URL
        _created, job_id = self.store.create(job)
        return job_id

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and str(request.url) == FILE_URL:
            self.downloads += 1
            return httpx.Response(
                200, content=self.pdf, headers={"Content-Type": "application/pdf"}
            )
        if request.method == "POST" and str(request.url) == RESULTS_URL:
            result = JobResult.model_validate_json(request.content)
            self.results.append(result)
            record_result(self.store, result)
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(404)


class _Task:
    """What the task code uses of a bound Celery task."""

    def __init__(self, harness: Harness, message: Message) -> None:
        self.harness, self.message = harness, message
        self.app = SimpleNamespace(send_task=harness.send_task)
        self.request = SimpleNamespace(retries=message.retries, args=message.args)

    def apply_async(self, *, args: list[Any], countdown: float = 0.0) -> None:
        self.harness.queue.append(Message(self.message.name, list(args), 0, countdown))

    def retry(self, *, countdown: float, max_retries: int | None = None) -> RetryLater:
        again = Message(self.message.name, self.message.args, self.message.retries + 1, countdown)
        self.harness.queue.append(again)
        return RetryLater()


def split_settings(tmp_path: Path, redis_url: str) -> Settings:
    """Parts of 10 pages from 20 pages on, small chunks (many seams), fast leases and retries."""
    return Settings(
        _env_file=None,
        redis_url=redis_url,
        data_dir=tmp_path / "data",
        slack_bot_token="xoxb-test",
        results_url=RESULTS_URL,
        split_min_pages=20,
        split_min_pages_pdfium=20,
        split_pages_per_part=10,
        chunk_chars=400,
        chunk_overlap=80,
        lease_ttl_s=1.0,
        cancel_check_interval_s=0.0,
        max_retries=2,
        retry_backoff_base_s=0.01,
    )


def make_harness(settings: Settings, store: JobStore, pdf_path: Path) -> Harness:
    ctx = WorkerContext(settings)
    ctx.store = store
    made = Harness(ctx, store, pdf_path.read_bytes())
    ctx.http = httpx.Client(transport=httpx.MockTransport(made.handle))
    return made


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    return split_settings(tmp_path, redis_url)


@pytest.fixture
def pdf_path(tmp_path: Path) -> Path:
    return write_pages_pdf(tmp_path / "doc.pdf", 45, words_per_page=120)


@pytest.fixture
def harness(settings: Settings, store: JobStore, pdf_path: Path) -> Harness:
    return make_harness(settings, store, pdf_path)


def start(harness: Harness) -> tuple[str, list[Message]]:
    """Share the PDF and run the job's own task: it splits the job; returns its part messages."""
    job_id = harness.share()
    harness.run(Message(PROCESS_TASK, [job_id, 1]))
    return job_id, harness.take()


def cancel_while_storing(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job is cancelled just after its chunks are written, before its outcome is sent."""
    real_write = harness.ctx.chunks.write

    def cancelled_meanwhile(job: str, rows: Any) -> int:
        written = real_write(job, rows)
        assert cancel_job(harness.store, job, by="U1").verdict == "done"
        return written

    monkeypatch.setattr(harness.ctx.chunks, "write", cancelled_meanwhile)


def plan_keys(client: redis.Redis, job_id: str) -> list[str]:
    return sorted(str(k) for k in client.scan_iter(f"docjobs:parts:{job_id}:*"))


def unsplit(pdf_path: Path, settings: Settings, tmp_path: Path) -> tuple[Any, list[Any]]:
    store = ChunkStore(tmp_path / "unsplit.sqlite3")
    outcome = process_local_file(pdf_path, settings=settings, store=store)
    return outcome, [stored.chunk for stored in store.load(local_job_id(pdf_path))]


def test_parts_joined_in_any_order_give_the_unsplit_outcome(
    harness: Harness, settings: Settings, pdf_path: Path, tmp_path: Path
) -> None:
    job_id, parts = start(harness)
    assert [m.args[2:] for m in parts] == [[i, 9 * i + 1, 9 * i + 9] for i in range(5)]
    for message in reversed(parts):  # the first part is the last in: order must not matter
        harness.run(message)
    assert len(harness.results) == 1
    result = harness.results[0]
    outcome, chunks = unsplit(pdf_path, settings, tmp_path)
    assert result.status == "succeeded"
    assert (result.pages, result.words, result.chunks) == (45, outcome.words, outcome.chunks)
    stored = harness.ctx.chunks.load(job_id)
    assert [s.chunk for s in stored] == chunks  # same texts, same page tags, in page order
    vectors = harness.ctx.embedder.embed([c.text for c in chunks])
    assert [s.vector for s in stored] == [array("f", v).tolist() for v in vectors]
    job = harness.store.get(job_id)
    assert job is not None and job.state is State.SUCCEEDED and job.percent == 100
    assert plan_keys(harness.ctx.redis, job_id) == [f"docjobs:parts:{job_id}:1:joined"]
    assert harness.downloads == 1  # one process here: the file was fetched once


def test_parts_take_the_jobs_stream_check_of_the_same_bytes(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's task inflates every stream of the file to check it for pdfium (12-18 ms per
    MB); processes reading its parts take that verdict for the same bytes, and check other
    bytes themselves."""
    checked: list[Path] = []
    real = extract_pdfium.unsafe_for_pdfium

    def counting(path: Path, **limits: int) -> str | None:
        checked.append(path)
        return real(path, **limits)

    monkeypatch.setattr(extract_pdfium, "unsafe_for_pdfium", counting)
    job_id, parts = start(harness)
    assert len(checked) == 1
    for message in parts[:-1]:
        part_files.clear()  # as if each part ran in a process of its own: a download of its own
        harness.run(message)
    assert harness.downloads == len(parts) and len(checked) == 1

    plan = SplitPlan(harness.ctx.redis, job_id, 1)
    plan.client.hset(plan.key, "pdfium_checked", "0" * 64)  # the digest of other bytes
    part_files.clear()
    harness.run(parts[-1])
    assert len(checked) == 2
    assert len(harness.results) == 1 and harness.results[0].status == "succeeded"


def test_redelivered_parts_count_once_and_one_joiner_sends_one_outcome(harness: Harness) -> None:
    job_id, parts = start(harness)
    plan = SplitPlan(harness.ctx.redis, job_id, 1)
    for message in parts[:-1]:
        harness.run(message)
        harness.run(message)  # Redis redelivered it: stored once, counted once
    assert plan.done() == 4 and not harness.results
    harness.run(parts[-1])
    harness.run(parts[-1])  # after the join: nothing more happens
    harness.run(parts[0])
    harness.run(Message(PROCESS_TASK, [job_id, 1]))  # the sweeper sent the job again
    assert not harness.queue
    assert len(harness.results) == 1 and harness.results[0].status == "succeeded"


def test_a_killed_joiner_is_replaced_by_a_redelivered_part(harness: Harness) -> None:
    job_id, parts = start(harness)
    for message in parts[:-1]:
        harness.run(message)
    dead = JobLease(harness.ctx.redis, f"{job_id}:1:join", ttl_s=1.0)
    assert dead.client.set(dead.key, "a joiner that was killed", px=dead.ttl_ms)
    harness.run(parts[-1])  # completes the plan, finds the join taken: looks again later
    assert not harness.results
    [again] = harness.queue
    assert again.countdown >= 0.5
    time.sleep(1.1)  # the dead joiner's lease lapses
    harness.drain()
    assert len(harness.results) == 1 and harness.results[0].status == "succeeded"
    assert harness.ctx.chunks.count(job_id) == harness.results[0].chunks


def test_a_part_running_elsewhere_is_checked_again_later(harness: Harness) -> None:
    job_id, parts = start(harness)
    other = JobLease(harness.ctx.redis, f"{job_id}:1:part:2", ttl_s=1.0)
    assert other.client.set(other.key, "a live process", px=other.ttl_ms)
    harness.run(parts[2])
    [again] = harness.queue
    assert again.args == parts[2].args and again.countdown >= 0.5
    assert 2 not in SplitPlan(harness.ctx.redis, job_id, 1).stored()


def test_resending_the_job_resends_only_parts_neither_in_nor_running(harness: Harness) -> None:
    job_id, parts = start(harness)
    harness.run(parts[0])
    running = JobLease(harness.ctx.redis, f"{job_id}:1:part:1", ttl_s=5.0)
    assert running.acquire()
    harness.run(Message(PROCESS_TASK, [job_id, 1]))
    running.release()
    assert [m.args[2] for m in harness.take()] == [2, 3, 4]
    job = harness.store.get(job_id)
    assert job is not None and job.state is State.RUNNING  # not restarted: percent kept


def test_a_small_pdf_is_not_split(harness: Harness, tmp_path: Path) -> None:
    harness.pdf = write_pages_pdf(tmp_path / "small.pdf", 20, words_per_page=30).read_bytes()
    job_id = harness.share()
    harness.run(Message(PROCESS_TASK, [job_id, 1]))
    assert not harness.queue and plan_keys(harness.ctx.redis, job_id) == []
    assert [(r.status, r.pages) for r in harness.results] == [("succeeded", 20)]


@pytest.mark.parametrize(
    ("engine", "whole", "split"),
    [
        # One long PDF among short ones must not keep one process busy while the other waits:
        # with pypdf a 117-page corpus file is six seconds of work.
        ("pypdf", 100, 101),
        # pdfium reads 117 pages in ~0.15 s: a split would cost more than it saves.
        ("auto", 300, 301),
    ],
)
def test_by_default_a_long_pdf_is_read_by_two_processes(
    settings: Settings, store: JobStore, tmp_path: Path, engine: str, whole: int, split: int
) -> None:
    defaults = Settings(_env_file=None)
    settings.extract_engine = engine
    settings.split_min_pages = defaults.split_min_pages
    settings.split_min_pages_pdfium = defaults.split_min_pages_pdfium
    settings.split_pages_per_part = defaults.split_pages_per_part
    for pages in (whole, split):
        harness = make_harness(settings, store, write_pages_pdf(tmp_path / "doc.pdf", pages))
        harness.run(Message(PROCESS_TASK, [harness.share(file_id=f"F{pages}"), 1]))
        parts = harness.take()
        ranges = [m.args[3:] for m in parts]
        if pages == whole:
            assert ranges == []
        else:  # two or more parts, in page order, end to end
            assert len(ranges) >= 2 and ranges[0][0] == 1 and ranges[-1][1] == pages
            assert all(a[1] + 1 == b[0] for a, b in pairwise(ranges))
        harness.queue.extend(parts)
        harness.drain()
        assert [(r.status, r.pages) for r in harness.results] == [("succeeded", pages)]


def test_parts_report_one_rising_percent(harness: Harness) -> None:
    job_id, parts = start(harness)
    seen: list[int] = []
    real = harness.store.transition

    def spy(job: str, to: State, **kwargs: Any) -> bool:
        fields = kwargs.get("fields") or {}
        if to is State.RUNNING and "percent" in fields:
            seen.append(int(fields["percent"]))  # type: ignore[call-overload]
        return real(job, to, **kwargs)

    harness.store.transition = spy  # type: ignore[method-assign]
    for message in parts[::-1]:
        harness.run(message)
    assert seen == sorted(seen) and seen[0] >= 10 and seen[-1] >= 95
    assert DELIVER_TASK not in [m.name for m in harness.queue]


def test_a_split_pdf_ending_in_blank_pages_gives_the_unsplit_outcome(
    harness: Harness, settings: Settings, tmp_path: Path
) -> None:
    """The last part has no words at all: the part with the last words is not the last."""
    texts = [" ".join(page_words(n, 120)) + "." for n in range(1, 37)] + [""] * 9
    path = write_text_pdf(tmp_path / "blank-end.pdf", texts)
    harness.pdf = path.read_bytes()
    job_id, parts = start(harness)
    for message in parts:
        harness.run(message)
    [result] = harness.results
    outcome, chunks = unsplit(path, settings, tmp_path)
    assert (result.status, result.pages, result.chunks) == ("succeeded", 45, outcome.chunks)
    assert [s.chunk for s in harness.ctx.chunks.load(job_id)] == chunks
