"""The download step against httpx.MockTransport: what Slack can answer, and what we make of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from docjobs.jobs.errors import (
    CorruptPdf,
    DownloadFailed,
    FileUnavailable,
    NotAPdf,
    NotInSlack,
    TooLarge,
)
from docjobs.tasks.download import download_file, looks_like_pdf

URL = "https://files.slack.com/files-pri/T1-F1/download/report.pdf"
PDF = b"%PDF-1.7\n" + b"1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 200 + b"%%EOF\n"
LOGIN_PAGE = b"<!DOCTYPE html>\n<html><head><title>Slack</title></head><body>Sign in</body></html>"


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def fetch(tmp_path: Path, handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> Path:
    options: dict = {"token": "xoxb-test", "dest_dir": tmp_path, "max_bytes": 1_000_000, **kw}
    with client_for(handler) as client:
        return download_file(URL, client=client, **options)


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_sends_the_bot_token_and_returns_the_file(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=PDF, headers={"Content-Type": "application/pdf"})

    progress: list[tuple[str, int, str]] = []
    path = fetch(tmp_path, handler, on_progress=lambda *a: progress.append(a))

    assert seen[0].headers["Authorization"] == "Bearer xoxb-test"
    assert path.parent == tmp_path and path.read_bytes() == PDF
    assert progress and all(step == "downloading" and 0 <= pct <= 10 for step, pct, _ in progress)
    assert progress[-1][1] == 10


def test_streamed_body_arriving_in_small_pieces_is_written_whole(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks(PDF, 7))  # no Content-Length

    assert fetch(tmp_path, handler).read_bytes() == PDF


def test_a_pdf_smaller_than_the_sniffed_head_is_kept(tmp_path: Path) -> None:
    tiny = b"%PDF-1.4\n%%EOF\n"
    path = fetch(tmp_path, lambda request: httpx.Response(200, content=tiny))
    assert path.read_bytes() == tiny


def test_slack_login_page_means_the_app_lacks_access(tmp_path: Path) -> None:
    # A missing or invalid token: Slack answers 200 with its HTML sign-in page.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=LOGIN_PAGE, headers={"Content-Type": "text/html"})

    with pytest.raises(FileUnavailable) as caught:
        fetch(tmp_path, handler)
    assert "access" in caught.value.detail
    assert not caught.value.retryable
    assert list(tmp_path.iterdir()) == []


def test_html_without_a_content_type_is_still_the_login_page(tmp_path: Path) -> None:
    with pytest.raises(FileUnavailable):
        fetch(tmp_path, lambda request: httpx.Response(200, content=b"\n  " + LOGIN_PAGE))


def test_other_bytes_are_not_a_pdf(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(4000)
    with pytest.raises(NotAPdf):
        fetch(tmp_path, lambda request: httpx.Response(200, content=png))
    assert list(tmp_path.iterdir()) == []


def test_an_empty_body_is_a_damaged_file(tmp_path: Path) -> None:
    with pytest.raises(CorruptPdf):
        fetch(tmp_path, lambda request: httpx.Response(200, content=b""))
    assert list(tmp_path.iterdir()) == []


def test_refuses_by_content_length_before_reading_the_body(tmp_path: Path) -> None:
    read: list[bytes] = []

    def body() -> Iterator[bytes]:
        for piece in chunks(PDF, 100):
            read.append(piece)
            yield piece

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body(), headers={"Content-Length": "5000000"})

    with pytest.raises(TooLarge) as caught:
        fetch(tmp_path, handler, max_bytes=1_000_000)
    assert "4.8 MB" in caught.value.detail
    assert read == []
    assert list(tmp_path.iterdir()) == []


def test_refuses_while_streaming_when_no_length_is_declared(tmp_path: Path) -> None:
    big = PDF + b"0" * 50_000

    with pytest.raises(TooLarge):
        fetch(tmp_path, lambda r: httpx.Response(200, content=chunks(big, 4096)), max_bytes=20_000)
    assert list(tmp_path.iterdir()) == []


def test_rate_limited_download_is_retryable_with_the_servers_wait(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "17"})

    with pytest.raises(DownloadFailed) as caught:
        fetch(tmp_path, handler)
    assert caught.value.retryable
    assert caught.value.retry_after == 17  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("²", None),  # a Unicode digit is no number of seconds
        # At most Settings.retry_backoff_max's default, the longest wait between attempts.
        ("99999999999999999999999", 300),
        ("Wed, 21 Oct 2999 07:28:00 GMT", 300),
    ],
)
def test_a_strange_or_huge_retry_after_still_leaves_a_sane_retry(
    tmp_path: Path, header: str, wait: float | None
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": header.encode()})

    with pytest.raises(DownloadFailed) as caught:
        fetch(tmp_path, handler)
    assert caught.value.retryable
    assert caught.value.retry_after == wait  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(tmp_path: Path, status: int) -> None:
    with pytest.raises(DownloadFailed) as caught:
        fetch(tmp_path, lambda request: httpx.Response(status, content=b"oops"))
    assert caught.value.retryable
    assert caught.value.retry_after is None  # type: ignore[attr-defined]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("status", [403, 404, 410])
def test_missing_or_forbidden_files_are_unavailable_for_good(tmp_path: Path, status: int) -> None:
    with pytest.raises(FileUnavailable) as caught:
        fetch(tmp_path, lambda request: httpx.Response(status))
    assert not caught.value.retryable
    assert str(status) in caught.value.detail


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.ConnectTimeout("x")]
)
def test_network_trouble_is_retryable(tmp_path: Path, error: httpx.HTTPError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(DownloadFailed) as caught:
        fetch(tmp_path, handler)
    assert caught.value.retryable
    assert list(tmp_path.iterdir()) == []


def test_a_connection_dropped_mid_body_removes_the_partial_file(tmp_path: Path) -> None:
    def body() -> Iterator[bytes]:
        yield PDF[:2000]
        raise httpx.ReadError("connection reset")

    with pytest.raises(DownloadFailed):
        fetch(tmp_path, lambda request: httpx.Response(200, content=body()))
    assert list(tmp_path.iterdir()) == []


def test_pdf_sniffing_follows_what_readers_accept() -> None:
    assert looks_like_pdf(b"%PDF-1.7\n")
    assert looks_like_pdf(b"\xef\xbb\xbfjunk before the header " * 10 + b"%PDF-1.4")
    assert not looks_like_pdf(b"x" * 1100 + b"%PDF-1.4")  # past the first 1024 bytes
    # No header, but the body starts with objects: pypdf and pdf.js open these.
    assert looks_like_pdf(b"%\xe2\xe3\xcf\xd3\n1 0 obj \n<<\n/Pages 2 0 R")
    assert not looks_like_pdf(b"PK\x03\x04 word/document.xml")
    assert not looks_like_pdf(b"Version 1 0 objectives for the quarter")


@pytest.mark.parametrize(
    "url",
    [
        "https://docs.example.com/export?format=pdf",  # an external file's link
        "https://files.slack.com.evil.example/report.pdf",
        "https://evilslack.com/report.pdf",
        "http://files.slack.com/report.pdf",  # the token never goes in clear
        "https://127.0.0.1:9000/report.pdf",
    ],
)
def test_the_token_never_goes_to_a_link_outside_slack(tmp_path: Path, url: str) -> None:
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(200, content=PDF)

    with client_for(handler) as client, pytest.raises(NotInSlack, match="outside Slack"):
        download_file(url, token="xoxb-test", dest_dir=tmp_path, max_bytes=10**6, client=client)
    assert asked == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://files.slack.com/files-pri/T1-F1/download/a.pdf", ()),
        ("https://files.slack-gov.com/files-pri/T1-F1/download/a.pdf", ()),
        ("http://127.0.0.1:9000/files/F1/a.pdf", ("127.0.0.1:9000",)),  # SLACK_API_URL's host
    ],
)
def test_slack_and_the_configured_host_get_the_token(
    tmp_path: Path, url: str, trusted: tuple[str, ...]
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=PDF, headers={"Content-Type": "application/pdf"})

    with client_for(handler) as client:
        download_file(
            url,
            token="xoxb-test",
            dest_dir=tmp_path,
            max_bytes=10**6,
            client=client,
            trusted_hosts=trusted,
        )
    assert seen[0].headers["Authorization"] == "Bearer xoxb-test"
