"""The reporter against a real Redis and a recording stand-in for Slack's Web API: what a
person sees in the job's thread when Slack refuses a call or a reporter dies mid-post."""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from typing import Any, cast

import pytest
import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from docjobs.bot.pacing import SlackPacer
from docjobs.bot.reporter import LOOKUP_MARGIN_S, OUTCOME_KIND, PROGRESS_KIND, Reporter
from docjobs.bot.slack_calls import Deferred, SlackCalls
from docjobs.jobs.events import EventStream
from docjobs.jobs.messages import MessageReactions
from docjobs.jobs.model import Job, State
from docjobs.jobs.store import JobStore, job_key, message_index_key

CHANNEL, SHARE_TS = "C0FILES", "1000.000001"
DONE: dict[str, object] = {"pages": 3, "words": 100, "chunks": 2, "seconds": 1.5}


def response(method: str, data: dict[str, Any], *, status: int = 200, **headers: str) -> Any:
    url = f"https://slack.com/api/{method}"
    return SlackResponse(
        client=None,
        http_verb="POST",
        api_url=url,
        req_args={},
        data=data,
        headers=headers,
        status_code=status,
    )


class FakeSlack:
    """One thread (the share's) that posts go into, the share's reactions, and refusals
    queued per method. Posts get Slack-like timestamps (now, increasing); replies are read
    with `oldest`, `limit` and `cursor` as Slack reads them (the parent always first)."""

    def __init__(self) -> None:
        self.thread: list[dict[str, Any]] = []
        self.called: list[str] = []
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.refusals: dict[str, list[SlackApiError]] = {}
        self.reactions: list[str] = []
        self.applied_but_failed: set[str] = set()  # methods to carry out, then answer 500
        self._us = itertools.count(int(time.time() * 1_000_000))

    def refuse(self, method: str, error: str, *, status: int = 200, **headers: str) -> None:
        data = {"ok": False, "error": error}
        refusal = SlackApiError(error, response(method, data, status=status, **headers))
        self.refusals.setdefault(method, []).append(refusal)

    def next_ts(self) -> str:
        seconds, micros = divmod(max(next(self._us), int(time.time() * 1_000_000)), 1_000_000)
        return f"{seconds}.{micros:06d}"

    def api_call(self, method: str, *, json: Any = None, params: Any = None) -> Any:
        body = json or params or {}
        self.called.append(method)
        self.bodies.append((method, dict(body)))
        if self.refusals.get(method):
            raise self.refusals[method].pop(0)
        data: dict[str, Any] = {"ok": True}
        if method == "chat.postMessage":
            data["ts"] = self.next_ts()
            self.thread.append({"ts": data["ts"], **body})
        elif method == "chat.update":
            for message in self.thread:
                if message["ts"] == body["ts"]:
                    message["text"] = body["text"]
        elif method == "conversations.replies":
            data.update(self._replies(body))
        elif method == "reactions.add":
            if body["name"] in self.reactions:
                raise SlackApiError("", response(method, {"ok": False, "error": "already_reacted"}))
            self.reactions.append(body["name"])
        elif method == "reactions.remove":
            if body["name"] not in self.reactions:
                raise SlackApiError("", response(method, {"ok": False, "error": "no_reaction"}))
            self.reactions.remove(body["name"])
        if method in self.applied_but_failed:
            self.applied_but_failed.discard(method)
            refusal = {"ok": False, "error": "fatal_error"}
            raise SlackApiError("fatal_error", response(method, refusal, status=500))
        return response(method, data)

    def _replies(self, body: dict[str, Any]) -> dict[str, Any]:
        oldest, limit = float(body.get("oldest") or 0), int(body.get("limit") or 1000)
        start = int(body.get("cursor") or 0)
        after = [m for m in self.thread if float(m["ts"]) > oldest]
        items = [{"ts": SHARE_TS}, *after][start : start + limit]
        more = start + limit < len(after) + 1
        return {
            "messages": items,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def posted(self, kind: str) -> list[str]:
        return [
            m["text"] for m in self.thread if (m.get("metadata") or {}).get("event_type") == kind
        ]

    def chatter(self, count: int, *, seconds_ago: float = 0.0) -> None:
        """People's replies in the thread, `seconds_ago` (0: now)."""
        for n in range(count):
            ts = (
                self.next_ts() if not seconds_ago else f"{time.time() - seconds_ago + n / 1000:.6f}"
            )
            self.thread.append({"ts": ts, "text": f"reply {n}", "user": "U0BOB"})


@pytest.fixture
def slack() -> FakeSlack:
    return FakeSlack()


def make_reporter(
    client: redis.Redis, store: JobStore, slack: FakeSlack, name: str, **options: Any
) -> Reporter:
    per_minute = {"chat.update": 50, "conversations.replies": 50}
    calls = SlackCalls(cast(WebClient, slack), SlackPacer(per_minute=per_minute))
    stream = EventStream(client)
    reporter = Reporter(store=store, stream=stream, calls=calls, consumer=name, **options)
    reporter.stream.ensure_group()
    return reporter


def shared_job(store: JobStore, *, succeeded: bool = True, file_id: str = "F1") -> str:
    job = Job(
        id="",
        file_id=file_id,
        file_name="report.pdf",
        channel=CHANNEL,
        thread_ts=SHARE_TS,
        message_ts=SHARE_TS,
        user="U0ALICE",
    )
    job_id = store.create(job)[1]
    store.transition(job_id, State.RUNNING, fields={"step": "downloading"})
    if succeeded:
        store.transition(job_id, State.SUCCEEDED, fields=DONE)
    return job_id


def settle(reporter: Reporter, timeout_s: float = 10.0) -> None:
    """Runs the reporter's loop until every event it read is handled (and acked)."""
    deadline = time.monotonic() + timeout_s
    reporter.run_once()
    while reporter.pending:
        assert time.monotonic() < deadline, f"still pending: {reporter.pending}"
        reporter.run_once()


@pytest.mark.parametrize("error", ["too_many_reactions", "missing_scope", "invalid_name"])
def test_a_refused_reaction_does_not_hold_up_the_outcome_reply(
    redis_client: redis.Redis,
    store: JobStore,
    slack: FakeSlack,
    error: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    job_id = shared_job(store)
    for _ in range(3):
        slack.refuse("reactions.add", error)
    reporter = make_reporter(redis_client, store, slack, "reporter-a")
    with caplog.at_level(logging.WARNING, logger="docjobs.bot.reporter"):
        settle(reporter, timeout_s=3.0)
    assert len(slack.posted(PROGRESS_KIND)) == 1
    [outcome] = slack.posted(OUTCOME_KIND)
    assert "Done" in outcome and job_id in outcome
    assert reporter.stream.pending() == 0
    # Given up for this state: a later event for the job does not ask Slack again.
    assert slack.called.count("reactions.add") == 1
    assert reporter.render(job_id) is True
    assert slack.called.count("reactions.add") == 1
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert job_id in warning and "reactions.add" in warning and error in warning


@pytest.mark.parametrize("kind", [OUTCOME_KIND, PROGRESS_KIND])
@pytest.mark.parametrize("fault", ["429", "5xx"])
def test_a_takeover_whose_first_look_up_is_deferred_still_posts_once(
    redis_client: redis.Redis, store: JobStore, slack: FakeSlack, kind: str, fault: str
) -> None:
    """Reporter A posted and died before recording it; B takes over its stale guard, and
    Slack rate limits (or fails) B's first look in the thread for A's message."""
    job_id = shared_job(store, succeeded=kind == OUTCOME_KIND)
    make_reporter(redis_client, store, slack, "reporter-a").render(job_id)
    before = len(slack.posted(kind))
    assert before == 1
    guard = "outcome:1" if kind == OUTCOME_KIND else "progress:1"
    store.set_fields(job_id, **{guard: f"reporter-a@{time.time() - 60:.3f}"})
    store.client.hdel(job_key(job_id), "edited:1")  # A died before finishing the thread
    if kind == PROGRESS_KIND:
        store.set_fields(job_id, progress_ts="", progress_attempt=0)
    if fault == "429":
        slack.refuse("conversations.replies", "ratelimited", status=429, **{"Retry-After": "1"})
    else:
        slack.refuse("conversations.replies", "fatal_error", status=503)

    b = make_reporter(redis_client, store, slack, "reporter-b")
    with pytest.raises(Deferred):
        b.render(job_id)
    settle(b)

    assert len(slack.posted(kind)) == 1
    assert store.get_field(job_id, guard) == "done"
    if kind == PROGRESS_KIND:
        assert store.get_field(job_id, "progress_ts") == slack.thread[0]["ts"]
    assert slack.called.count("conversations.replies") == 2


@pytest.mark.parametrize("kind", [OUTCOME_KIND, PROGRESS_KIND])
def test_a_post_redis_could_not_record_is_not_made_again(
    redis_client: redis.Redis,
    store: JobStore,
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    """Slack took the post, then Redis went away before the reporter wrote that down; the
    reporter's loop waits for Redis and renders the job again."""
    job_id = shared_job(store, succeeded=kind == OUTCOME_KIND)
    reporter = make_reporter(redis_client, store, slack, "reporter-a")
    if kind == OUTCOME_KIND:  # the progress message is in already
        reporter._ensure_progress_message(store.get(job_id))  # type: ignore[arg-type]
    guard = "outcome:1" if kind == OUTCOME_KIND else "progress:1"
    real = store.set_fields
    failed = []

    def lost_once(job: str, **fields: object) -> None:
        if (guard in fields or "progress_ts" in fields) and not failed:
            failed.append(guard)  # the first write after the post
            raise redis.ConnectionError("Redis restarting")
        real(job, **fields)

    monkeypatch.setattr(store, "set_fields", lost_once)
    with pytest.raises(redis.ConnectionError):
        reporter.render(job_id)
    reporter.render(job_id)

    assert failed == [guard]
    [posted] = [m for m in slack.thread if m["metadata"]["event_type"] == kind]
    assert store.get_field(job_id, guard) == "done"
    if kind == PROGRESS_KIND:
        assert store.get_field(job_id, "progress_ts") == posted["ts"]
    assert "conversations.replies" not in slack.called


def test_two_reporters_sharing_a_job_leave_its_message_on_its_current_state(
    redis_client: redis.Redis, store: JobStore, slack: FakeSlack
) -> None:
    """Reporter A drew "running", B then drew "retrying"; the retry starts and A, handed
    that event, finds "running" is what it drew last, yet the message says "retrying"."""
    job_id = shared_job(store, succeeded=False)
    a = make_reporter(redis_client, store, slack, "reporter-a", edit_interval_s=0)
    b = make_reporter(redis_client, store, slack, "reporter-b", edit_interval_s=0)
    assert a.render(job_id)
    retrying = {"reason": "Slack did not answer", "detail": "retry 1 of 3", "next_run_at": 0}
    assert store.transition(job_id, State.RETRYING, fields=retrying)
    assert b.render(job_id)
    running = {"step": "downloading", "percent": 0, "detail": "", "reason": ""}
    assert store.transition(job_id, State.RUNNING, fields=running)
    assert a.render(job_id)

    [progress] = slack.posted(PROGRESS_KIND)
    assert progress.startswith(":gear:") and "downloading" in progress


def render_reaction(reporter: Reporter, job_id: str) -> None:
    """Render the job; its posts may wait for the channel's pace, which is not what is tested."""
    with contextlib.suppress(Deferred):
        reporter.render(job_id)


FAILED = {"reason_code": "not_pdf", "reason": "This file is not a PDF.", "finished_at": 1.0}


def test_the_jobs_of_one_message_show_one_reaction_until_the_last_one_ends(
    redis_client: redis.Redis, store: JobStore, slack: FakeSlack
) -> None:
    """Two PDFs in one message, each job reported on by its own reporter: one fails while
    the other runs. The message keeps the hourglass, then shows the failure alone."""
    first, second = (
        shared_job(store, succeeded=False),
        shared_job(store, succeeded=False, file_id="F2"),
    )
    a = make_reporter(redis_client, store, slack, "reporter-a")
    b = make_reporter(redis_client, store, slack, "reporter-b")
    render_reaction(a, first)
    render_reaction(b, second)
    assert slack.reactions == ["hourglass_flowing_sand"]

    assert store.transition(first, State.FAILED, fields=FAILED)
    render_reaction(a, first)
    assert slack.reactions == ["hourglass_flowing_sand"]

    assert store.transition(second, State.SUCCEEDED, fields=DONE)
    render_reaction(b, second)
    assert slack.reactions == ["x"]
    render_reaction(a, first)  # a late event changes nothing
    assert slack.reactions == ["x"]
    assert slack.called.count("reactions.add") == 2


def test_a_message_whose_reaction_another_reporter_is_changing_waits_for_it(
    redis_client: redis.Redis, store: JobStore, slack: FakeSlack
) -> None:
    job_id = shared_job(store)
    reporter = make_reporter(redis_client, store, slack, "reporter-a")
    with MessageReactions(redis_client).locked(store.get(job_id)) as held:  # type: ignore[arg-type]
        assert held
        with pytest.raises(Deferred):
            reporter.render(job_id)
        assert slack.reactions == [] and len(slack.posted(OUTCOME_KIND)) == 1
    settle(reporter)
    assert slack.reactions == ["white_check_mark"]


def test_jobs_reported_on_before_messages_were_indexed_still_end_on_one_reaction(
    redis_client: redis.Redis, store: JobStore, slack: FakeSlack
) -> None:
    """Jobs made by an earlier version: no index of the message's jobs, and each job kept
    the reaction it set. They join the index as they are reported on."""
    first, second = (
        shared_job(store, succeeded=False),
        shared_job(store, succeeded=False, file_id="F2"),
    )
    redis_client.delete(message_index_key(CHANNEL, SHARE_TS))
    for job_id in (first, second):
        store.set_fields(job_id, reaction="hourglass_flowing_sand")
    slack.reactions = ["hourglass_flowing_sand"]
    reporter = make_reporter(redis_client, store, slack, "reporter-a")

    assert store.transition(first, State.SUCCEEDED, fields=DONE)
    render_reaction(reporter, first)  # its sibling is not indexed yet: it looks alone
    render_reaction(reporter, second)
    assert slack.reactions == ["hourglass_flowing_sand"]
    assert store.transition(second, State.FAILED, fields=FAILED)
    render_reaction(reporter, second)
    assert slack.reactions == ["x"]


def test_a_post_slack_took_in_a_long_thread_is_found_not_made_twice(
    redis_client: redis.Redis, store: JobStore, slack: FakeSlack
) -> None:
    """The share's thread holds 150 replies from before the job and 205 since; Slack takes
    the progress message but answers 500. The look-up reads only replies since the job was
    made, page after page, and finds it on the second page."""
    slack.chatter(150, seconds_ago=3600)
    job_id = shared_job(store, succeeded=False)
    slack.chatter(205)
    slack.applied_but_failed.add("chat.postMessage")
    reporter = make_reporter(redis_client, store, slack, "reporter-a")
    with pytest.raises(Deferred):
        reporter.render(job_id)
    reporter.render(job_id)

    assert len(slack.posted(PROGRESS_KIND)) == 1
    assert store.get_field(job_id, "progress_ts") == slack.thread[-1]["ts"]
    lookups = [body for method, body in slack.bodies if method == "conversations.replies"]
    assert len(lookups) == 2
    since = store.get(job_id).created_at - LOOKUP_MARGIN_S  # type: ignore[union-attr]
    assert [float(body["oldest"]) for body in lookups] == pytest.approx([since, since], abs=1e-3)
