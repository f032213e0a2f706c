"""chat.postMessage, chat.update, chat.delete, chat.postEphemeral — always as the bot (the
only token the sandbox hands out is a bot token)."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from docjobs.sandbox import events
from docjobs.sandbox.errors import SlackError
from docjobs.sandbox.methods.registry import Call, method
from docjobs.sandbox.models import Ephemeral
from docjobs.sandbox.state import USER_ID

# "up to 50 blocks in each message" (reference/slack.md, section 9).
MAX_BLOCKS = 50


def _content(call: Call) -> dict[str, Any]:
    text, blocks = call.text("text"), call.args.get("blocks") or []
    if not text and not blocks:
        raise SlackError("no_text")
    check_blocks(blocks)
    return {"text": text, "blocks": blocks}


def check_blocks(blocks: object) -> None:
    """Slack refuses blocks it cannot lay out (a section's text over 3,000 characters, a
    button's over 75, an unknown type, over 50 blocks): judged by slack_sdk's own models,
    which carry Slack's limits."""
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise SlackError("invalid_blocks")
    for block in blocks:
        parsed = Block.parse(block) if isinstance(block, dict) else None
        if parsed is None:
            raise SlackError("invalid_blocks")
        try:
            parsed.to_dict()  # validates the block and every element in it
        except SlackObjectFormationError:
            raise SlackError("invalid_blocks") from None


@method("chat.postMessage")
def post_message(call: Call) -> dict[str, Any]:
    channel = call.text("channel")
    call.workspace.bot_channel(channel)
    content = _content(call)
    metadata = call.args.get("metadata") or None
    if metadata is not None and not isinstance(metadata, dict):
        raise SlackError("invalid_metadata_format")
    message = call.sandbox.bot_message(
        channel=channel, thread_ts=call.text("thread_ts") or None, metadata=metadata, **content
    )
    try:
        call.sandbox.post(message)
    except LookupError:
        raise SlackError("thread_not_found") from None
    shown = call.workspace.api_message(message)
    shown.update(team=call.config.team_id, bot_profile=events.bot_profile(call.config))
    return {"channel": channel, "ts": message.ts, "message": shown}


@method("chat.update")
def update(call: Call) -> dict[str, Any]:
    message = call.message("ts")
    if message.bot_id != call.config.bot_id:
        raise SlackError("cant_update_message")
    # What is not sent is kept (an empty `blocks` list removes them), as chat.update documents.
    content = _content(call)
    changes = {key: value for key, value in content.items() if key in call.args}
    if isinstance(call.args.get("metadata"), dict):
        changes["metadata"] = call.args["metadata"]
    call.sandbox.edit(message, by=call.config.bot_user_id, **changes)
    shown = call.workspace.api_message(message)
    return {"channel": message.channel, "ts": message.ts, "text": message.text, "message": shown}


@method("chat.delete")
def delete(call: Call) -> dict[str, Any]:
    message = call.message("ts")
    if message.bot_id != call.config.bot_id:
        raise SlackError("cant_delete_message")
    call.sandbox.delete(message)
    return {"channel": message.channel, "ts": message.ts}


@method("chat.postEphemeral")
def post_ephemeral(call: Call) -> dict[str, Any]:
    channel, user = call.text("channel"), call.text("user")
    call.workspace.open_channel(channel)
    if not USER_ID.match(user):
        raise SlackError("user_not_found")
    content = _content(call)
    ephemeral = Ephemeral(
        ts=call.sandbox.ids.next_ts(),
        channel=channel,
        user=user,
        thread_ts=call.text("thread_ts") or None,
        source="chat.postEphemeral",
        **content,
    )
    call.workspace.ephemerals.append(ephemeral)
    return {"message_ts": ephemeral.ts}
