"""The sandbox served over real HTTP (at its `public_url`), a recording bot endpoint, clients
for both sides, and a check that every test leaves no server or delivery thread behind."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient

from docjobs.embedded_redis import free_port
from docjobs.sandbox.app import create_app
from docjobs.sandbox.config import SandboxConfig
from tests.sandbox.receiver import Receiver
from tests.support.servers import serve, wait_until

TOKEN = "xoxb-sandbox-token"
SECRET = "sandbox-signing-secret"
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"
BOT_USER, BOT_ID = "UBOTSANDBOX", "BSANDBOX"

Bot = tuple[Receiver, str]


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
        body = {
            "channel": CHANNEL,
            "user": ALICE,
            "filename": "q3.pdf",
            "content_b64": base64.b64encode(content).decode(),
            **fields,
        }
        return self.control("POST", "share", json=body)  # type: ignore[no-any-return]

    def say(self, text: str = "hi", **fields: Any) -> dict[str, Any]:
        """A person posts a message (its `message` event goes to the bot)."""
        body = {"channel": CHANNEL, "user": ALICE, "text": text, **fields}
        return self.control("POST", "messages", json=body)  # type: ignore[no-any-return]

    def thread(self, ts: str, channel: str = CHANNEL) -> dict[str, Any]:
        params = {"channel": channel, "ts": ts}
        return self.control("GET", "thread", params=params)  # type: ignore[no-any-return]

    def calls(self, method: str | None = None) -> dict[str, Any]:
        params = {"method": method} if method else {}
        return self.control("GET", "calls", params=params)  # type: ignore[no-any-return]

    def settled(self) -> None:
        """Once every event's delivery is over, retries and redeliveries included: what has
        not reached the bot by then never will."""
        wait_until(lambda: self.control("GET", "deliveries/pending")["pending"] == 0)

    def deliveries(self, count: int = 0) -> list[dict[str, Any]]:
        """The delivery log once it has at least `count` entries (waits for them)."""
        return wait_until(lambda: _at_least(self.control("GET", "deliveries"), count))  # type: ignore[no-any-return]


def _at_least(log: list[dict[str, Any]], count: int) -> list[dict[str, Any]] | bool:
    return log if len(log) >= count else False


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Servers and delivery threads stop with the test that started them (a server's idle
    AnyIO workers go with its event loop)."""
    before = set(threading.enumerate())
    yield

    def leftovers() -> list[str]:
        new = set(threading.enumerate()) - before
        return [t.name for t in new if not t.name.startswith("AnyIO worker")]

    wait_until(lambda: not leftovers(), timeout_s=5)


@pytest.fixture
def receiver() -> Iterator[Bot]:
    bot = Receiver(signing_secret=SECRET)
    with serve(bot.app) as url:
        yield bot, f"{url}/slack/events"


def _start(stack: ExitStack, **overrides: Any) -> Running:
    """A sandbox with config overrides (short retry delays and ack deadline), served on a port
    picked first so that `public_url` — the base of every url_private — is its URL."""
    port = free_port()
    fields = {
        "retry_delays": (0.1, 0.2, 0.3),
        "ack_timeout_s": 0.5,
        "public_url": f"http://127.0.0.1:{port}",
        **overrides,
    }
    config = SandboxConfig(**fields)
    url = stack.enter_context(serve(create_app(config), port=port))
    http = stack.enter_context(httpx.Client(timeout=10))
    slack = WebClient(token=TOKEN, base_url=f"{url}/api/", timeout=5)
    return Running(url=url, config=config, http=http, slack=slack)


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., Running]]:
    """`start_sandbox(**config)`: a sandbox of the test's own, stopped after it."""
    with ExitStack() as stack:
        yield lambda **overrides: _start(stack, **overrides)


@pytest.fixture(scope="module")
def _shared_sandbox() -> Iterator[Running]:
    with ExitStack() as stack:
        yield _start(stack, rate_limits=False)


@pytest.fixture
def sandbox(_shared_sandbox: Running) -> Running:
    """No bot endpoint, no rate limits: the Web API and control API on their own; one server
    per module, reset (by the control API) for each test."""
    _shared_sandbox.control("POST", "reset")
    return _shared_sandbox
