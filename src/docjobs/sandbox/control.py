"""The control API (/control/…): what a person in Slack would do, and what they would see."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from docjobs.sandbox.faults import Fault
from docjobs.sandbox.sandbox import Sandbox
from docjobs.sandbox.state import Message

router = APIRouter(prefix="/control")


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


class ShareRequest(BaseModel):
    channel: str
    user: str
    filename: str
    content_b64: str | None = None
    path: str | None = None
    mimetype: str | None = None
    filetype: str | None = None
    thread_ts: str | None = None
    text: str = ""
    redeliver: int = 0
    wait: bool = False
    fail_download: int | None = None


class MessageRequest(BaseModel):
    channel: str
    user: str
    text: str
    thread_ts: str | None = None


class CommandRequest(BaseModel):
    channel: str
    user: str
    text: str = ""
    command: str = "/jobs"


class ActionRequest(BaseModel):
    channel: str
    user: str
    message_ts: str
    action_id: str
    value: str = ""
    block_id: str = ""


class FaultRequest(BaseModel):
    method: str = "*"
    mode: str
    count: int | None = None
    probability: float = 1.0
    retry_after: int = 1


class UserRequest(BaseModel):
    id: str
    name: str | None = None
    is_admin: bool = False
    is_owner: bool = False


@router.get("/healthz")
def healthz() -> dict[str, bool]:
    return {"ok": True}


@router.post("/share")
def share(body: ShareRequest, request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    if body.content_b64 is not None:
        content = base64.b64decode(body.content_b64)
    elif body.path:
        content = Path(body.path).read_bytes()
    else:
        raise HTTPException(422, "give content_b64 or path")
    shared = sandbox.add_file(
        user=body.user,
        channel=body.channel,
        filename=body.filename,
        content=content,
        mimetype=body.mimetype,
        filetype=body.filetype,
    )
    shared.fail_download = body.fail_download
    try:
        return sandbox.share(
            shared=shared,
            text=body.text,
            thread_ts=body.thread_ts,
            redeliver=body.redeliver,
            wait=body.wait,
        )
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.post("/files/{file_id}/fail")
def fail_downloads(file_id: str, request: Request, status: int | None = None) -> dict[str, Any]:
    shared = _sandbox(request).workspace.files.get(file_id)
    if shared is None:
        raise HTTPException(404, "no such file")
    shared.fail_download = status
    return {"file_id": file_id, "fail_download": status}


@router.post("/messages")
def user_message(body: MessageRequest, request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    ws = sandbox.workspace
    message = ws.add_message(
        Message(
            ts=ws.next_ts(),
            channel=body.channel,
            text=body.text,
            user=body.user,
            thread_ts=body.thread_ts,
        )
    )
    event: dict[str, Any] = {
        "type": "message",
        "text": body.text,
        "user": body.user,
        "ts": message.ts,
        "channel": body.channel,
        "event_ts": message.ts,
        "channel_type": "channel",
    }
    if body.thread_ts:
        event["thread_ts"] = body.thread_ts
    return {"ts": message.ts, "event_id": sandbox.deliverer.send_event(event, wait=True)}


@router.post("/command")
def command(body: CommandRequest, request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    config = sandbox.config
    response_id = sandbox.workspace.next_id("R")
    fields = {
        "token": "sandbox-verification-token",
        "team_id": config.team_id,
        "team_domain": config.team_domain,
        "channel_id": body.channel,
        "channel_name": body.channel.lower(),
        "user_id": body.user,
        "user_name": body.user.lower(),
        "command": body.command,
        "text": body.text,
        "api_app_id": config.api_app_id,
        "is_enterprise_install": "false",
        "response_url": f"{config.public_url}/control/response/{response_id}",
        "trigger_id": f"{int(time.time())}.sandbox.{response_id}",
    }
    _responses(sandbox)[response_id] = {"channel": body.channel, "user": body.user}
    result = sandbox.deliverer.send_form(fields)
    _record_sync_answer(sandbox, result, channel=body.channel, user=body.user)
    return result


@router.post("/action")
def action(body: ActionRequest, request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    config, ws = sandbox.config, sandbox.workspace
    message = ws.find(body.channel, body.message_ts)
    if message is None:
        raise HTTPException(404, "no such message")
    response_id = ws.next_id("R")
    _responses(sandbox)[response_id] = {
        "channel": body.channel,
        "user": body.user,
        "message_ts": body.message_ts,
    }
    payload = {
        "type": "block_actions",
        "team": {"id": config.team_id, "domain": config.team_domain},
        "user": {"id": body.user, "username": body.user.lower(), "team_id": config.team_id},
        "api_app_id": config.api_app_id,
        "token": "sandbox-verification-token",
        "container": {
            "type": "message",
            "message_ts": body.message_ts,
            "channel_id": body.channel,
            "is_ephemeral": False,
            "thread_ts": message.thread_ts,
        },
        "trigger_id": f"{int(time.time())}.sandbox.{response_id}",
        "channel": {"id": body.channel, "name": body.channel.lower()},
        "message": message.to_api(),
        "response_url": f"{config.public_url}/control/response/{response_id}",
        "state": {"values": {}},
        "actions": [
            {
                "action_id": body.action_id,
                "block_id": body.block_id,
                "value": body.value,
                "type": "button",
                "action_ts": ws.next_ts(),
                "text": {"type": "plain_text", "text": body.action_id},
            }
        ],
    }
    result = sandbox.deliverer.send_form({"payload": json.dumps(payload)})
    _record_sync_answer(sandbox, result, channel=body.channel, user=body.user)
    return result


@router.post("/response/{response_id}")
async def response_url(response_id: str, request: Request) -> dict[str, Any]:
    """What the bot posts to a response_url: ephemeral unless it says in_channel."""
    sandbox = _sandbox(request)
    target = _responses(sandbox).get(response_id)
    if target is None:
        raise HTTPException(404, "unknown response_url")
    body = json.loads(await request.body() or b"{}")
    ws = sandbox.workspace
    with ws.lock:
        original = ws.find(target["channel"], target.get("message_ts", ""))
        if body.get("delete_original") and original is not None:
            original.deleted = True
            ws.record(original, "deleted")
        elif body.get("replace_original") and original is not None:
            original.text = body.get("text", original.text)
            original.blocks = body.get("blocks") or original.blocks
            original.edited = True
            ws.record(original, "edited", text=original.text)
        elif body.get("response_type") == "in_channel":
            ws.add_message(
                Message(
                    ts=ws.next_ts(),
                    channel=target["channel"],
                    text=body.get("text", ""),
                    bot_id=sandbox.config.bot_id,
                    user=sandbox.config.bot_user_id,
                )
            )
        else:
            ws.ephemerals.append(
                {
                    "channel": target["channel"],
                    "user": target["user"],
                    "text": body.get("text", ""),
                    "blocks": body.get("blocks"),
                    "source": "response_url",
                    "ts": ws.next_ts(),
                }
            )
    return {"ok": True}


@router.get("/thread")
def thread(channel: str, ts: str, request: Request) -> dict[str, Any]:
    ws = _sandbox(request).workspace
    with ws.lock:
        messages = ws.thread(channel, ts)
        if not messages:
            raise HTTPException(404, "no such thread")
        history = [c for c in ws.changes if c["channel"] == channel and c["root"] == ts]
        return {
            "parent": messages[0].to_api(),
            "replies": [m.to_api() for m in messages[1:]],
            "history": history,
        }


@router.get("/ephemerals")
def ephemerals(
    request: Request, user: str | None = None, channel: str | None = None
) -> list[dict[str, Any]]:
    ws = _sandbox(request).workspace
    with ws.lock:
        return [
            e
            for e in ws.ephemerals
            if (user is None or e["user"] == user) and (channel is None or e["channel"] == channel)
        ]


@router.get("/calls")
def calls(request: Request) -> dict[str, Any]:
    ws = _sandbox(request).workspace
    with ws.lock:
        log = list(ws.calls)
    counts: dict[str, int] = {}
    for entry in log:
        counts[entry["method"]] = counts.get(entry["method"], 0) + 1
    return {
        "calls": log,
        "counts": counts,
        "ratelimited": sum(1 for entry in log if entry["status"] == 429),
    }


@router.get("/deliveries")
def deliveries(request: Request) -> list[dict[str, Any]]:
    ws = _sandbox(request).workspace
    with ws.lock:
        return list(ws.deliveries)


@router.post("/faults")
def add_fault(body: FaultRequest, request: Request) -> dict[str, bool]:
    try:
        _sandbox(request).faults.add(Fault(**body.model_dump()))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"ok": True}


@router.delete("/faults")
def clear_faults(request: Request) -> dict[str, bool]:
    _sandbox(request).faults.clear()
    return {"ok": True}


@router.post("/users")
def set_user(body: UserRequest, request: Request) -> dict[str, Any]:
    ws = _sandbox(request).workspace
    profile = {k: v for k, v in body.model_dump().items() if v is not None}
    with ws.lock:
        ws.users[body.id] = profile
    return ws.user_profile(body.id)


@router.post("/reset")
def reset(request: Request) -> dict[str, bool]:
    _sandbox(request).reset()
    return {"ok": True}


def _responses(sandbox: Sandbox) -> dict[str, dict[str, str]]:
    return sandbox.workspace.__dict__.setdefault("responses", {})  # type: ignore[no-any-return]


def _record_sync_answer(
    sandbox: Sandbox, result: dict[str, Any], *, channel: str, user: str
) -> None:
    """A command's or action's HTTP answer with a text is shown to the user as Slack would."""
    if not result.get("body") or "json" not in result.get("content_type", ""):
        return
    try:
        answer = json.loads(result["body"])
    except json.JSONDecodeError:
        return
    result["json"] = answer
    if isinstance(answer, dict) and answer.get("text"):
        ws = sandbox.workspace
        with ws.lock:
            ws.ephemerals.append(
                {
                    "channel": channel,
                    "user": user,
                    "text": answer["text"],
                    "blocks": answer.get("blocks"),
                    "source": "ack",
                    "ts": ws.next_ts(),
                }
            )
