"""`/jobs` typed in a channel, through the sandbox over real HTTP to the real web service,
worker and reporter: what the caller sees (privately, within Slack's 3 s) and what the job's
thread shows afterwards.

One worker process on its own Redis database, so a long job in front keeps the next one queued,
and the stats count only this module's jobs."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from docjobs.embedded_redis import EmbeddedRedis
from docjobs.jobs.connection import connect
from docjobs.jobs.control import cancel_job
from docjobs.jobs.store import JobStore
from docjobs.tasks.store import ChunkStore
from tests.e2e.test_intake_and_failures import jobs_in
from tests.support.pdfs import write_long_pdf, write_pages_pdf
from tests.support.servers import wait_until
from tests.support.stack import Stack, bot_replies, new_channel, running_stack

ALICE, BOB = "U0ALICE", "U0BOB"
LONG_PAGES = 1500  # pypdf needs ~10 s for these: far longer than any step below
CANCELLED_BY_ALICE = f"was cancelled by <@{ALICE}>."


@pytest.fixture(scope="module")
def one_worker(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One worker process that reads a big PDF alone (not split into parts for others), so
    the job behind it waits; a transient failure is retried once, then dead-lettered."""
    url = redis_server.url.rsplit("/", 1)[0] + "/1"
    env = {
        "DOCJOBS_MAX_RETRIES": "1",
        "DOCJOBS_SPLIT_MIN_PAGES": "0",
        "DOCJOBS_EXTRACT_ENGINE": "pypdf",  # LONG_PAGES take it ~10 s (~3x the default engine)
    }
    data_dir = tmp_path_factory.mktemp("one-worker")
    with running_stack(url, data_dir, worker_concurrency=1, extra_env=env) as stack:
        yield stack


@pytest.fixture(autouse=True)
def nothing_left_running(one_worker: Stack) -> Iterator[None]:
    """A test that fails half-way must not leave the one worker busy for the next."""
    yield
    client = connect(one_worker.redis_url)
    try:
        store = JobStore(client)
        for job_id in store.active_ids():
            cancel_job(store, job_id, by="U0CLEANUP")
    finally:
        client.close()


# --- what a person does and sees -------------------------------------------------------------


def run_command(stack: Stack, text: str, *, user: str, channel: str) -> str:
    """Type `/jobs text`; the private answer the user sees, checked to be in time."""
    shown_before = len(stack.ephemerals(user=user, channel=channel))
    body = {"channel": channel, "user": user, "command": "/jobs", "text": text}
    reply = stack.http.post(f"{stack.sandbox_url}/control/command", json=body).json()
    assert reply["status"] == 200 and not reply["timed_out"], reply
    assert reply["elapsed_ms"] < 3000, reply
    assert reply["json"]["response_type"] == "ephemeral", reply
    shown = stack.ephemerals(user=user, channel=channel)[shown_before:]
    assert [e["source"] for e in shown] != ["slack_error"], shown
    assert len(shown) == 1, shown
    text_shown = str(shown[0]["text"])
    assert "Traceback" not in text_shown and "went wrong" not in text_shown, text_shown
    return text_shown


def progress_message(stack: Stack, shared: dict[str, Any], attempt: int = 1) -> dict | None:
    """The job's progress message for `attempt` in the file's thread, once posted."""
    for message in bot_replies(stack.thread(shared["channel"], shared["ts"])):
        meta = message.get("metadata") or {}
        payload = meta.get("event_payload") or {}
        if meta.get("event_type") == "docjobs_progress" and payload.get("attempt") == attempt:
            return message
    return None


def job_id_of(stack: Stack, shared: dict[str, Any]) -> str:
    message = wait_until(lambda: progress_message(stack, shared), timeout_s=5)
    return re.search(r"job `(\w{6})`", message["text"]).group(1)  # type: ignore[union-attr]


def outcome_texts(stack: Stack, shared: dict[str, Any]) -> list[str]:
    replies = bot_replies(stack.thread(shared["channel"], shared["ts"]))
    return [
        m["text"]
        for m in replies
        if (m.get("metadata") or {}).get("event_type") == ("docjobs_outcome")
    ]


