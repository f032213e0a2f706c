"""Big PDFs split into page ranges across real prefork worker processes, through the sandbox,
real Redis, the web service and the reporter: one outcome, the same as one pass would give,
a percent that only rises, and a part process killed or a cancel along the way."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docjobs.embedded_redis import EmbeddedRedis
from docjobs.jobs.connection import connect
from docjobs.jobs.control import cancel_job
from docjobs.jobs.store import JobStore
from docjobs.settings import Settings
from docjobs.tasks.part_files import shared_root
from docjobs.tasks.pipeline import local_job_id, process_local_file
from docjobs.tasks.store import ChunkStore
from tests.support.pdfs import write_long_pdf, write_pages_pdf
from tests.support.servers import wait_until
from tests.support.stack import OUTCOME_PREFIXES, Stack, bot_replies, running_stack

SPLIT = {
    "DOCJOBS_SPLIT_MIN_PAGES": "50",
    "DOCJOBS_SPLIT_MIN_PAGES_PDFIUM": "50",
    "DOCJOBS_SPLIT_PAGES_PER_PART": "20",
    "DOCJOBS_PROGRESS_EDIT_INTERVAL_S": "1",
    # Recovery in seconds, as in tests/faults: leases, the sweeper, the reporter's claims.
    "DOCJOBS_LEASE_TTL_S": "3",
    "DOCJOBS_ORPHAN_AFTER_S": "3",
    "DOCJOBS_SWEEP_INTERVAL_S": "1",
    "DOCJOBS_REPORTER_CLAIM_AFTER_S": "3",
}


@pytest.fixture(scope="module")
def split_stack(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Two pool processes; PDFs of more than 50 pages go in parts of up to 20."""
    url = redis_server.url.rsplit("/", 1)[0] + "/2"  # a database of its own
    data_dir = tmp_path_factory.mktemp("split-stack")
    with running_stack(url, data_dir, worker_concurrency=2, extra_env=SPLIT) as stack:
        yield stack


def job_id_of(stack: Stack, shared: dict[str, Any]) -> str:
    def find() -> str | None:
        for message in bot_replies(stack.thread(shared["channel"], shared["ts"])):
            match = re.search(r"job `(\w{6})`", message.get("text", ""))
            if match:
                return match.group(1)
        return None

    return str(wait_until(find, timeout_s=10))


def watch_percent(stack: Stack, job_id: str, *, timeout_s: float = 60) -> list[int]:
    """The job's percent as the status API shows it, every 50 ms until the job is over."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = stack.job(job_id)
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return seen
        if job["state"] == "running":
            seen.append(int(job["percent"]))
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {stack.job(job_id)['state']} after {timeout_s}s")


def outcomes(stack: Stack, shared: dict[str, Any]) -> list[str]:
    thread = stack.thread(shared["channel"], shared["ts"])
    return [m["text"] for m in bot_replies(thread) if m["text"].startswith(OUTCOME_PREFIXES)]


def one_outcome(stack: Stack, shared: dict[str, Any]) -> str:
    stack.wait_for_outcome(shared["channel"], shared["ts"], timeout_s=90)
    time.sleep(1.0)  # a second outcome would arrive right behind the first
    found = outcomes(stack, shared)
    assert len(found) == 1, found
    return found[0]


def part_pids(stack: Stack, job_id: str) -> set[int]:
    """The pool processes that stored a part of the job, from the worker's log."""
    pids = set()
    for line in stack.log("worker").splitlines():
        if line.startswith("{") and f"job {job_id} attempt 1: part " in line:
            pids.add(int(json.loads(line)["pid"]))
    return pids


