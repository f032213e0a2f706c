"""What a person in the workspace sees now: a thread (parent, replies, reactions, edits) with
the history of every visible change, and the ephemeral messages shown to one user."""

from __future__ import annotations

from typing import Any

from docjobs.sandbox.models import Message
from docjobs.sandbox.state import Workspace


def message_view(message: Message) -> dict[str, Any]:
    if message.deleted:
        return {
            "ts": message.ts,
            "subtype": "tombstone",
            "text": "This message was deleted.",
            "deleted": True,
            "reactions": [],
            "edited": False,
        }
    return {
        "ts": message.ts,
        "thread_ts": message.thread_ts,
        "user": message.user,
        "bot_id": message.bot_id,
        "subtype": message.subtype,
        "text": message.text,
        "blocks": message.blocks,
        "files": [
            {"id": f["id"], "name": f["name"], "mimetype": f["mimetype"]} for f in message.files
        ],
        "reactions": [
            {"name": name, "users": list(users), "count": len(users)}
            for name, users in message.reactions.items()
        ],
        "edited": message.edited is not None,
        "metadata": message.metadata,
    }


def thread_view(ws: Workspace, channel: str, ts: str) -> dict[str, Any] | None:
    """The thread holding message `ts` (a parent or one of its replies); None if unknown.
    `history` lists every change in order: posted, edited, reaction_added/_removed, deleted."""
    asked = ws.find(channel, ts, deleted=True)
    parent = None if asked is None else ws.find(channel, asked.root, deleted=True)
    if parent is None:
        return None
    return {
        "channel": channel,
        "ts": parent.ts,
        "parent": message_view(parent),
        "replies": [message_view(m) for m in ws.replies(channel, parent.ts)],
        "history": [
            dict(change)
            for change in ws.changes
            if change["channel"] == channel and change["root"] == parent.ts
        ],
    }


def ephemerals_view(
    ws: Workspace, *, user: str | None = None, channel: str | None = None
) -> list[dict[str, Any]]:
    return [
        e.view()
        for e in ws.ephemerals
        if (user is None or e.user == user) and (channel is None or e.channel == channel)
    ]
