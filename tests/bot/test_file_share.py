"""Shares the sandbox cannot make: a file deleted before the bot looked it up, a PDF stored
outside Slack, a file shared again in a new message. (A failing files.info call is also
covered end to end, in tests/e2e/test_share_to_outcome.py.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from docjobs.bot.deps import BotDeps
from docjobs.bot.listeners.events.file_share import follow_up, save_files
from docjobs.jobs.store import JobStore
from docjobs.settings import Settings
from tests.bot.test_jobs_command import SentJobs

STUB_EVENT = {
    "type": "message",
    "subtype": "file_share",
    "channel": "C0SHARED",
    "user": "U0ALICE",
    "ts": "1700000000.000100",
    "files": [{"id": "F0STUB", "mode": "file_access", "file_access": "check_file_info"}],
}


@dataclass
class Deps:
    store: JobStore
    queue: SentJobs
    settings: Settings = field(default_factory=lambda: Settings(_env_file=None))


class RefusingSlack:
    """files.info fails with `error` (None: the connection fails); ephemerals are recorded."""

    def __init__(self, error: str | None) -> None:
        self.error = error
        self.told: list[dict[str, Any]] = []

    def files_info(self, *, file: str) -> Any:
        if self.error is None:
            raise ConnectionResetError("connection reset by peer")
        data = {"ok": False, "error": self.error}
        response = SlackResponse(
            client=None,
            http_verb="POST",
            api_url="https://slack.com/api/files.info",
            req_args={},
            data=data,
            headers={},
            status_code=200,
        )
        raise SlackApiError(self.error, response)

    def chat_postEphemeral(self, **kwargs: Any) -> None:  # noqa: N802 (slack_sdk's name)
        self.told.append(kwargs)


def share(slack: RefusingSlack, deps: Deps, event: dict[str, Any] = STUB_EVENT) -> None:
    """What the listener does: the part before Slack's ack, then the part after it."""
    bot_deps = cast(BotDeps, deps)
    follow_up(event, cast(WebClient, slack), bot_deps, save_files(event, bot_deps))


@pytest.fixture
def deps(store: JobStore) -> Deps:
    return Deps(store, SentJobs())


@pytest.mark.parametrize("error", ["ratelimited", "missing_scope", None])
def test_the_sharer_hears_once_that_the_file_was_not_queued(deps: Deps, error: str | None) -> None:
    slack = RefusingSlack(error)
    share(slack, deps)
    share(slack, deps)  # the same event again: no second answer
    [told] = slack.told
    assert told["user"] == "U0ALICE" and told["channel"] == "C0SHARED"
    assert told["thread_ts"] == STUB_EVENT["ts"]
    assert told["text"].startswith(":warning: I did not queue the file you just shared")
    assert (error or "ConnectionResetError") in told["text"]
    assert deps.queue.sent == [] and deps.store.recent_ids(channel="C0SHARED") == []


@pytest.mark.parametrize("error", ["file_not_found", "file_deleted"])
def test_a_file_deleted_before_the_bot_looked_needs_no_answer(deps: Deps, error: str) -> None:
    slack = RefusingSlack(error)
    share(slack, deps)
    assert slack.told == [] and deps.queue.sent == []


def test_a_pdf_stored_outside_slack_is_refused_before_its_link_is_fetched(deps: Deps) -> None:
    external = {
        "id": "F0DRIVE",
        "name": "plan.pdf",
        "mimetype": "application/pdf",
        "filetype": "pdf",
        "mode": "external",
        "is_external": True,
        "external_type": "gdrive",
        "url_private": "https://docs.google.com/document/d/1/export?format=pdf",
    }
    slack = RefusingSlack("unused")
    share(slack, deps, {**STUB_EVENT, "files": [external]})
    [told] = slack.told
    assert "*plan.pdf*" in told["text"] and "stored outside Slack" in told["text"]
    assert deps.queue.sent == [] and deps.store.recent_ids(channel="C0SHARED") == []


PDF_FILE = {
    "id": "F0PLAN",
    "name": "plan.pdf",
    "mimetype": "application/pdf",
    "filetype": "pdf",
    "size": 1000,
    "mode": "hosted",
    "url_private": "https://files.slack.com/files-pri/T1-F0PLAN/plan.pdf",
}


def test_a_file_shared_again_in_a_new_message_points_its_sharer_at_the_first_job(
    deps: Deps,
) -> None:
    slack = RefusingSlack("unused")
    first = {**STUB_EVENT, "files": [PDF_FILE]}
    share(slack, deps, first)
    share(slack, deps, first)  # Slack's redelivery of the same message: no answer
    [(job_id, attempt)] = deps.queue.sent
    assert attempt == 1 and slack.told == []
    again = {**first, "ts": "1700000100.000200", "user": "U0BOB"}
    share(slack, deps, again)
    share(slack, deps, again)
    [told] = slack.told
    assert told["user"] == "U0BOB" and told["thread_ts"] == again["ts"]
    assert f"*plan.pdf* is already job `{job_id}` here" in told["text"]
    assert deps.queue.sent == [(job_id, 1)]  # still one job, sent once


def test_the_job_is_saved_before_the_ack_and_queued_after_it(deps: Deps) -> None:
    saved = save_files({**STUB_EVENT, "files": [PDF_FILE]}, cast(BotDeps, deps))
    [job_id] = deps.store.recent_ids(channel="C0SHARED")
    assert [item.job_id for item in saved] == [job_id] and deps.queue.sent == []


def test_a_file_over_the_size_limit_is_refused_in_the_units_the_worker_uses(deps: Deps) -> None:
    limit = deps.settings.max_file_bytes
    slack = RefusingSlack("unused")
    share(slack, deps, {**STUB_EVENT, "files": [{**PDF_FILE, "size": limit + 10 * 2**20}]})
    [told] = slack.told
    limit_mb = limit / 2**20
    assert f"it is {limit_mb + 10:.1f} MB and the limit is {limit_mb:.1f} MB" in told["text"]
    assert deps.queue.sent == []