def test_a_split_job_ends_as_one_pass_would_end_it(split_stack: Stack, tmp_path: Path) -> None:
    path = write_pages_pdf(tmp_path / "report.pdf", 120, words_per_page=150)
    shared = split_stack.share(path.read_bytes(), filename="report.pdf")
    job_id = job_id_of(split_stack, shared)
    percents = watch_percent(split_stack, job_id)
    outcome = one_outcome(split_stack, shared)
    assert outcome.startswith(":white_check_mark: Done: *report.pdf* — 120 pages"), outcome
    assert percents == sorted(percents), percents

    local_store = ChunkStore(tmp_path / "local.sqlite3")
    local = process_local_file(path, settings=Settings(_env_file=None), store=local_store)
    status = split_stack.job(job_id)
    assert (status["pages"], status["words"], status["chunks"]) == (
        local.pages,
        local.words,
        local.chunks,
    )
    stored = ChunkStore(split_stack.data_dir / "docjobs.sqlite3").load(job_id)
    expected = [s.chunk for s in local_store.load(local_job_id(path))]
    assert [s.chunk for s in stored] == expected  # same text and page tags, in page order
    starts = [s.chunk.start_page for s in stored]
    assert starts == sorted(starts) and starts[0] == 1 and stored[-1].chunk.end_page == 120
    assert len(part_pids(split_stack, job_id)) == 2  # both pool processes read parts of it
    # ... from one download: the second process links the first one's copy.
    downloads = split_stack.calls(method="files.download")["calls"]
    assert [d["file"] for d in downloads].count(shared["file_id"]) == 1

    edits = [
        int(m.group(1))
        for change in split_stack.thread(shared["channel"], shared["ts"])["history"]
        if change["kind"] == "edited"
        and (m := re.search(r"\((\d+)%\)", str(change.get("text") or "")))
    ]
    assert edits == sorted(edits), edits


def test_a_part_process_killed_mid_job_still_gives_one_good_outcome(
    split_stack: Stack, tmp_path: Path
) -> None:
    path = write_long_pdf(tmp_path / "long.pdf", 800, words_per_page=1000)
    shared = split_stack.share(path.read_bytes(), filename="long.pdf")
    job_id = job_id_of(split_stack, shared)
    wait_until(lambda: split_stack.job(job_id)["percent"] >= 25, timeout_s=60, interval_s=0.02)
    busy = split_stack.busiest_pool_process()
    os.kill(busy, signal.SIGKILL)
    wait_until(lambda: busy not in split_stack.worker_children(), timeout_s=10)
    outcome = one_outcome(split_stack, shared)
    assert outcome.startswith(":white_check_mark: Done: *long.pdf* — 800 pages"), outcome
    status = split_stack.job(job_id)
    stored = ChunkStore(split_stack.data_dir / "docjobs.sqlite3").load(job_id)
    assert len(stored) == status["chunks"]
    assert [s.chunk.index for s in stored] == list(range(len(stored)))
    assert split_stack.children["worker"].poll() is None  # the worker itself lives on
    # The killed process left its download behind; the one started in its place removed it.
    # (A live process's copy stays until it needs the room or stops, as before.)
    root = shared_root()
    assert root is not None
    left = [d.name for d in root.iterdir() if d.name.startswith(f"{job_id}-1-")]
    assert not [name for name in left if name.split("-")[3] == str(busy)], left


def test_a_cancelled_split_job_ends_cancelled_with_nothing_left(
    split_stack: Stack, tmp_path: Path
) -> None:
    path = write_long_pdf(tmp_path / "long.pdf", 800, words_per_page=1000)
    shared = split_stack.share(path.read_bytes(), filename="long.pdf")
    job_id = job_id_of(split_stack, shared)
    wait_until(lambda: split_stack.job(job_id)["percent"] >= 15, timeout_s=60, interval_s=0.02)
    client = connect(split_stack.redis_url)
    assert cancel_job(JobStore(client), job_id, by="U0ALICE").verdict == "done"
    outcome = one_outcome(split_stack, shared)
    assert outcome.startswith(":no_entry_sign: Job"), outcome
    store = ChunkStore(split_stack.data_dir / "docjobs.sqlite3")

    def cleaned_up() -> bool:
        return not list(client.scan_iter(f"docjobs:parts:{job_id}:*")) and not store.count(job_id)

    wait_until(cleaned_up, timeout_s=10)
    assert split_stack.job(job_id)["state"] == "cancelled"
    client.close()
