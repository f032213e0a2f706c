"""File downloads by url_private: the bytes with a valid bot token; without one, Slack's
answer is an HTML sign-in page with status 200 (not 401), which is what the bot must spot."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

router = APIRouter()

LOGIN_PAGE = """<!DOCTYPE html><html lang="en"><head><title>Slack</title></head>
<body><h1>Sign in to sandbox</h1><form action="/signin" method="post">
<input type="email" name="email"><button>Sign in</button></form></body></html>"""


@router.get("/files-pri/{team_file}/{name}")
@router.get("/files-pri/{team_file}/download/{name}")
def download(team_file: str, name: str, request: Request) -> Response:
    sandbox = request.app.state.sandbox
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if token != sandbox.config.bot_token:
        return HTMLResponse(LOGIN_PAGE, status_code=200)
    file_id = team_file.rsplit("-", 1)[-1]
    shared = sandbox.workspace.files.get(file_id)
    if shared is None or not shared.path.exists():
        return Response("file not found", status_code=404, media_type="text/plain")
    if shared.fail_download:
        return Response(
            "download failed", status_code=shared.fail_download, media_type="text/plain"
        )
    return FileResponse(shared.path, media_type=shared.mimetype, filename=shared.name)
