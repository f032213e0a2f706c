"""A minimal stand-in for the bot's HTTP endpoint: it records every request (headers, raw
body, whether Slack's signature checks out) and answers as scripted — a status, a delay,
headers such as `X-Slack-No-Retry` — to test what a sender does with each answer."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import Response
from slack_sdk.signature import SignatureVerifier


@dataclass
class Reply:
    status: int = 200
    delay_s: float = 0.0
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "text/plain"


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float
    signature_ok: bool | None  # None: the receiver has no secret to check with

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.text, keep_blank_values=True))

    @property
    def retry_num(self) -> int | None:
        value = self.headers.get("x-slack-retry-num")
        return None if value is None else int(value)

    @property
    def event_id(self) -> str | None:
        if self.headers.get("content-type", "").startswith("application/json"):
            return self.json().get("event_id")
        return None


class Receiver:
    """`Receiver(signing_secret=...)`; serve `.app`; script with `.answer(Reply(...), ...)`."""

    def __init__(
        self, *, signing_secret: str | None = None, reject_bad_signatures: bool = True
    ) -> None:
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.reject_bad_signatures = reject_bad_signatures
        self.default = Reply()
        self._script: deque[Reply] = deque()
        self._requests: list[Received] = []
        self._lock = threading.Lock()
        self.app = FastAPI()
        self.app.add_api_route("/{path:path}", self._receive, methods=["POST"])

    def answer(self, *replies: Reply, default: Reply | None = None) -> None:
        """Answer the next requests with `replies` in order, then with `default`."""
        with self._lock:
            self._script.extend(replies)
            if default is not None:
                self.default = default

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def wait_for(self, count: int, *, timeout_s: float = 5.0, **match: Any) -> list[Received]:
        """The first `count` requests whose attributes equal `match` (e.g. event_id=...)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [r for r in self.requests if all(getattr(r, k) == v for k, v in match.items())]
            if len(found) >= count or time.monotonic() > deadline:
                if len(found) < count:
                    raise AssertionError(f"{len(found)} of {count} requests in {timeout_s}s")
                return found[:count]
            time.sleep(0.02)

    async def _receive(self, path: str, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        ok = None
        if self.verifier is not None:
            ok = self.verifier.is_valid(
                body=body.decode(),
                timestamp=headers.get("x-slack-request-timestamp", ""),
                signature=headers.get("x-slack-signature", ""),
            )
        with self._lock:
            self._requests.append(Received(f"/{path}", headers, body, time.time(), ok))
            reply = self._script.popleft() if self._script else self.default
        if ok is False and self.reject_bad_signatures:
            return Response('{"error": "invalid request"}', status_code=401)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        return Response(
            reply.body, status_code=reply.status, headers=reply.headers, media_type=reply.media_type
        )
