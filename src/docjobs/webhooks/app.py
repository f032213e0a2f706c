"""The FastAPI service. Clients are built in the lifespan, not at import."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI
from redis.backoff import NoBackoff
from redis.retry import Retry

from docjobs.bot.app import build_bolt_app
from docjobs.bot.deps import BotDeps
from docjobs.bot.queue import JobQueue
from docjobs.jobs.connection import connect
from docjobs.jobs.store import JobStore
from docjobs.settings import Settings, get_settings
from docjobs.webhooks import results, slack, status

logger = logging.getLogger(__name__)


class WebCannotStart(ValueError):
    """Settings the web service refuses to start with: it would be open to forgery, or
    serve Slack wrongly, or not work at all."""


def check_web_settings(settings: Settings) -> None:
    """Raise WebCannotStart for settings that would leave the service open: checked before
    it listens, since a warning in a log is read only after someone has used the opening."""
    if not settings.redis_url:
        raise WebCannotStart("REDIS_URL is not set: jobs and their results live there")
    if settings.slack_signing_secret and not settings.slack_bot_token:
        raise WebCannotStart(
            "SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not: the Slack endpoint "
            "/slack/events needs both (set neither to serve results and status only)"
        )
    if settings.slack_bot_token and not (settings.slack_signing_secret or settings.slack_app_token):
        raise WebCannotStart(
            "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not: the Slack endpoint "
            "/slack/events checks every request against it (for Socket Mode instead, set "
            "SLACK_APP_TOKEN and run `docjobs bot`)"
        )
    if settings.has_development_results_secret and not settings.slack_is_local:
        # The built-in value is in this repository: with it, anyone could post a signed
        # outcome for any job or read GET /jobs/{id} (file, channel, sharer).
        raise WebCannotStart(
            "DOCJOBS_RESULTS_SECRET is the built-in development value, which is public, and "
            "SLACK_BOT_TOKEN is set for a real Slack: set DOCJOBS_RESULTS_SECRET to a secret "
            "of your own (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'), "
            "the same for the web service and the workers"
        )


def serves_slack(settings: Settings) -> bool:
    """Whether /slack/events is mounted (HTTP mode)."""
    return bool(settings.slack_bot_token and settings.slack_signing_secret)


def describe_slack_endpoint(settings: Settings) -> str:
    """The start-up line's account of the Slack endpoint: a 404 from Slack's side is
    otherwise the first sign that it is off."""
    if serves_slack(settings):
        return f"on (HTTP mode; Slack's Web API at {settings.slack_api_url or 'slack.com'})"
    if settings.slack_app_token:
        return "off (Socket Mode: `docjobs bot` takes Slack's events)"
    return "off (no Slack tokens: results, status, health and metrics only)"


def index_active_states_until_done(
    store: JobStore, stop: threading.Event, *, retry_s: float = 2.0
) -> None:
    """Index the active jobs by state (a store written by an older version lacks the index),
    trying again until Redis answers or `stop` is set. Not in the start-up itself: the web
    service must start before Redis does, as the worker and the reporter wait for it, rather
    than have uvicorn give up on its lifespan."""
    while not stop.is_set():
        try:
            store.index_active_states()
        except redis.RedisError as exc:
            logger.warning(
                "Redis does not answer yet (%s: %s); indexing active jobs again in %.0f s",
                type(exc).__name__,
                exc,
                retry_s,
            )
            stop.wait(retry_s)
        else:
            logger.info("active jobs indexed by state")
            return


def health_client(url: str) -> redis.Redis:
    """A client for /healthz alone: one try, a second at most. The shared client retries for
    ~33 s so that a Redis restart is a pause, which would make each probe hold a thread that
    long and answer after the prober has given up."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0)
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service; raises WebCannotStart for settings `check_web_settings` refuses."""
    settings = settings or get_settings()
    check_web_settings(settings)
    redis_url = settings.redis_url
    assert redis_url  # checked above; for mypy inside the lifespan

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.has_development_results_secret:
            logger.warning(
                "DOCJOBS_RESULTS_SECRET is the built-in development value: fine against the "
                "sandbox, refused with a real Slack; set your own"
            )
        client = connect(redis_url)
        store = JobStore(client)
        stop_indexing = threading.Event()
        indexer = threading.Thread(
            target=index_active_states_until_done,
            args=(store, stop_indexing),
            name="index-active-states",
            daemon=True,  # may be inside the client's own retries when the service stops
        )
        indexer.start()
        app.state.settings = settings
        app.state.store = store
        app.state.health_redis = health_client(redis_url)
        queue = None
        if serves_slack(settings):
            queue = JobQueue(settings, store)
            app.state.bolt = build_bolt_app(BotDeps(settings=settings, store=store, queue=queue))
        try:
            yield
        finally:
            stop_indexing.set()
            if queue is not None:
                queue.close()
            client.close()
            app.state.health_redis.close()

    app = FastAPI(title="docjobs", lifespan=lifespan)
    app.include_router(results.router)
    app.include_router(status.router)
    if serves_slack(settings):
        app.include_router(slack.router)
    return app
