"""The workspace in memory: channels and messages (with every visible change recorded, in
order), files, users, ephemeral messages, and logs of Web API calls and deliveries."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Message:
    ts: str
    channel: str
    text: str = ""
    user: str | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    subtype: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edited: bool = False
    deleted: bool = False

    @property
    def root(self) -> str:
        return self.thread_ts or self.ts

    def to_api(self, *, with_metadata: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        for key in ("user", "bot_id", "thread_ts", "subtype"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.blocks:
            out["blocks"] = self.blocks
        if self.files:
            out["files"] = self.files
        if self.reactions:
            out["reactions"] = [
                {"name": n, "users": u, "count": len(u)} for n, u in self.reactions.items()
            ]
        if self.edited:
            out["edited"] = {"user": self.user or self.bot_id, "ts": self.ts}
        if with_metadata and self.metadata:
            out["metadata"] = self.metadata
        return out


@dataclass
class SharedFile:
    id: str
    name: str
    mimetype: str
    filetype: str
    size: int
    path: Path
    user: str
    channel: str
    created: int
    fail_download: int | None = None  # an HTTP status to answer downloads with


class Workspace:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.messages: dict[str, list[Message]] = {}
        self.changes: list[dict[str, Any]] = []
        self.files: dict[str, SharedFile] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self._counter = itertools.count(1)
        self._last_ts = 0.0

    def next_ts(self) -> str:
        """Slack timestamps: seconds.microseconds, unique and increasing per workspace."""
        with self.lock:
            self._last_ts = max(time.time(), self._last_ts + 0.000001)
            return f"{self._last_ts:.6f}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._counter):08d}"

    def add_message(self, message: Message) -> Message:
        with self.lock:
            self.messages.setdefault(message.channel, []).append(message)
            self.record(message, "posted", text=message.text)
            return message

    def find(self, channel: str, ts: str) -> Message | None:
        for message in self.messages.get(channel, []):
            if message.ts == ts and not message.deleted:
                return message
        return None

    def thread(self, channel: str, ts: str) -> list[Message]:
        return [
            m
            for m in self.messages.get(channel, [])
            if not m.deleted and (m.ts == ts or m.thread_ts == ts)
        ]

    def record(self, message: Message, kind: str, **details: Any) -> None:
        self.changes.append(
            {
                "kind": kind,
                "channel": message.channel,
                "root": message.root,
                "ts": message.ts,
                "at": time.time(),
                "user": message.user,
                "bot_id": message.bot_id,
                **details,
            }
        )

    def user_profile(self, user_id: str) -> dict[str, Any]:
        profile = {
            "id": user_id,
            "name": user_id.lower(),
            "real_name": user_id,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_bot": False,
            "deleted": False,
        }
        profile.update(self.users.get(user_id, {}))
        return profile
