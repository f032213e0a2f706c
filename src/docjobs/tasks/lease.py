"""A short, renewed lease per job, so two workers never run the same job at once (Redis can
redeliver a message that is still running) while a killed worker's lease lapses in seconds."""

from __future__ import annotations

import contextlib
import threading
import uuid

import redis

from docjobs.jobs.store import lease_key

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
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
                self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms)
            except redis.RedisError:
                continue  # Redis restarting: keep trying; the lease may lapse, which is safe

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with contextlib.suppress(redis.RedisError):  # it expires by itself
            self.client.eval(_RELEASE, 1, self.key, self.token)

    def ttl_s(self) -> float:
        return max(self.client.pttl(self.key), 0) / 1000
