"""A PDF shared in Slack, through the sandbox over real HTTP, a real Celery worker process,
real Redis and the reporter: what the user sees in the thread, in order."""

from __future__ import annotations

import re
import time
from pathlib import Path

from docjobs.jobs.connection import connect
from docjobs.jobs.events import EventStream
from docjobs.sample import write_sample_pdf
from tests.support.servers import wait_until
from tests.support.stack import (
    OUTCOME_PREFIXES,
    WORKING_PREFIXES,
    Stack,
    bot_replies,
    new_channel,
)

PROGRESS_RE = re.compile(
    r"^:gear: \*q3-report\.pdf\* — (downloading|extracting|chunking|embedding|storing)"
    r".* \((\d+)%\) — job `(\w{6})`$"
)


def test_thread_shows_queued_progress_and_outcome(stack: Stack, tmp_path: Path) -> None:
    pdf = write_sample_pdf(tmp_path / "q3-report.pdf", pages=3).read_bytes()
    shared = stack.share(pdf)
    channel, ts = shared["channel"], shared["ts"]

    # Within a second: the hourglass on the message and the queued reply in its thread.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline and not bot_replies(stack.thread(channel, ts)):
        time.sleep(0.05)
    first = stack.thread(channel, ts)
    assert bot_replies(first), "no reply in the thread within a second"

    stack.wait_for_outcome(channel, ts)

    def settled() -> dict | None:
        # The reaction keeps to Slack's reaction limits, so it may follow a moment later.
        now = stack.thread(channel, ts)
        done = bot_replies(now)[0]["text"].startswith(":white_check_mark: *q3-report.pdf* — done")
        reactions = [r["name"] for r in now["parent"].get("reactions", [])]
        return now if done and reactions == ["white_check_mark"] else None

    thread = wait_until(settled, timeout_s=10)
    replies = bot_replies(thread)
    assert len(replies) == 2, replies
    progress, outcome = replies
    job_id = re.search(r"job `(\w{6})`", progress["text"]).group(1)  # type: ignore[union-attr]
    assert progress["text"] == f":white_check_mark: *q3-report.pdf* — done — job `{job_id}`"
    assert re.fullmatch(
        rf":white_check_mark: Done: \*q3-report\.pdf\* — 3 pages, [\d,]+ words, \d+ chunks? "
        rf"in \d+\.\d s \(job `{job_id}`\)\.",
        outcome["text"],
    ), outcome["text"]

    # The exact sequence of visible changes: the reaction, and the thread's messages.
    changes = [_describe(c, job_id) for c in thread["history"] if c["bot_id"]]
    reactions = [c for c in changes if c.startswith("reaction")]
    check = "reaction_added white_check_mark"
    hourglass = ["reaction_added hourglass_flowing_sand", "reaction_removed hourglass_flowing_sand"]
    # The hourglass is skipped when the job was over by the time the reporter first looked.
    assert reactions in ([*hourglass, check], [check]), reactions
    messages = [c for c in changes if not c.startswith("reaction")]
    done = f":white_check_mark: *q3-report.pdf* — done — job `{job_id}`"
    if messages[0] == f"posted {done}":
        # The job was over before its first message went out: that message shows it as it is.
        assert messages == [f"posted {done}", f"posted {outcome['text']}"]
        return
    # The first reply says queued — or already under way when a free worker was quicker than
    # the reporter, which shows the job as it is, not as it was.
    queued = f"posted :hourglass_flowing_sand: *q3-report.pdf* is queued — job `{job_id}`"
    assert messages[0] == queued or PROGRESS_RE.match(messages[0].removeprefix("posted ")), (
        messages[0]
    )
    # The outcome is posted as soon as the job is done; the progress message shows it at the
    # next edit the pace allows.
    assert messages[-2:] == [f"posted {outcome['text']}", f"edited {done}"]
    middle = messages[1:-2]
    percents = []
    for change in middle:
        match = PROGRESS_RE.match(change.removeprefix("edited "))
        assert change.startswith("edited ") and match, change
        percents.append(int(match.group(2)))
    assert percents == sorted(percents)
    assert len(middle) <= 1  # a short job: at most two edits in all, the final one included

    status = stack.job(job_id)
    assert status["state"] == "succeeded" and status["pages"] == 3 and status["chunks"] >= 1


def _describe(change: dict, job_id: str) -> str:
    kind = change["kind"]
    if kind.startswith("reaction"):
        return f"{kind} {change['name']}"
    return f"{kind} {change['text']}"


