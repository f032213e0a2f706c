from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse

from docjobs.bot.deps import BotDeps
from docjobs.bot.listeners.events import file_share

logger = logging.getLogger(__name__)


def register(app: App, deps: BotDeps) -> None:
    file_share.register(app, deps)


def register_last(app: App) -> None:
    """Every other delivery is acknowledged: Bolt answers what no listener takes with 404,
    which Slack retries and counts as failed; past 95% failures in an hour it turns the app's
    event subscriptions off."""

    @app.middleware
    def rate_limited(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        # Sent without a subscription, outside event_callback, once a minute while over
        # 30,000 events an hour: the events of that minute are not delivered at all.
        if body.get("type") == "app_rate_limited":
            logger.warning(
                "Slack is dropping this app's events: over its events limit (minute %s)",
                body.get("minute_rate_limited"),
            )
            return BoltResponse(status=200, body="")
        next()
        return None

    @app.event(re.compile(".*"))
    def on_any_other_event(body: dict[str, Any]) -> None:
        logger.debug("event %s acknowledged and ignored", body.get("event", {}).get("type"))
