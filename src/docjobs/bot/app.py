"""Builds the Bolt app; listeners live in `bot.listeners`."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

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
    client = build_web_client(settings, timeout=settings.slack_timeout_s)
    # Listeners run after the ack, in Bolt's thread pool: there they may wait out a 429 or a
    # Slack 5xx rather than drop a reply (the reporter paces itself instead; see reporter.py).
    client.retry_handlers.extend(
        [RateLimitErrorRetryHandler(max_retry_count=3), ServerErrorRetryHandler(max_retry_count=2)]
    )
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret,
        # auth.test runs lazily on the first request instead of at import: the web service
        # starts even while Slack (or the sandbox) is not reachable yet.
        token_verification_enabled=False,
    )
    register_listeners(app, deps)
    return app