def test_a_thread_the_bot_was_removed_from_does_not_hold_the_reporter(
    stack: Stack, tmp_path: Path
) -> None:
    """Someone removes the bot from the channel while its job runs: Slack answers
    not_in_channel from then on. The reporter says so in its log and lets the job's events
    go, instead of trying every 5 s for ever, and other threads go on as usual."""
    pdf = write_sample_pdf(tmp_path / "q3-report.pdf", pages=3).read_bytes()
    shared = stack.share(pdf)
    channel, ts = shared["channel"], shared["ts"]
    wait_until(lambda: bot_replies(stack.thread(channel, ts)), timeout_s=10)
    stack.http.post(f"{stack.sandbox_url}/control/channels/{channel}/remove_bot").raise_for_status()

    client = connect(stack.redis_url)
    try:
        stream = EventStream(client)
        wait_until(lambda: "not_in_channel" in stack.log("reporter"), timeout_s=30)
        wait_until(lambda: stream.pending() == 0, timeout_s=15)
    finally:
        client.close()
    assert "its thread cannot be reached" in stack.log("reporter")

    other = stack.share(pdf)
    thread = stack.wait_for_outcome(other["channel"], other["ts"])
    assert bot_replies(thread)[-1]["text"].startswith(":white_check_mark: Done")


def test_posts_slack_took_but_answered_500_are_not_made_twice(stack: Stack, tmp_path: Path) -> None:
    """Slack posts the progress message and then the outcome reply, and answers both with
    a 500: the reporter looks in the thread before posting again, and finds them."""
    fault = {"method": "chat.postMessage", "mode": "500_applied", "count": 2}
    stack.http.post(f"{stack.sandbox_url}/control/faults", json=fault).raise_for_status()
    try:
        pdf = write_sample_pdf(tmp_path / "q3-report.pdf", pages=3).read_bytes()
        shared = stack.share(pdf)
        channel, ts = shared["channel"], shared["ts"]

        def ended() -> list[dict] | None:
            replies = bot_replies(stack.thread(channel, ts))
            done = replies and replies[0]["text"].startswith(":white_check_mark:")
            return replies if done and len(replies) >= 2 else None

        replies = wait_until(ended, timeout_s=60)
    finally:
        stack.heal_slack_calls()
    calls = stack.calls(method="chat.postMessage")["calls"]
    faulted = [c for c in calls if c["fault"] and c["channel"] == channel]
    assert len(faulted) == 2  # both posts met the fault
    # The progress message is edited to its end only after the outcome reply is settled:
    # a second copy of either would be in by now.
    assert [r["text"].split(" ", 1)[0] for r in replies] == [":white_check_mark:"] * 2


def test_a_share_whose_event_names_only_the_file_still_gets_its_outcome(
    stack: Stack, tmp_path: Path
) -> None:
    """Slack Connect shares come with a stub of the file; the bot asks files.info for it."""
    asked_before = len(stack.calls(method="files.info")["calls"])
    pdf = write_sample_pdf(tmp_path / "q3-report.pdf", pages=3).read_bytes()
    shared = stack.share(pdf, stub=True)
    thread = stack.wait_for_outcome(shared["channel"], shared["ts"])
    assert bot_replies(thread)[-1]["text"].startswith(":white_check_mark: Done: *q3-report.pdf*")
    asked = stack.calls(method="files.info")["calls"][asked_before:]
    assert [c["ok"] for c in asked] == [True]


def test_a_stub_share_slack_will_not_describe_gets_a_private_answer(
    stack: Stack, tmp_path: Path
) -> None:
    """The share's event is acked before files.info is asked: when Slack keeps failing that
    call, the sharer is told, not left waiting for a job that never comes."""
    fault = {"method": "files.info", "mode": "500", "count": 10}
    stack.http.post(f"{stack.sandbox_url}/control/faults", json=fault).raise_for_status()
    try:
        pdf = write_sample_pdf(tmp_path / "q4-report.pdf", pages=1).read_bytes()
        shared = stack.share(pdf, stub=True)
        answers = wait_until(lambda: stack.ephemerals(user="U0ALICE", channel=shared["channel"]))
    finally:
        stack.heal_slack_calls()
    assert answers[0]["text"].startswith(":warning: I did not queue the file you just shared")
    assert "Share it again" in answers[0]["text"]
    assert answers[0].get("thread_ts") == shared["ts"]
    assert bot_replies(stack.thread(shared["channel"], shared["ts"])) == []


