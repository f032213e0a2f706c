"""`create_app(config)`: the sandbox as an ASGI app, for uvicorn or tests serving it in-process.

uvicorn --factory docjobs.sandbox.app:default_app --port 8100
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docjobs.sandbox import control, files, interactions, webapi
from docjobs.sandbox.config import SandboxConfig
from docjobs.sandbox.sandbox import Sandbox


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    sandbox = Sandbox(config or SandboxConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            sandbox.close()  # stops pending deliveries, removes the files' temp dir

    app = FastAPI(title="docjobs Slack sandbox", lifespan=lifespan)
    app.state.sandbox = sandbox
    app.include_router(webapi.router)
    app.include_router(files.router)
    app.include_router(control.router)
    app.include_router(interactions.router)
    return app


def default_app() -> FastAPI:
    """For `uvicorn --factory`: the defaults, delivering to a bot on 127.0.0.1:8000."""
    return create_app(SandboxConfig(bot_endpoint_url="http://127.0.0.1:8000/slack/events"))
