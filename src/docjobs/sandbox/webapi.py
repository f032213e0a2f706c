"""The Web API at /api/{method}, as slack_sdk.WebClient(base_url=".../api/") calls it: token as
`Authorization: Bearer` (or a `token` field), arguments form-encoded, JSON, or in the query.
Answers are Slack's: `{"ok": true, ...}`, method errors as `{"ok": false, "error"}` with 200,
rate limits and faults as 429 (with Retry-After) or 500 — a refused call changes nothing,
except in the faults' `_applied` modes, which answer 500 after carrying it out."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from docjobs.sandbox.errors import SlackError
from docjobs.sandbox.methods import METHODS, Call

if TYPE_CHECKING:
    from docjobs.sandbox.sandbox import Sandbox

router = APIRouter()

# Arguments that are JSON inside a form field; the error Slack gives when they do not parse.
JSON_FIELDS = {
    "blocks": "invalid_blocks",
    "metadata": "invalid_metadata_format",
    "attachments": "invalid_attachments",
}


async def read_args(request: Request) -> dict[str, Any]:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    args: dict[str, Any] = dict(request.query_params)
    if content_type.startswith("application/json"):
        try:
            body = json.loads(raw or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SlackError("invalid_json") from None
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        args.update(body)
    elif content_type.startswith("multipart/"):
        raise SlackError("invalid_form_data")  # files.upload is gone; nothing here takes parts
    elif raw:
        try:
            args.update(parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise SlackError("invalid_form_data") from None
    for key, error in JSON_FIELDS.items():
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key]) if args[key] else None
            except json.JSONDecodeError:
                raise SlackError(error) from None
    return args


@router.post("/api/{name}")
@router.get("/api/{name}")
async def call(name: str, request: Request) -> JSONResponse:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        args = await read_args(request)
        parse_error = None
    except SlackError as exc:
        args, parse_error = {}, exc.code
    channel = str(args.get("channel") or "")
    fault = sandbox.faults.draw(name)
    applied = fault if fault is not None and fault.mode.endswith("_applied") else None
    if fault is not None and applied is None:
        if fault.mode == "timeout":
            await asyncio.sleep(fault.sleep_s or sandbox.config.fault_timeout_s)
        if fault.mode == "429":
            return _answer(sandbox, name, channel, 429, "ratelimited", fault.retry_after, "429")
        return _answer(sandbox, name, channel, 500, "fatal_error", fault=fault.mode)
    auth = request.headers.get("authorization", "")
    token = auth.removeprefix("Bearer ").strip() or str(args.pop("token", "") or "")
    if not token:
        return _answer(sandbox, name, channel, 200, "not_authed")
    if token != sandbox.config.bot_token:
        return _answer(sandbox, name, channel, 200, "invalid_auth")
    handler = METHODS.get(name)
    if handler is None:
        return _answer(sandbox, name, channel, 200, "unknown_method")
    if parse_error:
        return _answer(sandbox, name, channel, 200, parse_error)
    retry_after = sandbox.limiter.check(name, channel)
    if retry_after:
        return _answer(sandbox, name, channel, 429, "ratelimited", retry_after)
    base_url = sandbox.base_url(str(request.base_url))
    try:
        with sandbox.workspace.lock:
            body = {"ok": True, **handler(Call(sandbox, args, base_url))}
    except SlackError as exc:
        return _answer(sandbox, name, channel, 200, exc.code)
    if applied is not None:  # done, but the caller hears it failed
        if applied.mode == "timeout_applied":
            await asyncio.sleep(applied.sleep_s or sandbox.config.fault_timeout_s)
        return _answer(sandbox, name, channel, 500, "fatal_error", fault=applied.mode)
    sandbox.log_call(name, status=200, ok=True, channel=channel)
    return JSONResponse(body)


def _answer(
    sandbox: Sandbox,
    name: str,
    channel: str,
    status: int,
    error: str,
    retry_after: int | None = None,
    fault: str | None = None,
) -> JSONResponse:
    sandbox.log_call(name, status=status, ok=False, error=error, channel=channel, fault=fault)
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return JSONResponse({"ok": False, "error": error}, status_code=status, headers=headers)
