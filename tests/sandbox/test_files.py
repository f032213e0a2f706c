"""File hosting: the bytes with the bot token, Slack's HTML sign-in page (status 200) without
it, 404 for what does not exist, failures on demand, and big files streamed from disk."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request

from tests.sandbox.conftest import ALICE, CHANNEL, TOKEN, Running
from tests.support.servers import serve

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


def bearer(sandbox: Running) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.config.bot_token}"}


def test_a_share_makes_a_file_object_like_slacks(sandbox: Running) -> None:
    shared = sandbox.share(PDF, filename="Q3 report.pdf", text="numbers")
    file = shared["file"]
    assert file["id"] == shared["file_id"] and file["id"].startswith("F")
    assert (file["name"], file["mimetype"], file["filetype"], file["pretty_type"]) == (
        "Q3 report.pdf",
        "application/pdf",
        "pdf",
        "PDF",
    )
    assert (file["size"], file["mode"], file["is_external"], file["user"]) == (
        len(PDF),
        "hosted",
        False,
        ALICE,
    )
    base = f"{sandbox.config.public_url}/files-pri/T0SANDBOX-{file['id']}"
    assert file["url_private"] == f"{base}/Q3%20report.pdf"
    assert file["url_private_download"] == f"{base}/download/Q3%20report.pdf"
    info = sandbox.slack.files_info(file=file["id"])["file"]
    assert info["url_private"] == file["url_private"]
    assert info["shares"]["public"][CHANNEL][0]["ts"] == shared["ts"]
    [message] = sandbox.slack.conversations_history(channel=CHANNEL)["messages"]
    assert (message["subtype"], message["user"], message["text"]) == (
        "file_share",
        ALICE,
        "numbers",
    )
    assert message["files"][0]["id"] == file["id"] and message["upload"] is True


def test_a_name_with_slashes_and_dots_stays_one_segment_of_its_url(sandbox: Running) -> None:
    file = sandbox.share(PDF, filename="../../etc/passwd.pdf")["file"]
    assert file["url_private"].endswith("/..%2F..%2Fetc%2Fpasswd.pdf")
    for url in (file["url_private"], file["url_private_download"]):
        reply = httpx.get(url, headers=bearer(sandbox))
        assert reply.status_code == 200 and reply.content == PDF


def test_downloads_need_the_token_or_get_the_sign_in_page(sandbox: Running) -> None:
    file = sandbox.share(PDF)["file"]
    for url in (file["url_private"], file["url_private_download"]):
        reply = httpx.get(url, headers=bearer(sandbox))
        assert reply.status_code == 200 and reply.content == PDF
        assert reply.headers["content-type"] == "application/pdf"
    for headers in ({}, {"Authorization": "Bearer xoxb-wrong"}):
        page = httpx.get(file["url_private"], headers=headers)
        assert page.status_code == 200  # Slack's trap: not 401
        assert page.headers["content-type"].startswith("text/html")
        assert b"<!DOCTYPE html>" in page.content
    missing = httpx.get(f"{sandbox.url}/files-pri/T0SANDBOX-F0NOPE/x.pdf", headers=bearer(sandbox))
    assert missing.status_code == 404


def test_downloads_fail_on_demand(sandbox: Running) -> None:
    file = sandbox.share(PDF, fail_download=503)["file"]
    assert httpx.get(file["url_private"], headers=bearer(sandbox)).status_code == 503
    sandbox.control("POST", f"files/{file['id']}/fail")  # no status: downloads work again
    assert httpx.get(file["url_private"], headers=bearer(sandbox)).status_code == 200
    sandbox.control(
        "POST",
        "faults",
        json={"method": "files.download", "mode": "404", "file_id": file["id"], "count": 1},
    )
    assert httpx.get(file["url_private"], headers=bearer(sandbox)).status_code == 404
    assert httpx.get(file["url_private"], headers=bearer(sandbox)).status_code == 200
    downloads = sandbox.control("GET", "calls", params={"method": "files.download"})["calls"]
    assert [d["status"] for d in downloads] == [503, 200, 404, 200]


def downloading_bot(seen: list[tuple[int, str]]) -> FastAPI:
    """A bot that downloads a shared file while it handles the `file_share` event."""
    app = FastAPI()

    @app.post("/slack/events")
    async def events(request: Request) -> dict[str, Any]:
        event = (await request.json())["event"]
        if event.get("subtype") == "file_share":
            url = event["files"][0]["url_private_download"]
            async with httpx.AsyncClient() as client:
                got = await client.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
            seen.append((got.status_code, got.headers["content-type"]))
        return {}

    return app


def test_a_failing_download_fails_for_a_bot_that_downloads_at_once(
    start_sandbox: Callable[..., Running],
) -> None:
    seen: list[tuple[int, str]] = []
    with serve(downloading_bot(seen)) as bot_url:
        sandbox = start_sandbox(bot_endpoint_url=f"{bot_url}/slack/events")
        sandbox.share(PDF, fail_download=503, wait=True)
        sandbox.share(PDF, wait=True)
    assert seen == [(503, "text/plain; charset=utf-8"), (200, "application/pdf")]


def test_a_big_file_shared_from_a_path_streams_from_disk(sandbox: Running, tmp_path: Path) -> None:
    big = tmp_path / "big.pdf"
    with big.open("wb") as out:
        for n in range(24):
            out.write(bytes([n]) * (1 << 20))
    shared = sandbox.control(
        "POST",
        "share",
        json={"channel": CHANNEL, "user": ALICE, "filename": "big.pdf", "path": str(big)},
    )
    digest = hashlib.sha256()
    with httpx.stream("GET", shared["file"]["url_private_download"], headers=bearer(sandbox)) as r:
        assert r.status_code == 200 and int(r.headers["content-length"]) == 24 << 20
        for chunk in r.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(big.read_bytes()).hexdigest()
