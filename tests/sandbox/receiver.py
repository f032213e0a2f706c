"""A stand-in for the bot's HTTP endpoint: it records every request (path, headers, raw body,
whether Slack's signature checks out) and answers as scripted — a status, a delay, headers such
as `X-Slack-No-Retry` or `Location`, or a body trickled out slowly — to test what a sender does
with each answer."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from slack_sdk.signature import SignatureVerifier


@dataclass
class Reply:
    status: int = 200
    delay_s: float = 0.0  # before the answer starts
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "text/plain"
    trickle_s: float = 0.0  # the answer starts at once, but each body byte takes this long


@dataclass
class Received:
    path: str
    method: str
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
    def retry_reason(self) -> str | None:
        return self.headers.get("x-slack-retry-reason")

    @property
    def event_id(self) -> str | None:
        if self.headers.get("content-type", "").startswith("application/json"):
            return self.json().get("event_id")  # type: ignore[no-any-return]
        return None


class Receiver:
    """`Receiver(signing_secret=...)`; serve `.app`; script with `.answer(Reply(...), ...)`.
    A request with a bad signature gets bolt's 401 (and is still recorded)."""

    def __init__(self, *, signing_secret: str | None = None) -> None:
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.default = Reply()
        self._script: deque[Reply] = deque()
        self._requests: list[Received] = []
        self._lock = threading.Lock()
        self.app = FastAPI()
        self.app.add_api_route("/{path:path}", self._receive, methods=["POST", "GET"])

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

    def events(self, event_id: str) -> list[Received]:
        return [r for r in self.requests if r.event_id == event_id]

    def wait_for(self, count: int, *, timeout_s: float = 5.0, **match: Any) -> list[Received]:
        """The first `count` requests whose attributes equal `match` (e.g. event_id=...)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [r for r in self.requests if all(getattr(r, k) == v for k, v in match.items())]
            if len(found) >= count:
                return found[:count]
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} requests in {timeout_s}s")
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
        received = Received(f"/{path}", request.method, headers, body, time.time(), ok)
        with self._lock:
            self._requests.append(received)
            reply = self._script.popleft() if self._script else self.default
        if ok is False:
            return Response('{"error": "invalid request"}', status_code=401)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.trickle_s:
            return StreamingResponse(
                _trickle(reply.body.encode(), reply.trickle_s),
                status_code=reply.status,
                headers=reply.headers,
                media_type=reply.media_type,
            )
        return Response(
            reply.body, status_code=reply.status, headers=reply.headers, media_type=reply.media_type
        )


async def _trickle(body: bytes, pause_s: float) -> AsyncIterator[bytes]:
    for index in range(len(body)):
        yield body[index : index + 1]
        await asyncio.sleep(pause_s)
