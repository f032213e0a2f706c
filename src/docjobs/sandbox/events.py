"""Events API payloads as Slack writes them: the `event_callback` envelope and the inner
`message` (plain, `file_share`, `message_changed`, `message_deleted`) and `file_shared` events."""

from __future__ import annotations

import time
import uuid
from typing import Any

from docjobs.sandbox.config import SandboxConfig

VERIFICATION_TOKEN = "sandbox-verification-token"  # deprecated by Slack, still sent


def channel_type(channel: str) -> str:
    return {"C": "channel", "G": "group", "D": "im"}.get(channel[:1], "channel")


def subscription(event: dict[str, Any]) -> str:
    """The bot event subscription that brings `event`: `message` events by the kind of
    conversation ("message.channels", "message.groups", "message.im"), others by type."""
    if event.get("type") == "message":
        kind = event.get("channel_type") or channel_type(str(event.get("channel", "")))
        return "message." + {"channel": "channels", "group": "groups"}.get(kind, kind)
    return str(event.get("type", ""))


def envelope(config: SandboxConfig, event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": config.team_id,
        "context_team_id": config.team_id,
        "context_enterprise_id": None,
        "api_app_id": config.api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": config.team_id,
                "user_id": config.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-sandbox-{event_id}",
    }


def rich_text(text: str) -> list[dict[str, Any]]:
    """The blocks Slack's clients attach to what a person types."""
    if not text:
        return []
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return [{"type": "rich_text", "block_id": "sbx", "elements": [section]}]


def message_event(
    message: dict[str, Any], *, channel: str, config: SandboxConfig
) -> dict[str, Any]:
    """A `message` event for a message as the Web API shows it (`message` from api_message)."""
    event = {key: value for key, value in message.items() if key not in ("reactions",)}
    event.update(channel=channel, event_ts=message["ts"], channel_type=channel_type(channel))
    if message.get("bot_id"):
        event.setdefault("app_id", config.api_app_id)
        event["bot_profile"] = bot_profile(config)
    else:
        event.setdefault("client_msg_id", str(uuid.uuid4()))
    event.pop("reply_count", None)
    return event


def message_changed_event(
    *, new: dict[str, Any], previous: dict[str, Any], channel: str, event_ts: str
) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "message": new,
        "previous_message": previous,
        "channel": channel,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": channel_type(channel),
    }


def message_deleted_event(
    *, previous: dict[str, Any], channel: str, event_ts: str
) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "deleted_ts": previous["ts"],
        "previous_message": previous,
        "channel": channel,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": channel_type(channel),
    }


def file_shared_event(*, file_id: str, channel: str, user: str, event_ts: str) -> dict[str, Any]:
    """Ids only: Slack's answer to "which file" is files.info."""
    return {
        "type": "file_shared",
        "channel_id": channel,
        "file_id": file_id,
        "user_id": user,
        "file": {"id": file_id},
        "event_ts": event_ts,
    }


def bot_profile(config: SandboxConfig) -> dict[str, Any]:
    return {
        "id": config.bot_id,
        "app_id": config.api_app_id,
        "name": config.bot_name,
        "deleted": False,
        "team_id": config.team_id,
    }
