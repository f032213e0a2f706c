"""Transient trouble is retried with backoff, and the thread says "retrying" meanwhile."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from docjobs.embedded_redis import EmbeddedRedis
from docjobs.sample import write_sample_pdf
from tests.support.stack import Stack, bot_replies, running_stack


@pytest.fixture(scope="module")
def slow_retry_stack(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Backoff from 2 s, so a retry is still waiting when the progress message is next edited
    (at most one edit per 3 s)."""
    env = {"DOCJOBS_RETRY_BACKOFF_BASE_S": "2"}
    # Its own Redis database: its reporter must not take the package stack's events.
    url = redis_server.url.rsplit("/", 1)[0] + "/2"
    with running_stack(url, tmp_path_factory.mktemp("retry"), extra_env=env) as s:
        yield s


def test_transient_download_errors_are_retried_and_shown_as_retrying(
    slow_retry_stack: Stack, tmp_path: Path
) -> None:
    stack = slow_retry_stack
    pdf = write_sample_pdf(tmp_path / "q3-report.pdf").read_bytes()
    shared = stack.share(pdf, fail_download=503)
    time.sleep(3.5)  # the first attempts fail; the progress message shows it is retrying
    stack.http.post(f"{stack.sandbox_url}/control/files/{shared['file_id']}/fail")
    thread = stack.wait_for_outcome(shared["channel"], shared["ts"], timeout_s=40)
    assert bot_replies(thread)[-1]["text"].startswith(":white_check_mark: Done")
    edits = [c["text"] for c in thread["history"] if c["kind"] == "edited"]
    retrying = [text for text in edits if text.startswith(":repeat: *q3-report.pdf* — retrying: ")]
    assert retrying, edits
    assert "Slack answered HTTP 503" in retrying[0]
