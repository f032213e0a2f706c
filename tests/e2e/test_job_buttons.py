"""Cancel and Retry on a job's progress message, clicked through the sandbox over real HTTP:
the message shows what the click did, others are refused privately, and a late click on a
finished job explains itself."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from docjobs.bot.views import CANCEL_ACTION, RETRY_ACTION
from docjobs.tasks.store import ChunkStore
from tests.e2e.test_jobs_command import (
    ALICE,
    BOB,
    LONG_PAGES,
    job_id_of,
    outcome_texts,
    progress_edits_after,
    progress_message,
    wait_for_state,
)
from tests.support.pdfs import write_long_pdf, write_pages_pdf
from tests.support.servers import wait_until
from tests.support.stack import Stack, new_channel


def click(stack: Stack, message: dict[str, Any], action_id: str, *, user: str) -> None:
    """Click the button on a message the user sees; Slack needs the ack within 3 s."""
    body = {
        "channel": message["channel"],
        "user": user,
        "message_ts": message["ts"],
        "action_id": action_id,
    }
    reply = stack.http.post(f"{stack.sandbox_url}/control/action", json=body)
    assert reply.status_code == 200, reply.text
    outcome = reply.json()
    assert outcome["status"] == 200 and not outcome["timed_out"], outcome
    assert outcome["elapsed_ms"] < 3000, outcome


def private_notes(stack: Stack, *, user: str, channel: str) -> list[str]:
    return [str(e["text"]) for e in stack.ephemerals(user=user, channel=channel)]


def the_message(stack: Stack, shared: dict[str, Any], attempt: int = 1) -> dict[str, Any]:
    message = wait_until(lambda: progress_message(stack, shared, attempt), timeout_s=5)
    return {**message, "channel": shared["channel"]}


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        element["text"]["text"]
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def share_long(stack: Stack, tmp_path: Path) -> tuple[dict[str, Any], str]:
    pdf = write_long_pdf(tmp_path / "long.pdf", LONG_PAGES).read_bytes()
    shared = stack.share(pdf, filename="long.pdf", channel=new_channel(), user=ALICE)
    job_id = job_id_of(stack, shared)
    wait_for_state(stack, job_id, "running", timeout_s=10)
    return shared, job_id


def test_cancel_button_stops_a_running_job_and_refuses_others(stack: Stack, tmp_path: Path) -> None:
    shared, job_id = share_long(stack, tmp_path)
    channel = shared["channel"]
    message = the_message(stack, shared)
    assert buttons(message) == ["Cancel"]

    click(stack, message, CANCEL_ACTION, user=BOB)
    refusal = wait_until(lambda: private_notes(stack, user=BOB, channel=channel), timeout_s=3)
    assert refusal == [
        f"Sorry, only <@{ALICE}> (who shared *long.pdf*) or a workspace admin "
        f"can cancel job `{job_id}`. Nothing was changed."
    ]
    assert stack.job(job_id)["state"] == "running"

    click(stack, message, CANCEL_ACTION, user=ALICE)
    assert stack.job(job_id)["state"] == "cancelled"
    cancelled = f":no_entry_sign: *long.pdf* — cancelled by <@{ALICE}> — job `{job_id}`"
    wait_until(lambda: the_message(stack, shared)["text"] == cancelled, timeout_s=5)
    assert buttons(the_message(stack, shared)) == ["Retry"]

    time.sleep(1.0)  # a late progress edit, or late output, would show by now
    assert ChunkStore(stack.data_dir / "docjobs.sqlite3").count(job_id) == 0
    thread = stack.thread(channel, shared["ts"])
    assert progress_edits_after(thread["history"], "cancelled by") == []
    assert outcome_texts(stack, shared) == [
        f":no_entry_sign: Job `{job_id}` for *long.pdf* was cancelled by <@{ALICE}>."
    ]
    assert private_notes(stack, user=ALICE, channel=channel) == []  # the thread said it


def test_retry_button_after_a_failure_runs_it_again_in_the_same_thread(
    stack: Stack, tmp_path: Path
) -> None:
    pdf = write_pages_pdf(tmp_path / "notes.pdf", 2).read_bytes()
    shared = stack.share(
        pdf, filename="notes.pdf", channel=new_channel(), user=ALICE, fail_download=404
    )
    channel, job_id = shared["channel"], job_id_of(stack, shared)
    # Alice reads the failure reply, then clicks Retry on the progress message, which shows
    # the failure at its next paced edit.
    wait_until(lambda: outcome_texts(stack, shared), timeout_s=10)
    assert outcome_texts(stack, shared)[0].startswith(":x: I could not process *notes.pdf*")
    failed = ":x: *notes.pdf* — failed: "
    message = wait_until(
        lambda: (m := the_message(stack, shared))["text"].startswith(failed) and m, timeout_s=4
    )
    assert buttons(message) == ["Retry"]

    click(stack, message, RETRY_ACTION, user=BOB)
    refusal = wait_until(lambda: private_notes(stack, user=BOB, channel=channel), timeout_s=3)
    assert refusal[0].startswith(f"Sorry, only <@{ALICE}>") and "can retry job" in refusal[0]
    assert (stack.job(job_id)["state"], stack.job(job_id)["attempt"]) == ("failed", 1)

    stack.http.post(f"{stack.sandbox_url}/control/files/{shared['file_id']}/fail")
    click(stack, message, RETRY_ACTION, user=ALICE)
    wait_until(lambda: "retried it" in the_message(stack, shared)["text"], timeout_s=3)
    retired = the_message(stack, shared)
    assert retired["text"].startswith(":repeat: *notes.pdf* — attempt 1 failed: ")
    assert retired["text"].endswith(f"<@{ALICE}> retried it as attempt 2 (below) — job `{job_id}`")
    assert buttons(retired) == []

    wait_for_state(stack, job_id, "succeeded", timeout_s=15)
    wait_until(lambda: len(outcome_texts(stack, shared)) == 2, timeout_s=10)
    assert outcome_texts(stack, shared)[1].startswith(":white_check_mark: Done: *notes.pdf*")
    done = f":white_check_mark: *notes.pdf* — done — job `{job_id}`"
    wait_until(lambda: the_message(stack, shared, attempt=2)["text"] == done, timeout_s=4)
    assert private_notes(stack, user=ALICE, channel=channel) == []


def test_a_second_click_on_a_finished_job_explains_itself(stack: Stack, tmp_path: Path) -> None:
    shared, job_id = share_long(stack, tmp_path)
    channel = shared["channel"]
    message = the_message(stack, shared)
    # With the reporter away the Cancel button stays up after the first click, as it does in
    # Slack for a quick second click.
    stack.stop("reporter")
    try:
        click(stack, message, CANCEL_ACTION, user=ALICE)
        click(stack, message, CANCEL_ACTION, user=ALICE)
        note = wait_until(lambda: private_notes(stack, user=ALICE, channel=channel), timeout_s=3)
        assert note == [
            f"Job `{job_id}` (*long.pdf*) has already finished: it was cancelled by "
            f"<@{ALICE}>, so there is nothing to cancel."
        ]
        job = stack.job(job_id)
        assert (job["state"], job["cancelled_by"], job["attempt"]) == ("cancelled", ALICE, 1)
    finally:
        stack.start("reporter", "reporter")
    wait_until(lambda: outcome_texts(stack, shared), timeout_s=10)
    cancelled = ":no_entry_sign: *long.pdf* — cancelled"
    wait_until(lambda: the_message(stack, shared)["text"].startswith(cancelled), timeout_s=4)
    assert len(outcome_texts(stack, shared)) == 1
