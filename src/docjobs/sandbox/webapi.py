"""The Web API subset the bot uses, at POST /api/{method}, answering as Slack does."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from docjobs.sandbox.state import Message, Workspace

router = APIRouter()
Handler = Callable[[Request, dict[str, Any]], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


class SlackError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        return handler

    return register


async def _read_args(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        args = json.loads(raw or b"{}")
    else:
        args = dict(parse_qsl(raw.decode(), keep_blank_values=True))
    args.update({k: v for k, v in request.query_params.items() if k not in args})
    for key in ("blocks", "metadata", "attachments"):
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key]) if args[key] else None
            except json.JSONDecodeError:
                raise SlackError("invalid_arguments") from None
    return args


@router.post("/api/{name}")
async def call(name: str, request: Request) -> JSONResponse:
    sandbox = request.app.state.sandbox
    try:
        args = await _read_args(request)
    except SlackError as exc:
        return _answer(sandbox, name, "", 200, {"ok": False, "error": exc.error})
    channel = str(args.get("channel", ""))
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    token = token or str(args.get("token", ""))
    fault = sandbox.faults.draw(name)
    if fault is not None:
        if fault.mode == "timeout":
            await _sleep(sandbox.config.fault_timeout_s)
            return _answer(sandbox, name, channel, 500, {"ok": False, "error": "fatal_error"})
        if fault.mode == "429":
            return _answer(
                sandbox,
                name,
                channel,
                429,
                {"ok": False, "error": "ratelimited"},
                headers={"Retry-After": str(fault.retry_after)},
            )
        return _answer(sandbox, name, channel, 500, {"ok": False, "error": "internal_error"})
    if not token:
        return _answer(sandbox, name, channel, 200, {"ok": False, "error": "not_authed"})
    if token != sandbox.config.bot_token:
        return _answer(sandbox, name, channel, 200, {"ok": False, "error": "invalid_auth"})
    handler = HANDLERS.get(name)
    if handler is None:
        return _answer(sandbox, name, channel, 200, {"ok": False, "error": "unknown_method"})
    retry_after = sandbox.limiter.check(name, channel)
    if retry_after:
        return _answer(
            sandbox,
            name,
            channel,
            429,
            {"ok": False, "error": "ratelimited"},
            headers={"Retry-After": str(retry_after)},
        )
    try:
        with sandbox.workspace.lock:
            body = {"ok": True, **handler(request, args)}
    except SlackError as exc:
        body = {"ok": False, "error": exc.error}
    return _answer(sandbox, name, channel, 200, body)


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def _answer(
    sandbox: Any,
    name: str,
    channel: str,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    with sandbox.workspace.lock:
        sandbox.workspace.calls.append(
            {
                "method": name,
                "status": status,
                "ok": body.get("ok"),
                "error": body.get("error"),
                "channel": channel,
                "at": time.time(),
            }
        )
    return JSONResponse(body, status_code=status, headers=headers)


def _state(request: Request) -> Workspace:
    return request.app.state.sandbox.workspace  # type: ignore[no-any-return]


def _config(request: Request) -> Any:
    return request.app.state.sandbox.config


def _message(request: Request, args: dict[str, Any]) -> Message:
    ws = _state(request)
    channel, ts = str(args.get("channel", "")), str(args.get("ts") or args.get("timestamp", ""))
    if not channel:
        raise SlackError("channel_not_found")
    message = ws.find(channel, ts)
    if message is None:
        raise SlackError("message_not_found")
    return message


@method("auth.test")
def auth_test(request: Request, _: dict[str, Any]) -> dict[str, Any]:
    config = _config(request)
    return {
        "url": f"https://{config.team_domain}.slack.com/",
        "team": config.team_domain,
        "user": "docjobs",
        "team_id": config.team_id,
        "user_id": config.bot_user_id,
        "bot_id": config.bot_id,
    }


@method("chat.postMessage")
def post_message(request: Request, args: dict[str, Any]) -> dict[str, Any]:
    ws, config = _state(request), _config(request)
    channel = str(args.get("channel", ""))
    if not channel:
        raise SlackError("channel_not_found")
    if not args.get("text") and not args.get("blocks"):
        raise SlackError("no_text")
    thread_ts = args.get("thread_ts") or None
    if thread_ts and ws.find(channel, str(thread_ts)) is None:
        raise SlackError("thread_not_found")
    message = ws.add_message(
        Message(
            ts=ws.next_ts(),
            channel=channel,
            text=str(args.get("text", "")),
            bot_id=config.bot_id,
            user=config.bot_user_id,
            thread_ts=thread_ts,
            blocks=args.get("blocks") or [],
            metadata=args.get("metadata") or None,
        )
    )
    return {"channel": channel, "ts": message.ts, "message": message.to_api()}


@method("chat.update")
def update(request: Request, args: dict[str, Any]) -> dict[str, Any]:
    message = _message(request, args)
    if message.bot_id != _config(request).bot_id:
        raise SlackError("cant_update_message")
    if "text" in args:
        message.text = str(args["text"])
    if "blocks" in args:
        message.blocks = args["blocks"] or []
    message.edited = True
    _state(request).record(message, "edited", text=message.text)
    return {"channel": message.channel, "ts": message.ts, "text": message.text}


@method("chat.delete")
def delete(request: Request, args: dict[str, Any]) -> dict[str, Any]:
    message = _message(request, args)
    message.deleted = True
    _state(request).record(message, "deleted")
    return {"channel": message.channel, "ts": message.ts}


@method("chat.postEphemeral")
def post_ephemeral(request: Request, args: dict[str, Any]) -> dict[str, Any]:
    ws = _state(request)
    if not args.get("channel"):
        raise SlackError("channel_not_found")
    if not args.get("user"):
        raise SlackError("user_not_in_channel")
    ts = ws.next_ts()
    ws.ephemerals.append(
        {
            "channel": args["channel"],
            "user": args["user"],
            "text": args.get("text", ""),
            "blocks": args.get("blocks"),
            "thread_ts": args.get("thread_ts"),
            "source": "chat.postEphemeral",
            "ts": ts,
        }
    )
    return {"message_ts": ts}


def _reaction(request: Request, args: dict[str, Any], *, add: bool) -> dict[str, Any]:
    message = _message(request, args)
    name = str(args.get("name", "")).strip(":")
    if not name:
        raise SlackError("invalid_name")
    users = message.reactions.setdefault(name, [])
    me = _config(request).bot_user_id
    if add:
        if me in users:
            raise SlackError("already_reacted")
        users.append(me)
    else:
        if me not in users:
            raise SlackError("no_reaction")
        users.remove(me)
        if not users:
            del message.reactions[name]
    kind = "reaction_added" if add else "reaction_removed"
    _state(request).record(message, kind, name=name, user=me, bot_id=_config(request).bot_id)
    return {}


@method("reactions.add")
def reactions_add(request: Request, args: dict[str, Any]) -> dict[str, Any]:
    return _reaction(request, args, add=True)


@method("reactions.remove")
def reactions_remove(request: Request, args: dict[str, Any]) -> dict[str, Any]:
    return _reaction(request, args, add=False)


@method("files.info")
def files_info(request: Request, args: dict[str, Any]) -> dict[str, Any]:
    shared = _state(request).files.get(str(args.get("file", "")))
    if shared is None:
        raise SlackError("file_not_found")
    return {"file": request.app.state.sandbox.file_object(shared)}


@method("conversations.replies")
def replies(request: Request, args: dict[str, Any]) -> dict[str, Any]:
    ws = _state(request)
    messages = ws.thread(str(args.get("channel", "")), str(args.get("ts", "")))
    if not messages:
        raise SlackError("thread_not_found")
    with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
    start = int(args.get("cursor") or 0)
    limit = max(1, min(int(args.get("limit") or 1000), 1000))
    page = messages[start : start + limit]
    more = start + limit < len(messages)
    return {
        "messages": [m.to_api(with_metadata=with_metadata) for m in page],
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }


@method("conversations.history")
def history(request: Request, args: dict[str, Any]) -> dict[str, Any]:
    channel = str(args.get("channel", ""))
    top = [
        m
        for m in _state(request).messages.get(channel, [])
        if not m.deleted and (not m.thread_ts or m.thread_ts == m.ts)
    ]
    return {"messages": [m.to_api() for m in reversed(top)], "has_more": False}


@method("users.info")
def users_info(request: Request, args: dict[str, Any]) -> dict[str, Any]:
    user = str(args.get("user", ""))
    if not user:
        raise SlackError("user_not_found")
    return {"user": _state(request).user_profile(user)}
