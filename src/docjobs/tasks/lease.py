"""A short, renewed lease per job, so two workers never run the same job at once (Redis can
redeliver a message that is still running) while a killed worker's lease lapses in seconds."""

from __future__ import annotations

import contextlib
import threading
import uuid

import redis

from docjobs.jobs.errors import UnsupportedPdf
from docjobs.jobs.store import PREFIX, lease_key

# 1: renewed; 2: it had lapsed (Redis was out of reach for longer than the TTL) and no one
# took it, so it is taken again; 0: another run holds it now.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class JobLease:
    def __init__(self, client: redis.Redis, job_id: str, *, ttl_s: float = 20.0) -> None:
        self.client = client
        self.key = lease_key(job_id)
        self.ttl_ms = int(ttl_s * 1000)
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        if not self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return False
        self._thread = threading.Thread(target=self._renew, name="job-lease", daemon=True)
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                renewed = self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms)
            except redis.RedisError:
                continue  # Redis restarting: keep trying; the lease may lapse and be retaken
            if not renewed:
                # It lapsed and another run took it (the sweeper resent the job meanwhile):
                # that run goes on; this one stops at its next cancel check.
                self._lost.set()
                return

    def held(self) -> bool:
        """False once another run holds the lease: this run must stand down."""
        return not self._lost.is_set()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with contextlib.suppress(redis.RedisError):  # it expires by itself
            self.client.eval(_RELEASE, 1, self.key, self.token)

    def ttl_s(self) -> float:
        return max(self.client.pttl(self.key), 0) / 1000


# Runs of one task that may begin and never end (the pool process crashed, or was killed at
# the hard time limit) before its job is failed rather than run again for ever.
MAX_UNFINISHED_RUNS = 3
_RUNS_TTL_S = 86400


class UnfinishedRuns:
    """Counts the runs of one job attempt's task (or one part's) that began and never ended,
    since the last that did.

    Celery puts a message back when its process dies (`reject_on_worker_lost`), and the
    sweeper resends a job whose lease lapsed, so a PDF that kills the process every time
    would be read for ever; a Python error, a time-limit exception or a retry all end a run.
    """

    def __init__(self, client: redis.Redis, name: str) -> None:
        self.client = client
        self.key = f"{PREFIX}runs:{name}"

    def begin(self) -> int:
        """Count this run as begun; returns how many runs before it never ended."""
        pipe = self.client.pipeline()
        pipe.incr(self.key)
        pipe.expire(self.key, _RUNS_TTL_S)
        begun, _ = pipe.execute()
        return int(begun) - 1

    def end(self) -> None:
        """A run that ends (the lease keeps runs of one task from overlapping) clears the
        count: what matters is deaths in a row."""
        with contextlib.suppress(redis.RedisError):  # counted as unfinished: one of three
            self.client.delete(self.key)


def stopped_too_often() -> UnsupportedPdf:
    return UnsupportedPdf(
        f"Reading it stopped a worker process {MAX_UNFINISHED_RUNS} times "
        "(it crashed, or ran past the time limit)."
    )


def engine_after(deaths: int, engine: str) -> str:
    """The engine for a run after `deaths` runs in a row died: pdfium aborts its process on
    some PDFs (native recursion, its own out-of-memory) that pypdf reads or refuses with a
    Python error, so `auto` reads with pypdf once a run has died."""
    return "pypdf" if deaths and engine == "auto" else engine
