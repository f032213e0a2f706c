"""`/jobs`: answered in the ack itself, visible only to the caller, well inside Slack's 3 s."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from docjobs.bot.command_views import SORRY
from docjobs.bot.deps import BotDeps
from docjobs.bot.jobs_command import Answer, retire_progress_message

logger = logging.getLogger(__name__)

# Slack shows its own error if the ack takes over 3 s: an answer that needs Redis longer than
# this (Redis stalled, or out of reach and the client retrying) gets a plain word instead.
ANSWER_WITHIN_S = 2.0
STORE_SLOW = (
    "The job store did not answer in time, so I cannot tell you just now. "
    "Try again in a minute (a cancel or retry you asked for may still happen)."
)
# Answers that outlive the deadline run on here, so each command's thread is free to ack.
_answers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="jobs-command")


def register(app: App, deps: BotDeps) -> None:
    @app.command("/jobs")
    def on_jobs(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        user, text = command["user_id"], command.get("text", "")
        pending = _answers.submit(
            deps.jobs_command.answer, text, user=user, channel=command["channel_id"]
        )
        try:
            answer = pending.result(timeout=ANSWER_WITHIN_S)
        except TimeoutError:
            logger.warning("/jobs %r: no answer within %.0f s (Redis?)", text, ANSWER_WITHIN_S)
            pending.add_done_callback(lambda done: _retire_late(done, client, user))
            answer = Answer(STORE_SLOW)
        except Exception:
            logger.exception("/jobs %r failed", text)
            answer = Answer(SORRY)
        ack(response_type="ephemeral", text=answer.text)
        if answer.retried is not None:
            retire_progress_message(client, answer.retried, by=user)


def _retire_late(done: Future[Answer], client: WebClient, user: str) -> None:
    """A retry that went through after its ack still retires the old progress message."""
    if done.exception() is None and (retried := done.result().retried) is not None:
        retire_progress_message(client, retried, by=user)
