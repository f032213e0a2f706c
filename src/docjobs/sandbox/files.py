"""Shared files: kept on disk in a temp dir (large files never sit in memory) and served at
`url_private` / `url_private_download`. With the bot token the answer is the bytes and the
file's mimetype; without it Slack answers 200 with an HTML sign-in page, not 401 — the trap
a downloader must spot by checking the Content-Type."""

from __future__ import annotations

import asyncio
import mimetypes
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from docjobs.sandbox.faults import DOWNLOAD
from docjobs.sandbox.ids import Ids
from docjobs.sandbox.models import SharedFile

if TYPE_CHECKING:
    from docjobs.sandbox.sandbox import Sandbox

router = APIRouter()

LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Slack</title></head>
<body><h1>Sign in to {domain}</h1>
<form action="/signin" method="post">
<input type="email" name="email" placeholder="name@work-email.com">
<button type="submit">Sign In With Email</button></form></body></html>
"""


class FileStore:
    def __init__(self, ids: Ids) -> None:
        self.ids = ids
        self._dir: Path | None = None
        self._lock = threading.Lock()

    @property
    def dir(self) -> Path:
        """Made on first use, so an app that is built but never served leaves nothing behind."""
        with self._lock:
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="docjobs-sandbox-files-"))
            return self._dir

    def close(self) -> None:
        with self._lock:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)

    def add(
        self,
        *,
        user: str,
        channel: str,
        filename: str,
        content: bytes | None = None,
        source: Path | None = None,
        mimetype: str | None = None,
        filetype: str | None = None,
        title: str | None = None,
        fail_download: int | None = None,
    ) -> SharedFile:
        """A new file from bytes or (copied on disk) from a local path."""
        file_id = self.ids.next_id("F")
        path = self.dir / file_id
        if source is not None:
            shutil.copyfile(source, path)
        else:
            path.write_bytes(content or b"")
        suffix = Path(filename).suffix.lstrip(".").lower()
        return SharedFile(
            id=file_id,
            name=filename,
            title=title or filename,
            mimetype=mimetype or mimetypes.guess_type(filename)[0] or "application/octet-stream",
            filetype=filetype or suffix or "binary",
            size=path.stat().st_size,
            path=path,
            user=user,
            channel=channel,
            created=int(time.time()),
            fail_download=fail_download,
        )


@router.get("/files-pri/{team_file}/download/{name:path}")
@router.get("/files-pri/{team_file}/{name:path}")
async def download(team_file: str, name: str, request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    config = sandbox.config
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if token != config.bot_token:
        return HTMLResponse(LOGIN_PAGE.format(domain=config.team_domain), status_code=200)
    team_id, _, file_id = team_file.rpartition("-")
    shared = sandbox.workspace.files.get(file_id) if team_id == config.team_id else None
    if shared is None or not shared.path.exists():
        return _failure(sandbox, file_id, 404)
    fault = sandbox.faults.draw(DOWNLOAD, file_id)
    if fault is not None:
        if fault.mode == "timeout":
            await asyncio.sleep(fault.sleep_s or config.fault_timeout_s)
            return _failure(sandbox, file_id, 500)
        return _failure(sandbox, file_id, int(fault.mode), retry_after=fault.retry_after)
    if shared.fail_download:
        return _failure(sandbox, file_id, shared.fail_download)
    sandbox.log_call(DOWNLOAD, status=200, ok=True, channel=shared.channel, file=file_id)
    return FileResponse(shared.path, media_type=shared.mimetype, filename=shared.name)


def _failure(sandbox: Sandbox, file_id: str, status: int, *, retry_after: int = 1) -> Response:
    sandbox.log_call(DOWNLOAD, status=status, ok=False, error=str(status), file=file_id)
    headers = {"Retry-After": str(retry_after)} if status == 429 else None
    text = "File not found" if status == 404 else "Something went wrong"
    return Response(text, status_code=status, media_type="text/plain", headers=headers)
