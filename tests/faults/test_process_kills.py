"""Workers and the reporter killed with SIGKILL mid-job: every job still ends with exactly
one visible outcome, and the thread's last word matches the job's state."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

from docjobs.sample import write_sample_pdf
from tests.support.pdfs import write_long_pdf
from tests.support.servers import wait_until
from tests.support.stack import OUTCOME_PREFIXES, Stack, bot_replies


def outcome_replies(thread: dict) -> list[str]:
    return [m["text"] for m in bot_replies(thread) if m["text"].startswith(OUTCOME_PREFIXES)]


def assert_one_good_ending(stack: Stack, shared: dict, *, timeout_s: float = 90) -> dict:
    thread = stack.wait_for_outcome(shared["channel"], shared["ts"], timeout_s=timeout_s)
    time.sleep(1.0)  # a duplicate outcome would arrive right behind the first
    thread = stack.thread(shared["channel"], shared["ts"])
    outcomes = outcome_replies(thread)
    assert len(outcomes) == 1, outcomes
    assert outcomes[0].startswith(":white_check_mark: Done"), outcomes[0]
    progress = [m for m in bot_replies(thread) if not m["text"].startswith(OUTCOME_PREFIXES)]
    assert [m["text"].split(" ", 1)[0] for m in progress] == [":white_check_mark:"]
    return thread


def running_percent(stack: Stack, shared: dict) -> int:
    """How far the running job has got, from its record: the thread is edited at most every
    3 s, and a fast machine reads a long PDF before the first edit."""
    for message in bot_replies(stack.thread(shared["channel"], shared["ts"])):
        found = re.search(r"job `(\w{6})`", message["text"])
        if found:
            job = stack.job(found.group(1))
            return int(job["percent"]) if job["state"] == "running" else 0
    return 0


def test_pool_process_killed_mid_job_repeatedly(fault_stack: Stack, tmp_path: Path) -> None:
    pdf = write_long_pdf(tmp_path / "long.pdf", 1500).read_bytes()
    shared = fault_stack.share(pdf, filename="long.pdf")
    for _ in range(2):
        wait_until(lambda: running_percent(fault_stack, shared) >= 15, timeout_s=60)
        busy = fault_stack.busiest_pool_process()
        os.kill(busy, signal.SIGKILL)
        wait_until(lambda b=busy: b not in fault_stack.worker_children(), timeout_s=10)
    assert_one_good_ending(fault_stack, shared, timeout_s=120)
    assert fault_stack.children["worker"].poll() is None  # the worker itself lives on


def test_whole_worker_killed_mid_job_and_replaced(fault_stack: Stack, tmp_path: Path) -> None:
    pdf = write_long_pdf(tmp_path / "long.pdf", 2000).read_bytes()
    shared = fault_stack.share(pdf, filename="long.pdf")
    wait_until(lambda: running_percent(fault_stack, shared) >= 15, timeout_s=60)
    children = fault_stack.worker_children()
    fault_stack.stop("worker", kill=True)
    for child in children:  # SIGKILL on the main process leaves its pool orphaned
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    fault_stack.start("worker", "worker")
    assert_one_good_ending(fault_stack, shared, timeout_s=120)


def test_reporter_killed_mid_burst_then_restarted(fault_stack: Stack, tmp_path: Path) -> None:
    pdf = write_sample_pdf(tmp_path / "q3-report.pdf").read_bytes()
    channel = "CBURST" + str(int(time.time()))[-4:]
    shares = [fault_stack.share(pdf, channel=channel, filename=f"doc-{i}.pdf") for i in range(8)]
    time.sleep(1.0)
    fault_stack.stop("reporter", kill=True)
    time.sleep(2.0)
    fault_stack.start("reporter", "reporter")
    for shared in shares:
        assert_one_good_ending(fault_stack, shared, timeout_s=90)
