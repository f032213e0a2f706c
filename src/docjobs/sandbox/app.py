"""`create_app(config)`: the sandbox as an ASGI app (uvicorn, or served in-process by tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from docjobs.sandbox import control, files, webapi
from docjobs.sandbox.config import SandboxConfig
from docjobs.sandbox.sandbox import Sandbox


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    sandbox = Sandbox(config or SandboxConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            sandbox.close()

    app = FastAPI(title="docjobs Slack sandbox", lifespan=lifespan)
    app.state.sandbox = sandbox
    app.include_router(webapi.router)
    app.include_router(files.router)
    app.include_router(control.router)
    return app