def progress_text(stack: Stack, shared: dict[str, Any]) -> str:
    return str((progress_message(stack, shared) or {}).get("text", ""))


def wait_for_state(stack: Stack, job_id: str, state: str, *, timeout_s: float = 20) -> dict:
    return wait_until(
        lambda: (job := stack.job(job_id))["state"] == state and job, timeout_s=timeout_s
    )


def progress_edits_after(history: list[dict], marker: str) -> list[str]:
    """Progress edits (":gear:" …) made after the first visible change containing `marker`."""
    texts = [str(change.get("text") or "") for change in history]
    first = next(i for i, text in enumerate(texts) if marker in text)
    return [
        text
        for change, text in zip(history[first:], texts[first:], strict=True)
        if change["kind"] == "edited" and text.startswith(":gear:")
    ]


def stats_numbers(text: str) -> dict[str, Any]:
    """The counts `/jobs stats` shows, read back from its words."""
    hour = re.search(r"Last hour: (\d+) done, (\d+) failed", text)
    dead = re.search(r"Dead letters \(gave up after retries\): (\d+)", text)
    per_page = re.search(r"Median time per page: (\d+\.\d+) s", text)
    assert hour and dead, text
    return {
        "done": int(hour.group(1)),
        "failed": int(hour.group(2)),
        "dead": int(dead.group(1)),
        "per_page": float(per_page.group(1)) if per_page else None,
    }


@dataclass
class Busy:
    """A channel where Alice's long job runs and her small one waits behind it."""

    channel: str
    long: dict[str, Any]
    long_id: str
    waiting: dict[str, Any]
    waiting_id: str


def make_busy(stack: Stack, tmp_path: Path) -> Busy:
    channel = new_channel()
    long_pdf = write_long_pdf(tmp_path / "long.pdf", LONG_PAGES).read_bytes()
    small_pdf = write_pages_pdf(tmp_path / "small.pdf", 2).read_bytes()
    long = stack.share(long_pdf, filename="long.pdf", channel=channel, user=ALICE)
    long_id = job_id_of(stack, long)
    # Past its download, so what it says is the page it is on.
    wait_until(lambda: stack.job(long_id).get("step") == "extracting", timeout_s=10)
    waiting = stack.share(small_pdf, filename="small.pdf", channel=channel, user=ALICE)
    return Busy(channel, long, long_id, waiting, job_id_of(stack, waiting))


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says", "usage"),
    [
        ("", "*/jobs* — see and act on document jobs", "`/jobs retry ID`"),
        ("help", "Examples: `/jobs status J7K2QX`", "`/jobs stats` — "),
        ("frobnicate", "I don't know `/jobs frobnicate`.", "`/jobs cancel ID`"),
        ("cancle 7TU72A", "Did you mean `/jobs cancel`?", "`/jobs status [ID]`"),
        ("cancel", "`/jobs cancel` needs a job id", "Usage: `/jobs cancel ID`"),
        ("retry", "`/jobs retry` needs a job id", "Usage: `/jobs retry ID`"),
        ("cancel ZZZZZZ", "No job `ZZZZZZ`.", "Usage: `/jobs cancel ID`"),
        ("status not-an-id", "`not-an-id` is not a job id", "Usage: `/jobs status [ID]`"),
        ("retry 7TU72A now please", "takes one job id; I got 3 words", "Usage: `/jobs retry ID`"),
        ("status A B", "takes at most one job id", "Usage: `/jobs status [ID]`"),
        ("stats now", "`/jobs stats` takes nothing after it.", "Usage: `/jobs stats`"),
        ("list everything", "did not understand `everything`", "Usage: `/jobs list"),
        ("list mine 7", "There is no page 7 of your jobs", "Usage: `/jobs list"),
    ],
)
def test_help_and_bad_input_get_a_private_answer_in_time(
    one_worker: Stack, text: str, says: str, usage: str
) -> None:
    shown = run_command(one_worker, text, user=BOB, channel=new_channel())
    assert says in shown and usage in shown, shown


