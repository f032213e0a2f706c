from __future__ import annotations

from slack_bolt import App

from docjobs.bot.deps import BotDeps
from docjobs.bot.listeners.events import file_share


def register(app: App, deps: BotDeps) -> None:
    file_share.register(app, deps)
