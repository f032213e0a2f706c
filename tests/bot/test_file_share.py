"""A stub share whose files.info call fails: acked already, so the sharer is the one told.
(The sandbox covers the failing call end to end; it cannot delete a file, so "gone" is here.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from docjobs.bot.deps import BotDeps
from docjobs.bot.listeners.events.file_share import handle_file_share
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


def share(slack: RefusingSlack, deps: Deps) -> None:
    handle_file_share(STUB_EVENT, cast(WebClient, slack), cast(BotDeps, deps))


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
    event = {**STUB_EVENT, "files": [external]}
    slack = RefusingSlack("unused")
    handle_file_share(event, cast(WebClient, slack), cast(BotDeps, deps))
    [told] = slack.told
    assert "*plan.pdf*" in told["text"] and "stored outside Slack" in told["text"]
    assert deps.queue.sent == [] and deps.store.recent_ids(channel="C0SHARED") == []
