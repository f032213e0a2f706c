"""What Slack POSTs to the bot for a slash command (form fields) and for a button click
(`block_actions`, JSON in a `payload` form field), with the fields Slack's samples carry."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from docjobs.sandbox.config import SandboxConfig
from docjobs.sandbox.events import VERIFICATION_TOKEN


def trigger_id() -> str:
    return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def slash_command_body(
    config: SandboxConfig,
    *,
    command: str,
    text: str,
    channel: str,
    channel_name: str,
    user: str,
    user_name: str,
    response_url: str,
    trigger: str,
) -> str:
    """The raw form body — which is also what the signature covers."""
    return urlencode(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": config.team_id,
            "team_domain": config.team_domain,
            "channel_id": channel,
            "channel_name": channel_name,
            "user_id": user,
            "user_name": user_name,
            "command": command,
            # Escaped as Slack escapes all text: &, < and > (the rest as typed).
            "text": text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
            "api_app_id": config.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger,
        }
    )


def find_element(
    blocks: list[dict[str, Any]], action_id: str, *, value: str | None, block_id: str | None
) -> tuple[str, dict[str, Any]] | None:
    """The interactive element a user can click: in an `actions` block or a section's
    accessory; `value`/`block_id` pick between elements sharing an action_id."""
    for index, block in enumerate(blocks):
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if block.get("accessory"):
            elements.append(block["accessory"])
        this_block_id = str(block.get("block_id") or f"sbx{index}")
        for element in elements:
            if element.get("action_id") != action_id:
                continue
            if value is not None and element.get("value") != value:
                continue
            if block_id is not None and this_block_id != block_id:
                continue
            return this_block_id, element
    return None


def block_actions_body(
    config: SandboxConfig,
    *,
    user: str,
    user_name: str,
    channel: str,
    channel_name: str,
    container: dict[str, Any],
    message: dict[str, Any] | None,
    response_url: str,
    trigger: str,
    block_id: str,
    element: dict[str, Any],
    action_ts: str,
) -> tuple[str, dict[str, Any]]:
    """The raw form body (`payload=<json>`) and the payload in it."""
    action = {
        "action_id": element.get("action_id"),
        "block_id": block_id,
        "value": element.get("value", ""),
        "type": element.get("type", "button"),
        "action_ts": action_ts,
    }
    if element.get("text"):
        action["text"] = element["text"]
    if element.get("style"):
        action["style"] = element["style"]
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user_name, "name": user_name, "team_id": config.team_id},
        "api_app_id": config.api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger,
        "team": {"id": config.team_id, "domain": config.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel_name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if message is not None:  # an ephemeral message's click carries no `message`
        payload["message"] = message
    return urlencode({"payload": json.dumps(payload)}), payload
