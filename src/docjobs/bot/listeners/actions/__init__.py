from __future__ import annotations

from slack_bolt import App

from docjobs.bot.deps import BotDeps
from docjobs.bot.listeners.actions import job_buttons


def register(app: App, deps: BotDeps) -> None:
    job_buttons.register(app, deps)
