"""One package per Slack surface, each with `register(app, deps)`."""

from __future__ import annotations

from slack_bolt import App

from docjobs.bot.deps import BotDeps
from docjobs.bot.listeners import actions, commands, events


def register_listeners(app: App, deps: BotDeps) -> None:
    events.register(app, deps)
    commands.register(app, deps)
    actions.register(app, deps)
