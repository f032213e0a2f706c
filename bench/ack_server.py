"""A child process serving one of the two apps the ack benchmark compares, with the same
uvicorn setup as `docjobs web` (services.run_web): the real web app, or a bare Bolt app that
only acks, mounted on the real `/slack/events` route.

    python -m bench.ack_server {real|bare} PORT REDIS_URL SLACK_API_URL DATA_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from slack_bolt import Ack, App
from slack_sdk import WebClient

from docjobs.settings import Settings
from docjobs.webhooks import slack
from docjobs.webhooks.app import create_app
from tests.support.stack import BOT_TOKEN, SIGNING_SECRET


def build_bare_app(slack_api_url: str) -> FastAPI:
    bolt = App(
        client=WebClient(token=BOT_TOKEN, base_url=slack_api_url),
        signing_secret=SIGNING_SECRET,
        token_verification_enabled=False,  # as the real app: auth.test on the first request
    )

    @bolt.event("message")
    def on_message() -> None:
        return None

    @bolt.event("file_shared")
    def on_file_shared() -> None:
        return None

    @bolt.command("/jobs")
    def on_jobs(ack: Ack, command: dict[str, Any]) -> None:
        ack(response_type="ephemeral", text="ok")

    app = FastAPI(title="bare bolt")
    app.state.bolt = bolt
    app.include_router(slack.router)  # the very route the real app mounts

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    return app


def main(argv: list[str]) -> None:
    which, port, redis_url, slack_api_url, data_dir = argv
    if which == "real":
        settings = Settings(
            _env_file=None,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack_api_url,
            REDIS_URL=redis_url,
            data_dir=Path(data_dir),
            web_port=int(port),
        )
        app = create_app(settings)
    else:
        app = build_bare_app(slack_api_url)
    # What services.run_web passes to uvicorn.
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
