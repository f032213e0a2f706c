"""One package per Slack surface, each with `register(app, deps)`."""

from __future__ import annotations

from slack_bolt import App

from docjobs.bot.deps import BotDeps
from docjobs.bot.listeners import actions, commands, events

# The Events API subscriptions the listeners need: a file shared in a public or private
# channel arrives as its `message` event. deploy/slack-manifest.yml subscribes to exactly
# these (a test checks), and the sandbox delivers only these. Not `file_shared`: it only
# repeats the share's ids, one more delivery per share for nothing.
BOT_EVENTS = ("message.channels", "message.groups")


def register_listeners(app: App, deps: BotDeps) -> None:
    events.register(app, deps)
    commands.register(app, deps)
    actions.register(app, deps)
    events.register_last(app)
