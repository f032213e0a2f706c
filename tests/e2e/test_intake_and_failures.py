"""What Slack's duplicate deliveries, forged requests and bad files do to the system, as a
user (and an attacker) would see it, through the sandbox over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from docjobs.bot.listeners import BOT_EVENTS
from docjobs.jobs.connection import connect
from docjobs.jobs.signing import signed_headers
from docjobs.jobs.store import JobStore
from docjobs.sample import write_sample_pdf
from tests.support import hostile
from tests.support.servers import wait_until
from tests.support.stack import (
    OUTCOME_PREFIXES,
    SIGNING_SECRET,
    Stack,
    bot_replies,
    new_channel,
)


def jobs_in(stack: Stack, channel: str) -> list[str]:
    client = connect(stack.redis_url)
    try:
        return JobStore(client).recent_ids(channel=channel, limit=100)
    finally:
        client.close()


def test_a_share_is_one_delivery_of_one_event(stack: Stack, tmp_path: Path) -> None:
    """The manifest does not subscribe to `file_shared`: Slack sends the share once."""
    pdf = write_sample_pdf(tmp_path / "notes.pdf").read_bytes()
    shared = stack.share(pdf)
    stack.wait_for_outcome(shared["channel"], shared["ts"])
    delivered = {d["event_id"] for d in stack.deliveries()}
    assert shared["event_ids"][0] in delivered and shared["event_ids"][1] not in delivered


@pytest.fixture
def subscribed_to_file_shared(stack: Stack) -> Iterator[None]:
    """An app created from an older manifest, still subscribed to `file_shared`."""
    settings = f"{stack.sandbox_url}/control/settings"
    stack.http.post(settings, json={"bot_events": [*BOT_EVENTS, "file_shared"]}).raise_for_status()
    try:
        yield
    finally:
        stack.http.post(settings, json={"bot_events": list(BOT_EVENTS)}).raise_for_status()


@pytest.mark.usefixtures("subscribed_to_file_shared")
def test_four_deliveries_and_the_file_shared_twin_make_one_job(
    stack: Stack, tmp_path: Path
) -> None:
    pdf = write_sample_pdf(tmp_path / "q3-report.pdf").read_bytes()
    shared = stack.share(pdf, redeliver=3)
    thread = stack.wait_for_outcome(shared["channel"], shared["ts"])
    message_event = shared["event_ids"][0]
    wait_until(lambda: len([d for d in stack.deliveries() if d["event_id"] == message_event]) == 4)
    attempts = [d for d in stack.deliveries() if d["event_id"] == message_event]
    assert sorted(d["retry_num"] for d in attempts) == [0, 1, 2, 3]
    assert all(d["status"] == 200 for d in attempts)
    file_shared = [d for d in stack.deliveries() if d["event_id"] == shared["event_ids"][1]]
    assert file_shared and file_shared[0]["status"] == 200  # acked, so Slack does not retry it
    time.sleep(1.0)  # late duplicates would have made a second message by now
    thread = stack.thread(shared["channel"], shared["ts"])
    assert len(bot_replies(thread)) == 2  # one progress message, one outcome
    assert len(jobs_in(stack, shared["channel"])) == 1


def _event_body(channel: str) -> str:
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0SANDBOX",
            "api_app_id": "A0SANDBOX",
            "event_id": "EvFORGED1",
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "subtype": "file_share",
                "user": "U0MALLORY",
                "channel": channel,
                "ts": "1700000000.000100",
                "files": [
                    {
                        "id": "F0FORGED",
                        "name": "evil.pdf",
                        "mimetype": "application/pdf",
                        "filetype": "pdf",
                        "size": 100,
                        "url_private": "http://127.0.0.1:1/evil.pdf",
                    }
                ],
            },
        }
    )


def test_bad_or_stale_slack_signatures_get_401_and_change_nothing(stack: Stack) -> None:
    channel = new_channel()
    body = _event_body(channel)
    now = str(int(time.time()))
    forged = SignatureVerifier("not-the-secret").generate_signature(timestamp=now, body=body)
    stale_ts = str(int(time.time()) - 6 * 60)
    stale = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stale_ts, body=body)
    for ts, signature in [(now, forged), (stale_ts, stale), (now, "")]:
        reply = httpx.post(
            f"{stack.web_url}/slack/events",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": signature,
            },
        )
        assert reply.status_code == 401
    time.sleep(0.5)
    assert jobs_in(stack, channel) == []


def signed_post(stack: Stack, payload: dict) -> httpx.Response:
    body = json.dumps(payload)
    now = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=now, body=body)
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": now,
        "X-Slack-Signature": signature,
    }
    return httpx.post(f"{stack.web_url}/slack/events", content=body, headers=headers)


def test_deliveries_no_listener_takes_are_acknowledged(stack: Stack) -> None:
    """A 404 is a failed delivery to Slack: retried, and counted towards switching the app's
    events off. `app_rate_limited` comes without any subscription, and is logged."""
    rate_limited = {
        "token": "x",
        "type": "app_rate_limited",
        "team_id": "T0SANDBOX",
        "minute_rate_limited": 1518467820,
        "api_app_id": "A0SANDBOX",
    }
    assert signed_post(stack, rate_limited).status_code == 200
    for event in ({"type": "file_deleted", "file_id": "F1"}, {"type": "made_up_event"}):
        envelope = {
            "token": "x",
            "team_id": "T0SANDBOX",
            "api_app_id": "A0SANDBOX",
            "type": "event_callback",
            "event_id": f"Ev{event['type']}",
            "event_time": int(time.time()),
            "event": {**event, "event_ts": str(time.time())},
        }
        assert signed_post(stack, envelope).status_code == 200
    wait_until(lambda: "over its events limit" in stack.log("web"))


def test_result_posts_with_a_bad_hmac_get_401_and_change_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    pdf = write_sample_pdf(tmp_path / "q3-report.pdf").read_bytes()
    shared = stack.share(pdf)
    stack.wait_for_outcome(shared["channel"], shared["ts"])
    [job_id] = jobs_in(stack, shared["channel"])
    before = stack.job(job_id)
    forged = json.dumps(
        {"job_id": job_id, "attempt": 1, "status": "failed", "reason": "forged"}
    ).encode()
    attempts = [
        signed_headers("wrong-secret", forged),
        signed_headers("docjobs-dev-results-secret", forged, now=time.time() - 600),
        {"Content-Type": "application/json"},
    ]
    for headers in attempts:
        reply = httpx.post(f"{stack.web_url}/results", content=forged, headers=headers)
        assert reply.status_code == 401
    assert stack.job(job_id) == before
    # The genuine secret on a finished job: accepted as stale, still changes nothing.
    genuine = httpx.post(
        f"{stack.web_url}/results",
        content=forged,
        headers=signed_headers("docjobs-dev-results-secret", forged),
    )
    assert genuine.status_code == 200 and genuine.json()["result"] == "stale"
    assert stack.job(job_id) == before


def test_a_file_that_is_not_a_pdf_gets_a_private_answer_and_no_job(stack: Stack) -> None:
    shared = stack.share(b"meeting notes\n", filename="notes.txt", mimetype="text/plain")
    answers = wait_until(lambda: stack.ephemerals(user="U0ALICE", channel=shared["channel"]))
    assert "I only process PDFs" in answers[0]["text"] and "notes.txt" in answers[0]["text"]
    time.sleep(0.5)
    assert jobs_in(stack, shared["channel"]) == []
    assert bot_replies(stack.thread(shared["channel"], shared["ts"])) == []


def test_html_named_pdf_fails_at_once_saying_it_is_not_a_pdf(stack: Stack) -> None:
    html = b"<!DOCTYPE html><html><body>Quarterly report</body></html>"
    shared = stack.share(html, filename="report.pdf", mimetype="application/pdf")
    thread = stack.wait_for_outcome(shared["channel"], shared["ts"])
    outcome = bot_replies(thread)[-1]["text"]
    assert outcome.startswith(":x: I could not process *report.pdf*: ")
    assert "not a PDF" in outcome and "I tried" not in outcome
    [job_id] = jobs_in(stack, shared["channel"])
    assert stack.job(job_id)["retries"] == 0


def test_a_reason_quoting_the_file_cannot_mention_the_channel(stack: Stack, tmp_path: Path) -> None:
    pdf = hostile.write_mention_filter(tmp_path / "odd.pdf").read_bytes()
    shared = stack.share(pdf, filename="odd.pdf")
    thread = stack.wait_for_outcome(shared["channel"], shared["ts"])
    texts = [m["text"] for m in bot_replies(thread)]
    outcome = texts[-1]
    plain = "This PDF uses a feature I cannot read."
    assert outcome.startswith(f":x: I could not process *odd.pdf*: {plain} Details: ")
    assert "&lt;!channel&gt;" in outcome  # the reader's words, shown as text
    assert not any("<!channel>" in text for text in texts)
    # The plain-words sentence comes once, then the reader's own message as labelled detail.
    assert outcome.count(plain) == 1


def test_password_protected_pdf_says_so_and_is_not_retried(stack: Stack, corpus_dir: Path) -> None:
    pdf = (corpus_dir / "libreoffice-writer-password.pdf").read_bytes()
    shared = stack.share(pdf, filename="salaries.pdf")
    thread = stack.wait_for_outcome(shared["channel"], shared["ts"])
    outcome = bot_replies(thread)[-1]["text"]
    assert "password-protected" in outcome and "without a password" in outcome
    wait_until(
        lambda: (
            [
                r["name"]
                for r in stack.thread(shared["channel"], shared["ts"])["parent"].get(
                    "reactions", []
                )
            ]
            == ["x"]
        )
    )
    [job_id] = jobs_in(stack, shared["channel"])
    assert stack.job(job_id)["retries"] == 0


def test_a_job_that_fails_every_attempt_is_dead_lettered_with_its_reason(
    stack: Stack, tmp_path: Path
) -> None:
    pdf = write_sample_pdf(tmp_path / "q3-report.pdf").read_bytes()
    shared = stack.share(pdf, fail_download=500)
    thread = stack.wait_for_outcome(shared["channel"], shared["ts"], timeout_s=40)
    outcome = bot_replies(thread)[-1]["text"]
    assert outcome.startswith(":x: I could not process *q3-report.pdf*: ")
    assert "I tried 6 times" in outcome and "/jobs retry" in outcome
    [job_id] = jobs_in(stack, shared["channel"])
    client = connect(stack.redis_url)
    try:
        assert job_id in JobStore(client).dead_letter_ids()
    finally:
        client.close()

    # Slack gives the file again; the dead-letter list runs it as attempt 2, in the same thread.
    stack.http.post(f"{stack.sandbox_url}/control/files/{shared['file_id']}/fail")
    listed = subprocess.run(
        [sys.executable, "-m", "docjobs.cli", "dead-letters"],
        env=stack.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert job_id in listed.stdout and "HTTP 500" in listed.stdout
    subprocess.run(
        [sys.executable, "-m", "docjobs.cli", "dead-letters", "--retry", job_id],
        env=stack.env,
        capture_output=True,
        check=True,
    )
    wait_until(lambda: stack.job(job_id)["state"] == "succeeded", timeout_s=30)
    wait_until(lambda: _outcomes(stack.thread(shared["channel"], shared["ts"])) == 2)
    replies = bot_replies(stack.thread(shared["channel"], shared["ts"]))
    assert replies[-1]["text"].startswith(":white_check_mark: Done")
    assert stack.job(job_id)["attempt"] == 2


def _outcomes(thread: dict) -> int:
    return sum(1 for m in bot_replies(thread) if m["text"].startswith(OUTCOME_PREFIXES))
