"""The soak: many jobs with faults 1–5 mixed in — pool processes SIGKILLed, Redis restarted,
the reporter killed mid-burst, the results service down, a fifth of Slack's Web API calls
failing and events redelivered. `make soak` runs 300 jobs; `make test` a short version.

It ends with one summary line, and fails if any job is lost, any thread has two outcome
replies, or any thread's last word disagrees with its job's final state."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from docjobs.embedded_redis import EmbeddedRedis
from docjobs.jobs.connection import connect
from docjobs.jobs.model import State
from docjobs.jobs.store import JobStore
from tests.faults.conftest import FAST_RECOVERY
from tests.support.pdfs import write_long_pdf
from tests.support.stack import OUTCOME_PREFIXES, Stack, bot_replies, running_stack

OUTCOME_STATE = {
    ":white_check_mark: Done": State.SUCCEEDED,
    ":x: I could not": State.FAILED,
    ":no_entry_sign: Job": State.CANCELLED,
}


@pytest.fixture
def soak_stack(aof_redis: EmbeddedRedis, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(aof_redis.url, tmp_path / "stack", extra_env=FAST_RECOVERY) as stack:
        yield stack


@pytest.mark.timeout(2400)
def test_soak(
    request: pytest.FixtureRequest,
    soak_stack: Stack,
    aof_redis: EmbeddedRedis,
    corpus_dir: Path,
    tmp_path: Path,
) -> None:
    full = bool(request.config.getoption("--soak"))
    total = 300 if full else 24
    web_down_s = 30 if full else 5
    stack, rng = soak_stack, random.Random(20261124)
    files = [write_long_pdf(tmp_path / f"doc{n}.pdf", n).read_bytes() for n in (1, 5, 40)]
    locked = (corpus_dir / "libreoffice-writer-password.pdf").read_bytes()
    stack.fail_slack_calls(share=0.2, seed=11)

    started = time.monotonic()
    shares: list[dict] = []

    def share_some(count: int) -> None:
        for _ in range(count):
            n = len(shares)
            content = locked if n % 11 == 5 else rng.choice(files)
            shares.append(
                stack.share(
                    content,
                    channel=f"CSOAK{n % 10}",
                    filename=f"soak-{n}.pdf",
                    redeliver=rng.choice([0, 0, 1]),
                )
            )
            time.sleep(rng.uniform(0.0, 0.15))

    # Celery's worker can exit while it reconnects after the Redis restart (kombu's
    # restore_unacked on a released connection: AttributeError on conninfo.hostname). Deployments
    # run it under a restart policy; so does this test, and it says how often that happened.
    restarts: list[str] = []
    supervising = threading.Event()

    def supervise() -> None:
        while not supervising.wait(0.2):
            restarts.extend(stack.restart_dead())

    threading.Thread(target=supervise, daemon=True).start()

    third = total // 3
    share_some(third)
    _kill_a_pool_process(stack)
    stack.stop("reporter", kill=True)  # fault 3, mid-burst
    share_some(third // 2)
    stack.start("reporter", "reporter")
    share_some(third - third // 2)
    aof_redis.stop()  # fault 2
    time.sleep(1.0)
    aof_redis.start()
    share_some(total - 2 * third)
    _kill_a_pool_process(stack)  # fault 1
    stack.stop("web")  # fault 4: results (and Slack's endpoint) down while jobs finish
    time.sleep(web_down_s)
    stack.start("web", "web")
    restarts.extend(stack.restart_dead())
    stack.wait_ready()

    deadline = time.monotonic() + (1800 if full else 240)
    threads: dict[str, dict] = {}
    for shared in shares:
        remaining = max(1.0, deadline - time.monotonic())
        with contextlib.suppress(AssertionError):
            threads[shared["ts"]] = stack.wait_for_outcome(
                shared["channel"], shared["ts"], timeout_s=remaining
            )
    time.sleep(2.0)  # let any duplicate land before counting
    supervising.set()
    stack.heal_slack_calls()

    client = connect(stack.redis_url)
    store = JobStore(client)
    jobs = {job.message_ts: job for job in store.get_many(store.all_ids())}
    client.close()
    states: Counter[str] = Counter()
    lost = duplicates = mismatched = retries = 0
    for shared in shares:
        thread = stack.thread(shared["channel"], shared["ts"])
        outcomes = [
            m["text"] for m in bot_replies(thread) if m["text"].startswith(OUTCOME_PREFIXES)
        ]
        job = jobs.get(shared["ts"])
        if job is None or not job.is_final or not outcomes:
            lost += 1
            state = "no job" if job is None else f"job {job.id} {job.state.value} #{job.attempt}"
            print(f"\nlost: share {shared['ts']} in {shared['channel']}: {state}, {outcomes}")
            continue
        states[job.state.value] += 1
        retries += job.retries
        duplicates += len(outcomes) > job.attempt
        said = next(
            state for prefix, state in OUTCOME_STATE.items() if outcomes[-1].startswith(prefix)
        )
        mismatched += said is not job.state
    calls = stack.http.get(f"{stack.sandbox_url}/control/calls").json()
    print(
        f"\njobs={len(shares)} succeeded={states['succeeded']} failed={states['failed']} "
        f"cancelled={states['cancelled']} lost={lost} duplicate_replies={duplicates} "
        f"mismatched={mismatched} slack_429_seen={calls['ratelimited']} retries={retries} "
        f"seconds={time.monotonic() - started:.0f} restarted={','.join(restarts) or 'none'}"
    )
    assert (lost, duplicates, mismatched) == (0, 0, 0)
    assert set(restarts) <= {"worker"}, restarts  # the web, reporter and sandbox never died
    assert states["failed"] == len([n for n in range(total) if n % 11 == 5])


def _kill_a_pool_process(stack: Stack) -> None:
    children = stack.worker_children()
    if children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(random.choice(children), signal.SIGKILL)
