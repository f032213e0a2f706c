"""The workspace in memory, behind one lock: channels and their messages (with every visible
change recorded in order), shared files, users, ephemeral messages, response URLs, and the logs
of Web API calls and deliveries that tests read back."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from docjobs.sandbox.errors import SlackError
from docjobs.sandbox.models import Ephemeral, Message, SharedFile

# Public (C), private (G) and direct (D) conversations; a channel exists once it is used.
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass
class ResponseTarget:
    """Where a response_url's answers go: the command's or the clicked message's conversation."""

    kind: str  # "command" or "action"
    channel: str
    user: str
    created: float
    message_ts: str | None = None  # the message whose button was clicked
    thread_ts: str | None = None
    is_ephemeral: bool = False
    uses: int = 0


class Workspace:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.generation = 0
        self.clear()

    def clear(self) -> None:
        """Forget everything; deliveries still pending from before stop (see `generation`)."""
        with self.lock:
            self.generation += 1
            self.channels: dict[str, list[Message]] = {}
            self._by_ts: dict[tuple[str, str], Message] = {}
            self.changes: list[dict[str, Any]] = []
            self.files: dict[str, SharedFile] = {}
            self.users: dict[str, dict[str, Any]] = {}
            self.ephemerals: list[Ephemeral] = []
            self.responses: dict[str, ResponseTarget] = {}
            self.calls: list[dict[str, Any]] = []
            self.deliveries: list[dict[str, Any]] = []
            # Channels the bot was removed from (or that were archived while it was in them).
            self.without_bot: set[str] = set()

    # --- channels and messages -------------------------------------------------------------

    def open_channel(self, channel: str) -> list[Message]:
        if not CHANNEL_ID.match(channel or ""):
            raise SlackError("channel_not_found")
        return self.channels.setdefault(channel, [])

    def known_channel(self, channel: str) -> list[Message]:
        """For the bot's reads and its calls on messages: a channel nobody has used yet is one
        it cannot see, and one it was removed from answers not_in_channel."""
        if channel not in self.channels:
            raise SlackError("channel_not_found")
        if channel in self.without_bot:
            raise SlackError("not_in_channel")
        return self.channels[channel]

    def bot_channel(self, channel: str) -> list[Message]:
        """Where the bot posts: any channel, as it was invited there (chat:write), but
        not_in_channel once it was removed from it."""
        messages = self.open_channel(channel)
        if channel in self.without_bot:
            raise SlackError("not_in_channel")
        return messages

    def add_message(self, message: Message) -> Message:
        with self.lock:
            self.open_channel(message.channel).append(message)
            self._by_ts[(message.channel, message.ts)] = message
            self.record(message, "posted", text=message.text, subtype=message.subtype)
            return message

    def find(self, channel: str, ts: str, *, deleted: bool = False) -> Message | None:
        message = self._by_ts.get((channel, ts))
        if message is None or (message.deleted and not deleted):
            return None
        return message

    def thread_root(self, channel: str, ts: str) -> str | None:
        """Replying to a reply lands in its parent's thread, as in Slack."""
        message = self.find(channel, ts)
        return None if message is None else message.root

    def replies(self, channel: str, root: str) -> list[Message]:
        return [
            m
            for m in self.channels.get(channel, [])
            if m.thread_ts == root and m.ts != root and not m.deleted
        ]

    def api_message(self, message: Message, *, with_metadata: bool = True) -> dict[str, Any]:
        """A message as the Web API returns it, with the thread fields a parent carries."""
        out = message.to_api(with_metadata=with_metadata)
        if message.thread_ts and message.thread_ts != message.ts:
            parent = self.find(message.channel, message.thread_ts, deleted=True)
            if parent is not None and parent.user:
                out["parent_user_id"] = parent.user
            return out
        replies = self.replies(message.channel, message.ts)
        if replies:
            users = list(dict.fromkeys(r.user or r.bot_id or "" for r in replies))
            out.update(
                thread_ts=message.ts,
                reply_count=len(replies),
                reply_users_count=len(users),
                reply_users=users,
                latest_reply=replies[-1].ts,
            )
        return out

    def record(self, message: Message, kind: str, **details: Any) -> None:
        """One visible change, in the order people saw it."""
        entry = {
            "seq": len(self.changes) + 1,
            "kind": kind,
            "channel": message.channel,
            "root": message.root,
            "ts": message.ts,
            "at": time.time(),
            "user": message.user,
            "bot_id": message.bot_id,
        }
        entry.update(details)
        self.changes.append(entry)

    # --- users ---------------------------------------------------------------------------------

    def user_profile(self, user_id: str, *, bot_user_id: str = "", team_id: str = "") -> dict:
        """Any user id is a member (a plain, non-admin one unless the control API said else)."""
        overrides = self.users.get(user_id, {})
        is_bot = user_id == bot_user_id
        name = overrides.get("name") or user_id.lower()
        real_name = overrides.get("real_name") or name
        profile = {
            "id": user_id,
            "team_id": team_id,
            "name": name,
            "real_name": real_name,
            "deleted": False,
            "tz": "Europe/London",
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "profile": {"real_name": real_name, "display_name": name, "team": team_id},
        }
        profile.update({k: v for k, v in overrides.items() if k not in ("name", "real_name")})
        return profile