def test_several_pdfs_in_one_message_keep_the_hourglass_until_the_last_job_ends(
    stack: Stack, tmp_path: Path
) -> None:
    """Three PDFs in one message, three jobs: Slack will not give the last one, so its job
    fails while the others still run. The message keeps the hourglass until every job has
    ended, then shows one reaction: the failure."""
    short = write_sample_pdf(tmp_path / "short.pdf", pages=3).read_bytes()
    long = write_sample_pdf(tmp_path / "long.pdf", pages=60).read_bytes()
    shared = stack.share_files(
        [
            {"filename": "q3-report.pdf", "content": short},
            {"filename": "q3-appendix.pdf", "content": long},
            {"filename": "q3-locked.pdf", "content": short, "fail_download": 404},
        ]
    )
    channel, ts = shared["channel"], shared["ts"]

    def ended() -> dict | None:
        thread = stack.thread(channel, ts)
        texts = [m["text"] for m in bot_replies(thread)]
        outcomes = [t for t in texts if t.startswith(OUTCOME_PREFIXES)]
        working = [t for t in texts if t.startswith(WORKING_PREFIXES)]
        reactions = [r["name"] for r in thread["parent"]["reactions"]]
        return thread if len(outcomes) == 3 and not working and reactions == ["x"] else None

    thread = wait_until(ended, timeout_s=60)
    job_ids = {
        m["metadata"]["event_payload"]["job_id"]
        for m in bot_replies(thread)
        if m["metadata"]["event_type"] == "docjobs_progress"
    }
    states = {job_id: stack.job(job_id) for job_id in job_ids}
    assert sorted(s["state"] for s in states.values()) == ["failed", "succeeded", "succeeded"]
    ends = sorted(s["finished_at"] for s in states.values())
    assert ends[0] < ends[-1]  # a job ended while another still ran
    changes = [c for c in thread["history"] if c["kind"].startswith("reaction")]
    kinds = [f"{c['kind']} {c['name']}" for c in changes]
    hourglass = ["reaction_added hourglass_flowing_sand", "reaction_removed hourglass_flowing_sand"]
    assert kinds in ([*hourglass, "reaction_added x"], ["reaction_added x"]), kinds
    # The hourglass went, and the cross came, only once the last job had ended.
    assert all(c["at"] >= ends[-1] for c in changes if c["kind"] == "reaction_removed")
    assert all(c["at"] >= ends[-1] for c in changes if c["name"] == "x")


def test_a_post_answered_500_in_a_thread_of_over_200_replies_is_not_made_twice(
    stack: Stack, tmp_path: Path
) -> None:
    """A PDF shared as a reply in a thread that already holds 205 replies: Slack takes the
    progress message and answers 500. The reporter's look-up for it reads past the first
    page of the thread and finds it, rather than posting a second one."""
    channel = new_channel()
    say = f"{stack.sandbox_url}/control/messages"
    parent = stack.http.post(say, json={"channel": channel, "user": "U0BOB", "text": "Q3"})
    parent_ts = parent.raise_for_status().json()["ts"]
    for n in range(205):
        reply = {"channel": channel, "user": "U0BOB", "text": f"note {n}", "thread_ts": parent_ts}
        stack.http.post(say, json=reply).raise_for_status()
    fault = {"method": "chat.postMessage", "mode": "500_applied", "count": 1}
    stack.http.post(f"{stack.sandbox_url}/control/faults", json=fault).raise_for_status()
    try:
        pdf = write_sample_pdf(tmp_path / "q3-report.pdf", pages=3).read_bytes()
        shared = stack.share(pdf, channel=channel, thread_ts=parent_ts)
        assert shared["thread_ts"] == parent_ts

        def ended() -> list[dict] | None:
            replies = bot_replies(stack.thread(channel, parent_ts))
            texts = [r["text"] for r in replies]
            done = any(t.startswith(":white_check_mark: *q3-report.pdf* — done") for t in texts)
            return replies if done and any(t.startswith(OUTCOME_PREFIXES) for t in texts) else None

        replies = wait_until(ended, timeout_s=60)
    finally:
        stack.heal_slack_calls()
    calls = stack.calls(method="chat.postMessage")["calls"]
    assert len([c for c in calls if c["fault"] and c["channel"] == channel]) == 1
    kinds = [r["metadata"]["event_type"] for r in replies]
    assert kinds == ["docjobs_progress", "docjobs_outcome"], [r["text"] for r in replies]
