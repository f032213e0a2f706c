"""`/jobs`: answered in the ack itself, visible only to the caller, well inside Slack's 3 s."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from docjobs.bot.command_views import SORRY
from docjobs.bot.deps import BotDeps
from docjobs.bot.jobs_command import Answer, retire_progress_message

logger = logging.getLogger(__name__)


def register(app: App, deps: BotDeps) -> None:
    @app.command("/jobs")
    def on_jobs(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        user = command["user_id"]
        try:
            answer = deps.jobs_command.answer(
                command.get("text", ""), user=user, channel=command["channel_id"]
            )
        except Exception:
            logger.exception("/jobs %r failed", command.get("text"))
            answer = Answer(SORRY)
        ack(response_type="ephemeral", text=answer.text)
        if answer.retried is not None:
            retire_progress_message(client, answer.retried, by=user)
