"""The control API (/control/…), JSON both ways: what a person in Slack does (share a file,
post a message), what they see (a thread, their ephemeral messages), what the bot did (Web API
calls, deliveries), and the knobs tests turn (faults, users, settings, reset)."""

from __future__ import annotations

import base64
import binascii
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from docjobs.sandbox import events
from docjobs.sandbox.errors import SlackError
from docjobs.sandbox.faults import Fault
from docjobs.sandbox.models import Message
from docjobs.sandbox.sandbox import MAX_FILES_PER_MESSAGE, Sandbox
from docjobs.sandbox.views import ephemerals_view, thread_view

router = APIRouter(prefix="/control")


class FileFields(BaseModel):
    content_b64: str | None = None
    path: str | None = None  # a local file, copied (for files too big to send as base64)
    mimetype: str | None = None
    filetype: str | None = None
    title: str | None = None
    fail_download: int | None = None


class FileUpload(FileFields):
    filename: str


class ShareRequest(FileFields):
    """One file (its fields here) or several in one message (`files`, up to 10)."""

    channel: str
    user: str
    filename: str | None = None
    files: list[FileUpload] | None = None
    thread_ts: str | None = None
    text: str = ""
    redeliver: int = 0
    wait: bool = False
    # The event carries only stubs of the files, as Slack Connect shares do: files.info has
    # the rest.
    stub: bool = False

    def uploads(self) -> list[FileUpload]:
        if self.files is not None and self.filename is not None:
            raise HTTPException(422, "give filename or files, not both")
        if self.files is not None:
            return self.files
        if self.filename is None:
            raise HTTPException(422, "give filename or files")
        fields = {name: getattr(self, name) for name in FileUpload.model_fields}
        return [FileUpload(**fields)]


class MessageRequest(BaseModel):
    channel: str
    user: str
    text: str
    thread_ts: str | None = None
    subtype: str | None = None
    bot_id: str | None = None  # another app's bot, which the bot should ignore
    redeliver: int = 0
    wait: bool = False


class FaultRequest(BaseModel):
    method: str = "*"
    mode: str
    count: int | None = None
    probability: float = 1.0
    retry_after: int = 1
    sleep_s: float | None = None
    file_id: str | None = None
    seed: int | None = None


class UserRequest(BaseModel):
    id: str
    name: str | None = None
    real_name: str | None = None
    is_admin: bool | None = None
    is_owner: bool | None = None
    is_primary_owner: bool | None = None


class SettingsRequest(BaseModel):
    rate_limits: bool | None = None
    bot_endpoint_url: str | None = None
    bot_events: list[str] | None = None  # the app's subscriptions; ["*"]: every event


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


@router.get("/healthz")
def healthz() -> dict[str, bool]:
    return {"ok": True}


@router.post("/share")
def share(body: ShareRequest, request: Request) -> dict[str, Any]:
    """A user shares a file, or several in one message; the `message` event, then one
    `file_shared` per file. Returns the ids."""
    sandbox = _sandbox(request)
    uploads = body.uploads()
    if not 1 <= len(uploads) <= MAX_FILES_PER_MESSAGE:
        raise HTTPException(422, f"a message carries 1 to {MAX_FILES_PER_MESSAGE} files")
    try:
        shared = sandbox.share_files(
            user=body.user,
            channel=body.channel,
            files=[_file_fields(upload) for upload in uploads],
            text=body.text,
            thread_ts=body.thread_ts,
            redeliver=body.redeliver,
            wait=body.wait,
            stub=body.stub,
            base_url=sandbox.base_url(str(request.base_url)),
        )
    except SlackError as exc:
        raise HTTPException(422, f"not a channel id: {body.channel!r}") from exc
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    return shared


def _file_fields(upload: FileUpload) -> dict[str, Any]:
    """`FileStore.add`'s arguments for one upload; a failing download is set before the
    events go, since the bot downloads at once."""
    content, source = None, None
    if upload.content_b64 is not None:
        try:
            content = base64.b64decode(upload.content_b64, validate=True)
        except binascii.Error as exc:
            raise HTTPException(422, "content_b64 is not base64") from exc
    elif upload.path:
        source = Path(upload.path)
        if not source.is_file():
            raise HTTPException(422, f"no file at {upload.path}")
    else:
        raise HTTPException(422, "give content_b64 or path")
    return {
        "filename": upload.filename,
        "content": content,
        "source": source,
        "mimetype": upload.mimetype,
        "filetype": upload.filetype,
        "title": upload.title,
        "fail_download": upload.fail_download,
    }


@router.post("/files/{file_id}/fail")
def fail_downloads(file_id: str, request: Request, status: int | None = None) -> dict[str, Any]:
    """Every download of the file answers `status` from now on; no status: downloads work."""
    shared = _sandbox(request).workspace.files.get(file_id)
    if shared is None:
        raise HTTPException(404, "no such file")
    shared.fail_download = status
    return {"file_id": file_id, "fail_download": status}


