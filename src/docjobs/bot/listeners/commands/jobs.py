"""`/jobs`: answered in the ack itself, visible only to the caller, well inside Slack's 3 s."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from docjobs.bot.deps import BotDeps

logger = logging.getLogger(__name__)


def register(app: App, deps: BotDeps) -> None:
    @app.command("/jobs")
    def on_jobs(ack: Ack, command: dict[str, Any]) -> None:
        try:
            text = deps.jobs_command.answer(
                command.get("text", ""), user=command["user_id"], channel=command["channel_id"]
            )
        except Exception:
            logger.exception("/jobs %r failed", command.get("text"))
            text = "Sorry, something went wrong on my side; nothing was changed. Try again soon."
        ack(response_type="ephemeral", text=text)
