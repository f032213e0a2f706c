"""Download step: fetch a Slack file with the bot token into a temp file, refusing non-PDFs."""

from __future__ import annotations

import email.utils
import logging
import os
import re
import tempfile
import time
from collections.abc import Collection
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx

from docjobs.jobs.errors import (
    CorruptPdf,
    DownloadFailed,
    FileUnavailable,
    NotAPdf,
    NotInSlack,
    TooLarge,
)
from docjobs.tasks.progress import ProgressFn, overall_percent

logger = logging.getLogger(__name__)

# PDF readers look for the header anywhere in the first 1024 bytes.
HEAD_BYTES = 1024
_PDF_HEADER = b"%PDF-"
# Readers (pypdf, pdf.js) also open files whose header is missing but whose body starts with
# objects: accept "N G obj" early in the file so such a PDF is not called "not a PDF".
_OBJECT_HEADER = re.compile(rb"(?:^|[\s%])\d{1,10}\s+\d{1,5}\s+obj\b")
_HTML_START = re.compile(rb"^\s*(?:<!doctype\s+html|<html|<head|<body|<!--)", re.IGNORECASE)
_GONE = {401, 403, 404, 410}
_RETRYABLE = {408, 425, 429}
# The longest wait a Retry-After may ask for: Settings.retry_backoff_max's default, the
# longest delay between attempts that the broker's visibility timeout is checked against
# (celery_app). A longer countdown could outlive it and run the task twice.
MAX_RETRY_AFTER_S = 300.0
# The domains Slack serves shared files from (files.slack.com; GovSlack's slack-gov.com): the
# only hosts the bot token is sent to, besides one the operator names (SLACK_API_URL's).
SLACK_FILE_DOMAINS = ("slack.com", "slack-gov.com")
_NO_ACCESS = (
    "Slack answered with a web page instead of the file: the app's token lacks access "
    "(is the app in this channel, with the files:read scope?)."
)


def looks_like_pdf(head: bytes) -> bool:
    """True if the first bytes of a file are those of a PDF, as PDF readers judge it."""
    head = head[:HEAD_BYTES]
    return _PDF_HEADER in head or _OBJECT_HEADER.search(head) is not None


def looks_like_html(head: bytes) -> bool:
    return _HTML_START.match(head.lstrip(b"\xef\xbb\xbf")) is not None


def check_pdf_head(head: bytes) -> None:
    """Raise the JobError for a file that starts with `head`, unless it looks like a PDF."""
    if not head:
        raise CorruptPdf("The file is empty (0 bytes).")
    if not looks_like_pdf(head):
        raise NotAPdf("The file does not start like a PDF.")


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), at most
    MAX_RETRY_AFTER_S, or None."""
    if not value:
        return None
    value = value.strip()
    # ASCII only: str.isdigit also takes "²", which float() refuses.
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(when.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER_S)


def token_may_go_to(url: str, trusted_hosts: Collection[str] = ()) -> bool:
    """True if `url` is Slack's own file host over https (or a host the operator trusts): a
    link that points elsewhere must not receive the bot token."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.netloc.lower() in trusted_hosts:
        return parts.scheme in ("http", "https")
    is_slack = any(host == d or host.endswith(f".{d}") for d in SLACK_FILE_DOMAINS)
    return parts.scheme == "https" and is_slack


def _download_failed(detail: str, retry_after: float | None = None) -> DownloadFailed:
    return DownloadFailed(detail, retry_after=retry_after)


def download_file(
    url: str,
    *,
    token: str,
    dest_dir: Path,
    max_bytes: int,
    client: httpx.Client | None = None,
    on_progress: ProgressFn | None = None,
    trusted_hosts: Collection[str] = (),
) -> Path:
    """Stream `url` into a new file in `dest_dir` and return its path; raise a JobError if not.
    `trusted_hosts` ("host:port" as in a URL) may get the token besides Slack's file hosts."""
    if not token_may_go_to(url, trusted_hosts):
        host = urlsplit(url).hostname or url[:60]
        raise NotInSlack(f"Its link points outside Slack ({host}).")
    own_client = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
    fd, name = tempfile.mkstemp(dir=dest_dir, prefix="download-", suffix=".pdf")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            _stream_into(
                http, url, token=token, out=handle, max_bytes=max_bytes, on_progress=on_progress
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        if own_client:
            http.close()
    return path


def _stream_into(
    http: httpx.Client,
    url: str,
    *,
    token: str,
    out: IO[bytes],
    max_bytes: int,
    on_progress: ProgressFn | None,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with http.stream("GET", url, headers=headers, follow_redirects=True) as response:
            _check_status(response)
            total = _declared_length(response)
            if total is not None and total > max_bytes:
                size, limit = format_mb(total), format_mb(max_bytes)
                raise TooLarge(f"The file is {size}; the limit is {limit}.")
            received, head, checked, last_percent = 0, b"", False, -1
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise TooLarge(f"The file is larger than the limit of {format_mb(max_bytes)}.")
                if not checked:
                    head += chunk
                    if len(head) < HEAD_BYTES:
                        continue
                    _check_head(head, response)
                    checked, chunk = True, head
                out.write(chunk)
                if on_progress and total:
                    percent = overall_percent("downloading", received, total)
                    if percent != last_percent:
                        last_percent = percent
                        detail = f"{format_mb(received)} of {format_mb(total)}"
                        on_progress("downloading", percent, detail)
            if not checked:
                _check_head(head, response)
                out.write(head)
    except httpx.TimeoutException as exc:
        raise _download_failed(f"Slack did not answer in time ({type(exc).__name__}).") from exc
    except httpx.TransportError as exc:
        raise _download_failed(f"Could not reach Slack ({type(exc).__name__}).") from exc


def _check_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    if status in _GONE:
        raise FileUnavailable(f"Slack refused the download (HTTP {status}).")
    if status in _RETRYABLE or status >= 500:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        raise _download_failed(f"Slack answered HTTP {status}.", retry_after=wait)
    raise FileUnavailable(f"Slack refused the download (HTTP {status}).")


def _check_head(head: bytes, response: httpx.Response) -> None:
    # A missing or invalid token gets Slack's HTML sign-in page with status 200, served as
    # text/html; a shared file comes with its own type, so HTML bytes there are the file's.
    content_type = response.headers.get("Content-Type", "")
    is_html_page = "text/html" in content_type or (not content_type and looks_like_html(head))
    if head and not looks_like_pdf(head) and is_html_page:
        raise FileUnavailable(_NO_ACCESS)
    check_pdf_head(head)


def _declared_length(response: httpx.Response) -> int | None:
    value = response.headers.get("Content-Length", "")
    # A compressed body's length says nothing about the file's size.
    if not value.isdigit() or response.headers.get("Content-Encoding"):
        return None
    return int(value)


def format_mb(size: int) -> str:
    """A size for people: '3.4 MB'."""
    return f"{size / 1_048_576:.1f} MB"