def test_status_list_and_stats_show_a_running_and_a_waiting_job(
    one_worker: Stack, tmp_path: Path
) -> None:
    stack = one_worker
    busy = make_busy(stack, tmp_path)
    long_id, waiting_id = busy.long_id, busy.waiting_id

    detail = run_command(stack, f"status {long_id.lower()}", user=ALICE, channel=busy.channel)
    assert detail.startswith(f"*Job `{long_id}`* — long.pdf\n"), detail
    # Typed in angle brackets (which Slack sends escaped): the same job.
    bracketed = run_command(stack, f"status <{long_id}>", user=ALICE, channel=busy.channel)
    assert bracketed.startswith(f"*Job `{long_id}`* — long.pdf\n"), bracketed
    assert re.search(rf"\*State:\* running — extracting page \d+ of {LONG_PAGES} \(\d+%\)", detail)
    assert f"*Shared by* <@{ALICE}> in <#{busy.channel}> · attempt 1" in detail
    thread_url = f"https://slack.com/archives/{busy.channel}/p{busy.long['ts'].replace('.', '')}"
    assert f"<{thread_url}|Open the thread>" in detail

    mine = run_command(stack, "status", user=ALICE, channel=busy.channel)
    assert mine.startswith("*Your active jobs*\n"), mine
    assert f"*Job `{waiting_id}`* — small.pdf\n*State:* queued" in mine
    assert f"*Job `{long_id}`* — long.pdf\n*State:* running" in mine

    # Anyone in the channel sees its jobs: Bob lists Alice's, newest first.
    listed = run_command(stack, "list channel", user=BOB, channel=busy.channel)
    rows = [row.split()[:2] for row in listed.split("```")[1].strip().splitlines()[1:]]
    assert rows == [[waiting_id, "queued"], [long_id, "running"]], listed
    assert listed.endswith("Page 1 of 1.")
    assert "no jobs yet" in run_command(stack, "list failed", user=BOB, channel=busy.channel)
    assert "no jobs yet" in run_command(stack, "list", user=BOB, channel=busy.channel)
    mine = run_command(stack, "list mine", user=ALICE, channel=busy.channel)
    assert mine.startswith("*Your jobs*\n```") and waiting_id in mine and long_id in mine

    stats = run_command(stack, "stats", user=BOB, channel=busy.channel).splitlines()
    assert stats[1].startswith("• Queue depth: 1 waiting for a worker (1 job queued"), stats
    assert stats[2:4] == ["• Running: 1", "• Workers online: 1"], stats


