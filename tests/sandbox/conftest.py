"""The sandbox served over real HTTP, a recording bot endpoint, and clients for both sides."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient

from docjobs.sandbox.app import create_app
from docjobs.sandbox.config import SandboxConfig
from tests.support.receiver import Receiver
from tests.support.servers import serve

TOKEN = "xoxb-sandbox-token"
SECRET = "sandbox-signing-secret"
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"


@dataclass
class Running:
    url: str
    config: SandboxConfig
    http: httpx.Client
    slack: WebClient

    def control(self, verb: str, path: str, **kwargs: Any) -> Any:
        reply = self.http.request(verb, f"{self.url}/control/{path}", **kwargs)
        reply.raise_for_status()
        return reply.json()

    def share(self, content: bytes = b"%PDF-1.4\n", **fields: Any) -> dict[str, Any]:
        import base64

        body = {
            "channel": CHANNEL,
            "user": ALICE,
            "filename": "q3.pdf",
            "content_b64": base64.b64encode(content).decode(),
            **fields,
        }
        return self.control("POST", "share", json=body)  # type: ignore[no-any-return]

    def thread(self, ts: str, channel: str = CHANNEL) -> dict[str, Any]:
        return self.control("GET", "thread", params={"channel": channel, "ts": ts})  # type: ignore[no-any-return]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    bot = Receiver(signing_secret=SECRET)
    with serve(bot.app) as url:
        yield bot, f"{url}/slack/events"


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., Running]]:
    """Start a sandbox with config overrides (short retry delays and ack deadline)."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> Running:
            fields = {"retry_delays": (0.05, 0.1, 0.15), "ack_timeout_s": 0.5, **overrides}
            config = SandboxConfig(**fields)
            url = stack.enter_context(serve(create_app(config)))
            http = stack.enter_context(httpx.Client(timeout=10))
            slack = WebClient(token=TOKEN, base_url=f"{url}/api/", timeout=5)
            return Running(url=url, config=config, http=http, slack=slack)

        yield start


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Running]) -> Running:
    """No bot endpoint, no rate limits: the Web API and control API on their own."""
    return start_sandbox(rate_limits=False)
