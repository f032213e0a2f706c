from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docjobs.embedded_redis import EmbeddedRedis
from tests.support.stack import Stack, running_stack

# Recovery timings shortened so a test sees a dead worker or reporter replaced in seconds;
# the mechanisms are the production ones (leases, sweeps, stream claims).
FAST_RECOVERY = {
    "DOCJOBS_LEASE_TTL_S": "3",
    "DOCJOBS_ORPHAN_AFTER_S": "3",
    "DOCJOBS_SWEEP_INTERVAL_S": "1",
    "DOCJOBS_REQUEUE_AFTER_S": "3",
    "DOCJOBS_REPORTER_CLAIM_AFTER_S": "3",
    "DOCJOBS_SLACK_TIMEOUT_S": "2",
    # One long job per PDF, so a fault lands mid-job; split jobs have their own kill test
    # (tests/e2e/test_split_jobs.py). pypdf reads the generated PDFs ~3x slower than the
    # default engine: a 1,500-page job lasts long enough for the fault to land.
    "DOCJOBS_SPLIT_MIN_PAGES": "0",
    "DOCJOBS_EXTRACT_ENGINE": "pypdf",
}


@pytest.fixture
def fault_stack(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[Stack]:
    """A system of its own per test: these tests kill parts of it."""
    with running_stack(redis_server.url, tmp_path / "stack", extra_env=FAST_RECOVERY) as stack:
        yield stack


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis with AOF (fsync always) on its own port, which a test may stop and restart."""
    server = EmbeddedRedis(tmp_path / "aof-redis", appendonly=True).start()
    yield server
    server.stop()