def test_cancel_of_a_queued_and_of_a_running_job(one_worker: Stack, tmp_path: Path) -> None:
    stack = one_worker
    busy = make_busy(stack, tmp_path)
    long_id, waiting_id = busy.long_id, busy.waiting_id

    # Someone else may look, not touch: a polite refusal, and both jobs go on as they were.
    for job_id, file_name in ((waiting_id, "small.pdf"), (long_id, "long.pdf")):
        refused = run_command(stack, f"cancel {job_id}", user=BOB, channel=busy.channel)
        assert refused == (
            f"Sorry, only <@{ALICE}> (who shared *{file_name}*) or a workspace admin "
            f"can cancel job `{job_id}`. Nothing was changed."
        )
    assert stack.job(waiting_id)["state"] == "queued"
    assert stack.job(long_id)["state"] == "running"

    # The queued one, typed in lower case: cancelled in its thread, and it never runs.
    done = run_command(stack, f"cancel {waiting_id.lower()}", user=ALICE, channel=busy.channel)
    assert done == f"Cancelled job `{waiting_id}` (*small.pdf*). Its thread says so."
    wait_until(lambda: outcome_texts(stack, busy.waiting), timeout_s=5)
    assert outcome_texts(stack, busy.waiting) == [
        f":no_entry_sign: Job `{waiting_id}` for *small.pdf* {CANCELLED_BY_ALICE}"
    ]

    # The running one, pasted from its thread message as "job `ID`", while still extracting.
    running = stack.job(long_id)
    assert running["state"] == "running" and running["step"] == "extracting", running
    done = run_command(stack, f"cancel job `{long_id}`", user=ALICE, channel=busy.channel)
    assert done == f"Cancelled job `{long_id}` (*long.pdf*). Its thread says so."
    cancelled_at = time.time()

    # The worker stops within seconds: the next job starts at once (it has only one process,
    # and the long file still had most of its pages to go), and the long job left no chunks.
    next_one = stack.share(
        write_pages_pdf(tmp_path / "next.pdf", 1).read_bytes(),
        filename="next.pdf",
        channel=busy.channel,
        user=BOB,
    )
    next_id = job_id_of(stack, next_one)
    started = wait_for_state(stack, next_id, "succeeded", timeout_s=10)["started_at"]
    assert started - cancelled_at < 3.0
    assert ChunkStore(stack.data_dir / "docjobs.sqlite3").count(long_id) == 0
    assert stack.job(waiting_id)["started_at"] == 0  # never ran

    for busy_share, job_id, name in (
        (busy.long, long_id, "long.pdf"),
        (busy.waiting, waiting_id, "small.pdf"),
    ):
        ended = f":no_entry_sign: *{name}* — cancelled by <@{ALICE}> — job `{job_id}`"
        # The reply and the progress message's last edit are two calls: wait for both.
        wait_until(lambda s=busy_share, e=ended: progress_text(stack, s) == e, timeout_s=5)  # type: ignore[misc]
        thread = stack.thread(busy.channel, busy_share["ts"])
        assert outcome_texts(stack, busy_share) == [
            f":no_entry_sign: Job `{job_id}` for *{name}* {CANCELLED_BY_ALICE}"
        ]
        assert progress_edits_after(thread["history"], "cancelled by") == []
        if job_id == waiting_id:
            edits = [c["text"] for c in thread["history"] if c["kind"] == "edited"]
            assert not [text for text in edits if text.startswith(":gear:")], edits


def test_retry_of_a_failed_job_succeeds_in_the_same_thread(
    one_worker: Stack, tmp_path: Path
) -> None:
    stack = one_worker
    channel = new_channel()
    pdf = write_pages_pdf(tmp_path / "notes.pdf", 3).read_bytes()
    shared = stack.share(pdf, filename="notes.pdf", channel=channel, user=ALICE, fail_download=404)
    job_id = job_id_of(stack, shared)
    wait_until(lambda: outcome_texts(stack, shared), timeout_s=10)
    assert outcome_texts(stack, shared)[0].startswith(":x: I could not process *notes.pdf*")
    failed = run_command(stack, "list failed", user=BOB, channel=channel)
    assert f"{job_id}  failed" in failed

    refused = run_command(stack, f"retry {job_id}", user=BOB, channel=channel)
    assert refused.startswith(f"Sorry, only <@{ALICE}>") and "Nothing was changed." in refused
    time.sleep(0.5)
    assert stack.job(job_id)["state"] == "failed" and stack.job(job_id)["attempt"] == 1

    stack.http.post(f"{stack.sandbox_url}/control/files/{shared['file_id']}/fail")
    said = run_command(stack, f"retry {job_id.lower()}", user=ALICE, channel=channel)
    assert said == (f"Retrying job `{job_id}` (*notes.pdf*) as attempt 2; follow it in its thread.")
    wait_until(lambda: len(outcome_texts(stack, shared)) == 2, timeout_s=15)
    outcomes = outcome_texts(stack, shared)
    assert outcomes[1].startswith(":white_check_mark: Done: *notes.pdf* — 3 pages"), outcomes
    assert progress_message(stack, shared, attempt=2)["text"] == (  # type: ignore[index]
        f":white_check_mark: *notes.pdf* — done — job `{job_id}`"
    )
    # The failed attempt's message no longer offers Retry; it points to the new attempt.
    old = progress_message(stack, shared, attempt=1)
    assert old is not None and "retried it as attempt 2 (below)" in old["text"], old
    assert not [b for b in old["blocks"] if b["type"] == "actions"]
    job = stack.job(job_id)
    assert (job["state"], job["attempt"], job["pages"]) == ("succeeded", 2, 3)


