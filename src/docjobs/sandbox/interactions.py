"""Control routes for what a user does besides sharing: run a slash command, click a button;
and the response_url endpoint the bot answers them at. Both are delivered signed, once, and
report the bot's synchronous answer and whether it beat Slack's 3-second deadline."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from docjobs.sandbox.delivery import Attempt
from docjobs.sandbox.errors import SlackError
from docjobs.sandbox.models import Ephemeral, Message
from docjobs.sandbox.payloads import (
    block_actions_body,
    find_element,
    slash_command_body,
    trigger_id,
)
from docjobs.sandbox.responses import (
    ResponseUrlError,
    apply_response,
    check_response,
    show_command_answer,
    use_response_url,
)
from docjobs.sandbox.sandbox import Sandbox
from docjobs.sandbox.state import ResponseTarget, Workspace

router = APIRouter(prefix="/control")


class CommandRequest(BaseModel):
    channel: str
    user: str
    command: str = "/jobs"
    text: str = ""
    channel_name: str | None = None
    user_name: str | None = None


class ActionRequest(BaseModel):
    channel: str
    user: str
    message_ts: str
    action_id: str
    value: str | None = None
    block_id: str | None = None
    user_name: str | None = None


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


def _new_response_url(sandbox: Sandbox, request: Request, target: ResponseTarget) -> str:
    response_id = sandbox.ids.next_id("R", width=12)
    with sandbox.workspace.lock:
        sandbox.workspace.responses[response_id] = target
    return f"{sandbox.base_url(str(request.base_url))}/control/response/{response_id}"


def _outcome(sandbox: Sandbox, attempt: Attempt) -> dict[str, Any]:
    timed_out = attempt.reason == "http_timeout" or (
        attempt.elapsed_ms > sandbox.config.ack_timeout_s * 1000
    )
    return {
        "status": attempt.status,
        "body": attempt.body,
        "elapsed_ms": attempt.elapsed_ms,
        "timed_out": timed_out,
        "reason": attempt.reason,
    }


@router.post("/command")
def command(body: CommandRequest, request: Request) -> dict[str, Any]:
    """The user types `/command text` in a channel (never in a thread: Slack does not allow it)."""
    sandbox = _sandbox(request)
    try:
        with sandbox.workspace.lock:
            sandbox.workspace.open_channel(body.channel)
    except SlackError as exc:
        raise HTTPException(422, f"not a channel id: {body.channel!r}") from exc
    target = ResponseTarget("command", body.channel, body.user, created=time.time())
    response_url, trigger = _new_response_url(sandbox, request, target), trigger_id()
    form = slash_command_body(
        sandbox.config,
        command=body.command,
        text=body.text,
        channel=body.channel,
        channel_name=body.channel_name or body.channel.lower(),
        user=body.user,
        user_name=body.user_name or body.user.lower(),
        response_url=response_url,
        trigger=trigger,
    )
    attempt = sandbox.deliverer.send_form(form, kind="command", type="slash_command", id=trigger)
    outcome = _outcome(sandbox, attempt)
    if attempt.reason != "no_endpoint":
        outcome["json"] = show_command_answer(
            sandbox, target, attempt, command=body.command, timed_out=outcome["timed_out"]
        )
    return {**outcome, "response_url": response_url, "trigger_id": trigger}


def _clicked(ws: Workspace, body: ActionRequest) -> tuple[Message | Ephemeral, bool]:
    """The message the user clicked on (one they can see), and whether it is ephemeral."""
    message = ws.find(body.channel, body.message_ts)
    if message is not None:
        return message, False
    wanted = (body.message_ts, body.channel, body.user)
    for ephemeral in ws.ephemerals:
        if (ephemeral.ts, ephemeral.channel, ephemeral.user) == wanted and not ephemeral.deleted:
            return ephemeral, True
    raise HTTPException(404, f"{body.user} sees no message {body.message_ts}")


@router.post("/action")
def action(body: ActionRequest, request: Request) -> dict[str, Any]:
    """The user clicks a button (found by action_id) on a message they can see."""
    sandbox = _sandbox(request)
    ws = sandbox.workspace
    with ws.lock:
        clicked, is_ephemeral = _clicked(ws, body)
        found = find_element(
            clicked.blocks, body.action_id, value=body.value, block_id=body.block_id
        )
        if found is None:
            raise HTTPException(409, f"no element with action_id {body.action_id!r} there")
        thread_ts = clicked.thread_ts
        shown = ws.api_message(clicked) if isinstance(clicked, Message) else None
    target = ResponseTarget(
        "action",
        body.channel,
        body.user,
        created=time.time(),
        message_ts=body.message_ts,
        thread_ts=thread_ts,
        is_ephemeral=is_ephemeral,
    )
    container = {
        "type": "message",
        "message_ts": body.message_ts,
        "channel_id": body.channel,
        "is_ephemeral": is_ephemeral,
    }
    if thread_ts:
        container["thread_ts"] = thread_ts
    response_url, trigger = _new_response_url(sandbox, request, target), trigger_id()
    form, payload = block_actions_body(
        sandbox.config,
        user=body.user,
        user_name=body.user_name or body.user.lower(),
        channel=body.channel,
        channel_name=body.channel.lower(),
        container=container,
        message=shown,
        response_url=response_url,
        trigger=trigger,
        block_id=found[0],
        element=found[1],
        action_ts=sandbox.ids.next_ts(),
    )
    attempt = sandbox.deliverer.send_form(form, kind="action", type="block_actions", id=trigger)
    # Slack ignores what an action's HTTP answer says; answers go to the response_url.
    return {
        **_outcome(sandbox, attempt),
        "response_url": response_url,
        "trigger_id": trigger,
        "payload": payload,
    }


@router.post("/response/{response_id}")
async def response_url(response_id: str, request: Request) -> JSONResponse:
    """Where the bot POSTs (JSON) its answers to a command or click."""
    sandbox = _sandbox(request)
    try:
        body = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        return JSONResponse({"ok": False, "error": "invalid_payload"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"ok": False, "error": "invalid_payload"}, status_code=400)
    try:
        check_response(body)
    except SlackError as exc:
        sandbox.log_call("response_url", status=400, ok=False, error=exc.code)
        return JSONResponse({"ok": False, "error": exc.code}, status_code=400)
    try:
        target = use_response_url(sandbox, response_id)
        done = apply_response(sandbox, target, body, source="response_url")
    except ResponseUrlError as exc:
        return JSONResponse({"ok": False, "error": exc.code}, status_code=404)
    sandbox.log_call("response_url", status=200, ok=True, channel=target.channel, result=done)
    return JSONResponse({"ok": True})
