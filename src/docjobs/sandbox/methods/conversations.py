"""conversations.replies (a thread, parent first, oldest first) and conversations.history
(top-level messages, newest first), with Slack's cursor pagination, its `oldest`, `latest` and
`inclusive` bounds, and, on request, the `metadata` the bot attached to its messages."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from docjobs.sandbox.errors import SlackError
from docjobs.sandbox.methods.registry import Call, method
from docjobs.sandbox.models import Message


def _page(
    call: Call, items: list[dict[str, Any]], *, default_limit: int, newest_first: bool = False
) -> dict[str, Any]:
    """One page of `items` (in ts order, or its reverse) and the cursor to the next: the ts
    of the next item, so a page never skips or repeats one when others come or go between
    calls."""
    start = _decode_cursor(call.text("cursor"))
    if start is not None and newest_first:
        items = [m for m in items if float(m["ts"]) <= start]
    elif start is not None:
        items = [m for m in items if float(m["ts"]) >= start]
    limit = call.number("limit", default=default_limit)
    page, more = items[:limit], len(items) > limit
    cursor = base64.b64encode(f"next_ts:{items[limit]['ts']}".encode()).decode() if more else ""
    return {"messages": page, "has_more": more, "response_metadata": {"next_cursor": cursor}}


def _decode_cursor(cursor: str) -> float | None:
    if not cursor:
        return None
    try:
        return float(base64.b64decode(cursor, validate=True).decode().removeprefix("next_ts:"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SlackError("invalid_cursor") from None


def _within(call: Call) -> Callable[[Message], bool]:
    """Whether a message is inside the call's `oldest`/`latest` bounds (ends only if
    `inclusive`)."""
    try:
        oldest, latest = float(call.text("oldest") or 0), float(call.text("latest") or "inf")
    except ValueError:
        raise SlackError("invalid_arguments") from None
    inclusive = call.flag("inclusive")

    def within(message: Message) -> bool:
        ts = float(message.ts)
        return oldest < ts < latest or (inclusive and ts in (oldest, latest))

    return within


@method("conversations.replies")
def replies(call: Call) -> dict[str, Any]:
    channel = call.text("channel")
    ws = call.workspace
    ws.known_channel(channel)
    asked = ws.find(channel, call.text("ts"), deleted=True)
    if asked is None:
        raise SlackError("thread_not_found")
    parent = ws.find(channel, asked.root, deleted=True)
    thread = ws.replies(channel, asked.root)
    if parent is None or (parent.deleted and not thread):
        raise SlackError("thread_not_found")
    with_metadata = call.flag("include_all_metadata")
    within = _within(call)
    shown = [ws.api_message(m, with_metadata=with_metadata) for m in thread if within(m)]
    if parent.deleted:
        head = {
            "type": "message",
            "subtype": "tombstone",
            "hidden": True,
            "ts": parent.ts,
            "thread_ts": parent.ts,
            "text": "This message was deleted.",
            "user": "USLACKBOT",
        }
    else:
        head = ws.api_message(parent, with_metadata=with_metadata)
    # The parent heads the first page whatever the bounds say, as Slack's answers show it;
    # later pages hold replies only.
    return _page(call, [head, *shown], default_limit=1000)


@method("conversations.history")
def history(call: Call) -> dict[str, Any]:
    ws = call.workspace
    messages = ws.known_channel(call.text("channel"))
    within = _within(call)
    with_metadata = call.flag("include_all_metadata")
    top = [
        ws.api_message(m, with_metadata=with_metadata)
        for m in reversed(messages)
        if not m.deleted and m.root == m.ts and within(m)
    ]
    return {**_page(call, top, default_limit=100, newest_first=True), "pin_count": 0}
