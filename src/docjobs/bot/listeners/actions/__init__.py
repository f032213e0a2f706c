from __future__ import annotations

from slack_bolt import App

from docjobs.bot.deps import BotDeps


def register(app: App, deps: BotDeps) -> None:
    """Filled in by the /jobs work (issue 4)."""
