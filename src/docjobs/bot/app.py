"""Builds the Bolt app; listeners live in `bot.listeners`."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from docjobs.bot.deps import BotDeps
from docjobs.bot.listeners import register_listeners
from docjobs.settings import Settings


def build_web_client(settings: Settings, *, timeout: int = 10) -> WebClient:
    base_url = settings.slack_api_url or WebClient.BASE_URL
    if not base_url.endswith("/"):
        base_url += "/"
    return WebClient(token=settings.slack_bot_token, base_url=base_url, timeout=timeout)


def build_bolt_app(deps: BotDeps) -> App:
    settings = deps.settings
    app = App(
        client=build_web_client(settings),
        signing_secret=settings.slack_signing_secret,
        # auth.test runs lazily on the first request instead of at import: the web service
        # starts even while Slack (or the sandbox) is not reachable yet.
        token_verification_enabled=False,
    )
    register_listeners(app, deps)
    return app
