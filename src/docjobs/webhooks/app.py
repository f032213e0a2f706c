"""The FastAPI service. Clients are built in the lifespan, not at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docjobs.bot.app import build_bolt_app
from docjobs.bot.deps import BotDeps
from docjobs.bot.queue import JobQueue
from docjobs.jobs.connection import connect
from docjobs.jobs.store import JobStore
from docjobs.settings import Settings, get_settings
from docjobs.webhooks import results, slack, status

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        assert settings.redis_url, "REDIS_URL is required"
        if settings.results_secret == Settings.model_fields["results_secret"].default:
            logger.warning("DOCJOBS_RESULTS_SECRET is the built-in development value; set your own")
        client = connect(settings.redis_url)
        store = JobStore(client)
        store.index_active_states()  # a store written by an older version lacks them
        app.state.settings = settings
        app.state.store = store
        queue = None
        if settings.slack_bot_token and settings.slack_signing_secret:
            queue = JobQueue(settings, store)
            app.state.bolt = build_bolt_app(BotDeps(settings=settings, store=store, queue=queue))
        try:
            yield
        finally:
            if queue is not None:
                queue.close()
            client.close()

    app = FastAPI(title="docjobs", lifespan=lifespan)
    app.include_router(results.router)
    app.include_router(status.router)
    if settings.slack_bot_token and settings.slack_signing_secret:
        app.include_router(slack.router)
    return app
