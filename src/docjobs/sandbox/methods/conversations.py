"""conversations.replies (a thread, parent first, oldest first) and conversations.history
(top-level messages, newest first), with Slack's cursor pagination and, on request, the
`metadata` the bot attached to its messages."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from docjobs.sandbox.errors import SlackError
from docjobs.sandbox.methods.registry import Call, method


def _page(call: Call, items: list[dict[str, Any]], *, default_limit: int) -> dict[str, Any]:
    start = _decode_cursor(call.text("cursor"))
    limit = call.number("limit", default=default_limit)
    page, more = items[start : start + limit], start + limit < len(items)
    cursor = base64.b64encode(f"next_ts:{start + limit}".encode()).decode() if more else ""
    return {"messages": page, "has_more": more, "response_metadata": {"next_cursor": cursor}}


def _decode_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor, validate=True).decode().removeprefix("next_ts:"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SlackError("invalid_cursor") from None


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
    shown = [ws.api_message(m, with_metadata=with_metadata) for m in thread]
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
    return _page(call, [head, *shown], default_limit=1000)


@method("conversations.history")
def history(call: Call) -> dict[str, Any]:
    ws = call.workspace
    messages = ws.known_channel(call.text("channel"))
    try:
        oldest, latest = float(call.text("oldest") or 0), float(call.text("latest") or "inf")
    except ValueError:
        raise SlackError("invalid_arguments") from None
    inclusive = call.flag("inclusive")
    with_metadata = call.flag("include_all_metadata")
    top = [
        ws.api_message(m, with_metadata=with_metadata)
        for m in reversed(messages)
        if not m.deleted
        and m.root == m.ts
        and (oldest < float(m.ts) < latest or (inclusive and float(m.ts) in (oldest, latest)))
    ]
    return {**_page(call, top, default_limit=100), "pin_count": 0}