def test_a_retry_before_slack_took_the_failure_reply_still_gets_that_reply_first(
    one_worker: Stack, tmp_path: Path
) -> None:
    """Slack refuses posts while the job fails; Alice sees the failure in `/jobs` and retries
    at once. Once Slack takes posts again, the thread still says attempt 1 failed, before
    attempt 2's messages."""
    stack = one_worker
    channel = new_channel()
    pdf = write_pages_pdf(tmp_path / "notes.pdf", 3).read_bytes()
    refuse_posts = {"method": "chat.postMessage", "mode": "500"}
    stack.http.post(f"{stack.sandbox_url}/control/faults", json=refuse_posts).raise_for_status()
    try:
        shared = stack.share(
            pdf, filename="notes.pdf", channel=channel, user=ALICE, fail_download=404
        )
        job_id = wait_until(lambda: next(iter(jobs_in(stack, channel)), None))
        wait_for_state(stack, job_id, "failed", timeout_s=10)
        assert f"{job_id}  failed" in run_command(stack, "list failed", user=ALICE, channel=channel)
        stack.http.post(f"{stack.sandbox_url}/control/files/{shared['file_id']}/fail")
        said = run_command(stack, f"retry {job_id}", user=ALICE, channel=channel)
        assert said.startswith(f"Retrying job `{job_id}` (*notes.pdf*) as attempt 2"), said
        wait_for_state(stack, job_id, "succeeded", timeout_s=15)
        assert outcome_texts(stack, shared) == []  # nothing could be posted so far
    finally:
        stack.http.delete(f"{stack.sandbox_url}/control/faults").raise_for_status()

    wait_until(lambda: len(outcome_texts(stack, shared)) == 2, timeout_s=20)
    failed, done = outcome_texts(stack, shared)
    assert failed.startswith(":x: I could not process *notes.pdf*: "), failed
    assert done.startswith(":white_check_mark: Done: *notes.pdf* — 3 pages"), done
    order = [
        (m["metadata"]["event_type"], m["metadata"]["event_payload"]["attempt"])
        for m in bot_replies(stack.thread(channel, shared["ts"]))
    ]
    assert order == [("docjobs_outcome", 1), ("docjobs_progress", 2), ("docjobs_outcome", 2)]


def test_a_dead_lettered_job_is_retried_by_an_admin_the_same_way(
    one_worker: Stack, tmp_path: Path
) -> None:
    stack = one_worker
    admin = "U0ADMIN"
    stack.http.post(f"{stack.sandbox_url}/control/users", json={"id": admin, "is_admin": True})
    channel = new_channel()
    pdf = write_pages_pdf(tmp_path / "flaky.pdf", 2).read_bytes()
    shared = stack.share(pdf, filename="flaky.pdf", channel=channel, user=ALICE, fail_download=503)
    before = stats_numbers(run_command(stack, "stats", user=admin, channel=channel))
    job_id = job_id_of(stack, shared)
    wait_until(lambda: outcome_texts(stack, shared), timeout_s=15)
    assert "Wait a few minutes for the service to recover." in outcome_texts(stack, shared)[0]
    dead = stats_numbers(run_command(stack, "stats", user=admin, channel=channel))
    assert dead["dead"] == before["dead"] + 1 and dead["failed"] == before["failed"] + 1

    stack.http.post(f"{stack.sandbox_url}/control/files/{shared['file_id']}/fail")
    said = run_command(stack, f"retry {job_id}", user=admin, channel=channel)
    assert said.startswith(f"Retrying job `{job_id}` (*flaky.pdf*) as attempt 2"), said
    wait_for_state(stack, job_id, "succeeded", timeout_s=15)
    done = stats_numbers(run_command(stack, "stats", user=admin, channel=channel))
    assert done["dead"] == before["dead"] and done["done"] == before["done"] + 1
    assert done["per_page"] is not None
    wait_until(lambda: len(outcome_texts(stack, shared)) == 2, timeout_s=10)
    assert outcome_texts(stack, shared)[1].startswith(":white_check_mark: Done: *flaky.pdf*")
