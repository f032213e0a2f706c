"""What the workspace holds — messages, shared files, ephemeral messages — and their shapes
in Web API answers and event payloads, as Slack writes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

PRETTY_TYPES = {
    "pdf": "PDF",
    "text": "Plain Text",
    "txt": "Plain Text",
    "zip": "Zip",
    "html": "HTML",
    "png": "PNG",
    "jpg": "JPEG",
    "docx": "Word Document",
}


@dataclass
class Message:
    channel: str
    ts: str = ""  # given when it is added to the workspace
    text: str = ""
    user: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    thread_ts: str | None = None  # the parent's ts, for a reply
    subtype: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edited: dict[str, str] | None = None
    deleted: bool = False

    @property
    def root(self) -> str:
        return self.thread_ts or self.ts

    def to_api(self, *, with_metadata: bool = True, team_id: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        for key in ("subtype", "user", "bot_id", "app_id", "thread_ts"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if team_id:
            out["team"] = team_id
        if self.blocks:
            out["blocks"] = self.blocks
        if self.files:
            out["files"] = self.files
            out["upload"] = True
            out["display_as_bot"] = False
        if self.reactions:
            out["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in self.reactions.items()
            ]
        if self.edited:
            out["edited"] = dict(self.edited)
        if with_metadata and self.metadata:
            out["metadata"] = self.metadata
        return out


@dataclass
class SharedFile:
    id: str
    name: str
    title: str
    mimetype: str
    filetype: str
    size: int
    path: Path
    user: str
    channel: str
    created: int
    message_ts: str = ""
    thread_ts: str | None = None
    fail_download: int | None = None  # an HTTP status every download answers with, for now

    def to_api(self, *, base_url: str, team_id: str, team_domain: str) -> dict[str, Any]:
        """The full file object of a `file_share` message and of files.info."""
        name = quote(self.name, safe="")  # as Slack does: a "/" in a name stays in its segment
        base = f"{base_url}/files-pri/{team_id}-{self.id}"
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title,
            "mimetype": self.mimetype,
            "filetype": self.filetype,
            "pretty_type": PRETTY_TYPES.get(self.filetype, self.filetype.upper()),
            "user": self.user,
            "user_team": team_id,
            "editable": False,
            "size": self.size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": self.channel.startswith("C"),
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base}/{name}",
            "url_private_download": f"{base}/download/{name}",
            "permalink": f"https://{team_domain}.slack.com/files/{self.user}/{self.id}/{name}",
            "permalink_public": f"https://slack-files.com/{team_id}-{self.id}-sandbox",
            "has_rich_preview": False,
            "file_access": "visible",
        }

    def shares(self) -> dict[str, Any]:
        """files.info's `shares`: where the file was posted (the message and its thread)."""
        share: dict[str, Any] = {"ts": self.message_ts, "channel_name": self.channel.lower()}
        if self.thread_ts:
            share["thread_ts"] = self.thread_ts
        kind = "public" if self.channel.startswith("C") else "private"
        return {kind: {self.channel: [share]}}


@dataclass
class Ephemeral:
    """A message only `user` sees: chat.postEphemeral, a command's answer, a response_url post."""

    ts: str
    channel: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    source: str = "chat.postEphemeral"
    edited: bool = False
    deleted: bool = False

    def view(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "channel": self.channel,
            "user": self.user,
            "text": self.text,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "source": self.source,
            "edited": self.edited,
            "deleted": self.deleted,
        }
