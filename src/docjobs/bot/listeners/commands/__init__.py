from __future__ import annotations

from slack_bolt import App

from docjobs.bot.deps import BotDeps
from docjobs.bot.listeners.commands import jobs


def register(app: App, deps: BotDeps) -> None:
    jobs.register(app, deps)