@router.post("/messages")
def user_message(body: MessageRequest, request: Request) -> dict[str, Any]:
    """A plain message in a channel (or thread), delivered as a `message` event."""
    sandbox = _sandbox(request)
    message = Message(
        channel=body.channel,
        text=body.text,
        user=body.user,
        bot_id=body.bot_id,
        thread_ts=body.thread_ts,
        subtype=body.subtype,
        blocks=events.rich_text(body.text),
    )
    try:
        event_id = sandbox.post(message, redeliver=body.redeliver, wait=body.wait)
    except SlackError as exc:
        raise HTTPException(422, f"not a channel id: {body.channel!r}") from exc
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"ts": message.ts, "channel": body.channel, "event_id": event_id}


@router.get("/thread")
def thread(channel: str, ts: str, request: Request) -> dict[str, Any]:
    ws = _sandbox(request).workspace
    with ws.lock:
        view = thread_view(ws, channel, ts)
    if view is None:
        raise HTTPException(404, "no such thread")
    return view


@router.get("/ephemerals")
def ephemerals(
    request: Request, user: str | None = None, channel: str | None = None
) -> list[dict[str, Any]]:
    ws = _sandbox(request).workspace
    with ws.lock:
        return ephemerals_view(ws, user=user, channel=channel)


@router.get("/calls")
def calls(request: Request, method: str | None = None) -> dict[str, Any]:
    ws = _sandbox(request).workspace
    with ws.lock:
        log = [c for c in ws.calls if method is None or c["method"] == method]
    counts: dict[str, int] = {}
    for entry in log:
        counts[entry["method"]] = counts.get(entry["method"], 0) + 1
    return {
        "calls": log,
        "counts": counts,
        "ratelimited": sum(1 for entry in log if entry["status"] == 429),
        "errors": sum(1 for entry in log if not entry["ok"]),
    }


@router.get("/deliveries")
def deliveries(request: Request, event_id: str | None = None) -> list[dict[str, Any]]:
    ws = _sandbox(request).workspace
    with ws.lock:
        return [d for d in ws.deliveries if event_id is None or d["event_id"] == event_id]


@router.get("/deliveries/pending")
def pending_deliveries(request: Request) -> dict[str, int]:
    """How many events still have an attempt or a retry to come (0: delivery is quiet)."""
    return {"pending": _sandbox(request).deliverer.pending()}


@router.get("/faults")
def list_faults(request: Request) -> list[dict[str, Any]]:
    return _sandbox(request).faults.list()


@router.post("/faults")
def add_fault(body: FaultRequest, request: Request) -> dict[str, Any]:
    faults = _sandbox(request).faults
    if body.seed is not None:
        faults.seed(body.seed)
    try:
        fault = faults.add(Fault(**body.model_dump(exclude={"seed"})))
    except (TypeError, ValueError) as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"ok": True, "fault": fault.view()}


@router.delete("/faults")
def clear_faults(request: Request) -> dict[str, bool]:
    _sandbox(request).faults.clear()
    return {"ok": True}


@router.post("/channels/{channel}/remove_bot")
def remove_bot(channel: str, request: Request) -> dict[str, Any]:
    """Someone removes the bot from `channel` (or archives it): from then on the bot's posts,
    edits, reactions and reads there answer `not_in_channel`, and it hears nothing from it."""
    ws = _sandbox(request).workspace
    with ws.lock:
        ws.open_channel(channel)
        ws.without_bot.add(channel)
    return {"ok": True, "channel": channel}


@router.post("/users")
def set_user(body: UserRequest, request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    ws, config = sandbox.workspace, sandbox.config
    with ws.lock:
        stored = ws.users.setdefault(body.id, {})
        stored.update(body.model_dump(exclude={"id"}, exclude_none=True))
        return ws.user_profile(body.id, bot_user_id=config.bot_user_id, team_id=config.team_id)


@router.post("/settings")
def settings(body: SettingsRequest, request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    if body.rate_limits is not None:
        sandbox.limiter.enabled = sandbox.config.rate_limits = body.rate_limits
    if body.bot_endpoint_url is not None:
        sandbox.config.bot_endpoint_url = body.bot_endpoint_url or None
    if body.bot_events is not None:
        every = body.bot_events == ["*"]
        sandbox.config.bot_events = None if every else tuple(body.bot_events)
    return {
        "rate_limits": sandbox.limiter.enabled,
        "bot_endpoint_url": sandbox.config.bot_endpoint_url,
        "bot_events": sandbox.config.bot_events,
    }


@router.post("/reset")
def reset(request: Request) -> dict[str, Any]:
    _sandbox(request).reset()
    return {"ok": True, "at": time.time()}
