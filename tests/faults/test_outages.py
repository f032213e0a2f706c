"""Redis restarted, the results service down, Slack failing a fifth of its calls, a queued
message lost: every job still ends in a final state with exactly one outcome reply matching it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from docjobs.embedded_redis import EmbeddedRedis, free_port
from docjobs.jobs.connection import connect
from docjobs.jobs.events import STREAM_KEY
from docjobs.jobs.store import CELERY_QUEUE, JobStore
from docjobs.sample import write_sample_pdf
from tests.faults.conftest import FAST_RECOVERY
from tests.faults.test_process_kills import assert_one_good_ending, running_percent
from tests.support.env import child_env
from tests.support.pdfs import write_long_pdf
from tests.support.servers import wait_until
from tests.support.stack import Stack, running_stack


@pytest.fixture
def aof_stack(aof_redis: EmbeddedRedis, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(aof_redis.url, tmp_path / "stack", extra_env=FAST_RECOVERY) as stack:
        yield stack


def test_redis_restarted_while_jobs_are_queued_running_and_reported(
    aof_stack: Stack, aof_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    pdf = write_long_pdf(tmp_path / "doc.pdf", 1500).read_bytes()
    shares = [aof_stack.share(pdf, filename=f"doc-{i}.pdf") for i in range(4)]
    wait_until(lambda: running_percent(aof_stack, shares[0]) >= 15, timeout_s=60)
    aof_redis.stop()
    time.sleep(2.0)
    aof_redis.start()  # same port, same append-only file
    for shared in shares:
        assert_one_good_ending(aof_stack, shared, timeout_s=120)


def test_a_share_while_redis_is_down_longer_than_a_clients_retries_still_gets_its_job(
    aof_stack: Stack, aof_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    """The job is saved before Slack's ack: while Redis cannot take it, the delivery fails and
    Slack delivers the share again, instead of an acked share vanishing when the listener's
    Redis retries (about 33 s) run out."""
    pdf = write_sample_pdf(tmp_path / "minutes.pdf", pages=2).read_bytes()
    aof_redis.stop()
    try:
        shared = aof_stack.share(pdf, filename="minutes.pdf")
        time.sleep(38)
    finally:
        aof_redis.start()
    assert_one_good_ending(aof_stack, shared, timeout_s=120)


def test_results_service_down_for_30_seconds_while_workers_finish(
    fault_stack: Stack, tmp_path: Path
) -> None:
    pdf = write_long_pdf(tmp_path / "doc.pdf", 1500).read_bytes()
    shares = [fault_stack.share(pdf, filename=f"doc-{i}.pdf") for i in range(3)]
    wait_until(lambda: running_percent(fault_stack, shares[0]) >= 15, timeout_s=60)
    fault_stack.stop("web")
    time.sleep(30)
    fault_stack.start("web", "web")
    fault_stack.wait_ready()
    for shared in shares:
        assert_one_good_ending(fault_stack, shared, timeout_s=120)


def test_slack_failing_a_fifth_of_calls_and_redelivering_events(
    fault_stack: Stack, tmp_path: Path
) -> None:
    fault_stack.fail_slack_calls(share=0.2)
    pdf = write_long_pdf(tmp_path / "doc.pdf", 20).read_bytes()
    shares = [
        fault_stack.share(pdf, channel=f"CFLAKY{i % 2}", filename=f"doc-{i}.pdf", redeliver=1)
        for i in range(6)
    ]
    try:
        for shared in shares:
            assert_one_good_ending(fault_stack, shared, timeout_s=120)
    finally:
        fault_stack.heal_slack_calls()
    calls = fault_stack.http.get(f"{fault_stack.sandbox_url}/control/calls").json()
    assert calls["ratelimited"] > 0  # the faults really happened


def test_a_queued_job_whose_message_is_gone_still_runs_once(
    fault_stack: Stack, tmp_path: Path
) -> None:
    """The worker is down when the PDF is shared, and the job's message then vanishes from the
    broker's queue, as when a worker takes it and dies before starting it (Redis would give it
    back only after the visibility timeout, an hour) or Redis loses it. The sweeper sends the
    job again once it has waited DOCJOBS_REQUEUE_AFTER_S, and the thread ends once, right."""
    fault_stack.stop("worker")
    shared = fault_stack.share(write_sample_pdf(tmp_path / "q3.pdf").read_bytes())
    client = connect(fault_stack.redis_url)
    try:
        store = JobStore(client)
        job_id = wait_until(lambda: next(iter(store.recent_ids(channel=shared["channel"])), None))
        wait_until(lambda: store.get(job_id).enqueued_at, timeout_s=5)  # type: ignore[union-attr]
        assert client.llen(CELERY_QUEUE) >= 1
        client.delete(CELERY_QUEUE)
    finally:
        client.close()
    fault_stack.start("worker", "worker")
    assert_one_good_ending(fault_stack, shared, timeout_s=60)


def test_a_worker_whose_results_the_service_refuses_still_ends_the_job_once(
    fault_stack: Stack, tmp_path: Path
) -> None:
    """A worker signing with another secret than the web service's gets 401 for its outcome:
    the job used to stay running, and the sweeper ran it again and again for ever. The worker
    records the outcome itself, and says in its log what to mend."""
    fault_stack.stop("worker")
    fault_stack.start("worker", "worker", extra_env={"DOCJOBS_RESULTS_SECRET": "not-web-secret"})
    fault_stack.wait_pool(2)
    shared = fault_stack.share(write_sample_pdf(tmp_path / "q3.pdf").read_bytes())
    assert_one_good_ending(fault_stack, shared, timeout_s=60)
    time.sleep(5)  # the sweeper (every second, orphans after 3 s) would have run it again
    log = fault_stack.log("worker")
    assert log.count("results service refused the outcome: HTTP 401") == 1
    assert "DOCJOBS_RESULTS_SECRET differs" in log
    assert_one_good_ending(fault_stack, shared, timeout_s=5)


def test_the_reporter_waits_out_a_read_only_redis_and_carries_on(tmp_path: Path) -> None:
    """After a failover the reporter may first reach a replica that refuses writes: it used to
    exit on that (only a lost connection was waited out), taking the sweeper with it."""
    with EmbeddedRedis(tmp_path / "redis") as server:
        admin = redis.Redis.from_url(server.url, decode_responses=True)
        admin.replicaof("127.0.0.1", str(free_port()))  # a replica of no one: read-only
        env = child_env(
            REDIS_URL=server.url,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_API_URL="http://127.0.0.1:9/api/",
            DOCJOBS_DATA_DIR=str(tmp_path / "data"),
        )
        log_path = tmp_path / "reporter.log"
        with log_path.open("wb") as log:
            reporter = subprocess.Popen(
                [sys.executable, "-m", "docjobs.cli", "reporter"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(lambda: "ReadOnlyError" in log_path.read_text(), timeout_s=20)
            admin.replicaof("NO", "ONE")  # promoted
            wait_until(lambda: admin.exists(STREAM_KEY) and admin.xinfo_groups(STREAM_KEY))
            assert reporter.poll() is None, log_path.read_text()
        finally:
            reporter.terminate()
            reporter.wait(timeout=20)
            admin.close()


def test_jobs_answers_in_time_while_redis_stalls(
    aof_stack: Stack, aof_redis: EmbeddedRedis
) -> None:
    """Slack shows its own error for a command not answered within 3 s: with Redis stalled
    the person gets a plain word from the bot instead."""
    assert aof_redis.process is not None
    os.kill(aof_redis.process.pid, signal.SIGSTOP)
    try:
        body = {"channel": "C0STALL", "user": "U0ALICE", "command": "/jobs", "text": "status"}
        reply = aof_stack.http.post(f"{aof_stack.sandbox_url}/control/command", json=body)
    finally:
        os.kill(aof_redis.process.pid, signal.SIGCONT)
    outcome = reply.json()
    assert outcome["status"] == 200 and not outcome["timed_out"], outcome
    [shown] = aof_stack.ephemerals(user="U0ALICE", channel="C0STALL")
    assert shown["text"].startswith("The job store did not answer in time"), shown
