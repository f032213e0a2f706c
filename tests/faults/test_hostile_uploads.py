"""Hostile uploads: each gets a clear reason, inside a memory and time budget the operating
system or Celery enforces, and no process dies of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from docjobs.embedded_redis import EmbeddedRedis
from tests.faults.conftest import FAST_RECOVERY
from tests.support import hostile
from tests.support.pdfs import write_long_pdf
from tests.support.stack import Stack, bot_replies, running_stack

MEMORY_BUDGET_MB = 400


def run_process(path: Path, env_extra: dict[str, str] | None = None) -> tuple[int, dict, float]:
    """`docjobs process FILE --json` in its own process: exit code, outcome, peak RSS (MB)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCJOBS_")}
    env.update({"DOCJOBS_WORKER_MEMORY_LIMIT_MB": "1024", **(env_extra or {})})
    child = subprocess.Popen(
        [sys.executable, "-m", "docjobs.cli", "process", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    return child.returncode, json.loads(output), usage.ru_maxrss / 1024


HOSTILE: list[tuple[str, Callable[[Path], Path], str, str | None]] = [
    ("bomb", lambda p: hostile.write_deflate_bomb(p, inflated_mb=400), "failed", "too_large"),
    ("deep-nesting", hostile.write_deep_nesting, "failed", "corrupt"),
    ("zip", hostile.write_zip_named_pdf, "failed", "not_pdf"),
    ("lying-count", hostile.write_lying_count, "succeeded", None),
    ("xref-loop", hostile.write_xref_loop, "succeeded", None),
    # Text no UTF-8 encoder takes: stored with U+FFFD in place, not retried as an outage.
    ("lone-surrogate", hostile.write_lone_surrogate, "succeeded", None),
]
ENGINES = ("pypdf", "auto")
# pdfium ("auto") skips the 50,000-deep junk in the catalog and reads the one page, where
# pypdf gives up on the whole file (RecursionError): auto keeps pdfium's read.
BY_ENGINE = {("deep-nesting", "auto"): ("succeeded", None)}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("name", "make", "status", "code"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_file_gets_a_clear_answer_within_budget(
    name: str,
    make: Callable[[Path], Path],
    status: str,
    code: str | None,
    engine: str,
    tmp_path: Path,
) -> None:
    status, code = BY_ENGINE.get((name, engine), (status, code))
    path = make(tmp_path / f"{name}.pdf")
    exit_code, outcome, peak_mb = run_process(path, {"DOCJOBS_EXTRACT_ENGINE": engine})
    assert outcome["status"] == status
    assert exit_code == (0 if status == "succeeded" else 1)
    if code:
        assert outcome["reason_code"] == code and outcome["reason"]
    else:
        assert outcome["pages"] == 1
    assert peak_mb < MEMORY_BUDGET_MB, f"{name} peaked at {peak_mb:.0f} MB"


def test_more_pages_than_the_cap_is_refused_before_reading_them(tmp_path: Path) -> None:
    path = write_long_pdf(tmp_path / "3000-pages.pdf", 3000, words_per_page=20)
    exit_code, outcome, _ = run_process(path, {"DOCJOBS_MAX_PAGES": "2000"})
    assert exit_code == 1 and outcome["reason_code"] == "too_large"
    assert "3000" in outcome["reason"] or "3,000" in outcome["reason"]
    assert outcome["seconds"] < 5


def test_a_larger_file_than_the_cap_is_refused_by_size(tmp_path: Path) -> None:
    path = write_long_pdf(tmp_path / "big.pdf", 200)
    exit_code, outcome, _ = run_process(path, {"DOCJOBS_MAX_FILE_BYTES": "10000"})
    assert exit_code == 1 and outcome["reason_code"] == "too_large"


@pytest.fixture
def slow_limit_stack(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[Stack]:
    limits = {"DOCJOBS_TASK_SOFT_TIME_LIMIT": "2", "DOCJOBS_TASK_TIME_LIMIT": "4"}
    with running_stack(
        redis_server.url, tmp_path / "stack", extra_env={**FAST_RECOVERY, **limits}
    ) as stack:
        yield stack


def test_a_job_past_its_time_limit_fails_and_the_worker_carries_on(
    slow_limit_stack: Stack, tmp_path: Path
) -> None:
    stack = slow_limit_stack
    slow = stack.share(
        write_long_pdf(tmp_path / "slow.pdf", 2000).read_bytes(), filename="slow.pdf"
    )
    thread = stack.wait_for_outcome(slow["channel"], slow["ts"], timeout_s=60)
    outcome = bot_replies(thread)[-1]["text"]
    assert outcome.startswith(":x: I could not process *slow.pdf*: ")
    assert "longer than" in outcome
    bomb = stack.share(
        hostile.write_deflate_bomb(tmp_path / "bomb.pdf").read_bytes(), filename="bomb.pdf"
    )
    thread = stack.wait_for_outcome(bomb["channel"], bomb["ts"], timeout_s=60)
    assert "too large" in bot_replies(thread)[-1]["text"]
    good = stack.share(write_long_pdf(tmp_path / "ok.pdf", 3).read_bytes(), filename="ok.pdf")
    thread = stack.wait_for_outcome(good["channel"], good["ts"], timeout_s=60)
    assert bot_replies(thread)[-1]["text"].startswith(":white_check_mark: Done")
    assert stack.children["worker"].poll() is None


@pytest.fixture
def small_memory_stack(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[Stack]:
    """The default engine (`auto`) with a lower address-space cap, so that pdfium runs out of
    memory (and aborts its process) in about a second rather than eight."""
    limits = {"DOCJOBS_WORKER_MEMORY_LIMIT_MB": "800", "DOCJOBS_LEASE_TTL_S": "3"}
    with running_stack(redis_server.url, tmp_path / "stack", extra_env=limits) as stack:
        yield stack


def test_a_pdf_that_aborts_pdfium_is_read_by_pypdf_on_the_next_run(
    small_memory_stack: Stack, tmp_path: Path
) -> None:
    stack = small_memory_stack
    pdf = hostile.write_self_drawing_form(tmp_path / "loop.pdf").read_bytes()
    shared = stack.share(pdf, filename="loop.pdf")
    thread = stack.wait_for_outcome(shared["channel"], shared["ts"], timeout_s=90)
    outcome = bot_replies(thread)[-1]["text"]
    assert outcome.startswith(":white_check_mark: Done: *loop.pdf* — 1 page"), outcome
    assert "SIGABRT" in stack.log("worker") or "signal 6" in stack.log("worker")
    assert stack.children["worker"].poll() is None


@pytest.mark.parametrize("engine", ENGINES)
def test_more_text_than_the_cap_is_refused_as_too_large(tmp_path: Path, engine: str) -> None:
    path = write_long_pdf(tmp_path / "wordy.pdf", 40)
    env = {"DOCJOBS_MAX_TEXT_CHARS": "5000", "DOCJOBS_EXTRACT_ENGINE": engine}
    exit_code, outcome, _ = run_process(path, env)
    assert exit_code == 1 and outcome["reason_code"] == "too_large"
    assert "past 5,000 characters" in outcome["reason"]
