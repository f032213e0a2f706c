"""Progress from inside a running job: throttled writes to the job record (each one an
event for the reporter), and the cancel check between pages."""

from __future__ import annotations

import time
from collections.abc import Callable

from docjobs.jobs.model import State
from docjobs.jobs.store import JobStore


class JobProgress:
    def __init__(
        self,
        store: JobStore,
        job_id: str,
        attempt: int,
        *,
        interval_s: float,
        still_ours: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.still_ours = still_ours  # the run's lease: False once another run took the job
        self.job_id = job_id
        self.attempt = attempt
        self.interval_s = interval_s
        self.cancelled = False
        self._last_step = ""
        self._last_write = 0.0
        self._last_check = 0.0

    def __call__(self, step: str, percent: int, detail: str) -> None:
        now = time.monotonic()
        if step == self._last_step and now - self._last_write < max(self.interval_s, 0.5):
            return
        self._last_step, self._last_write = step, now
        moved = self.store.transition(
            self.job_id,
            State.RUNNING,
            attempt=self.attempt,
            fields={"step": step, "percent": percent, "detail": detail},
        )
        if not moved:
            self.cancelled = True

    def should_cancel(self) -> bool:
        if self.still_ours is not None and not self.still_ours():
            self.cancelled = True
        if self.cancelled:
            return True
        now = time.monotonic()
        if now - self._last_check < self.interval_s:
            return False
        self._last_check = now
        job = self.store.get(self.job_id)
        self.cancelled = (
            job is None
            or job.attempt != self.attempt
            or job.state not in (State.RUNNING, State.RETRYING)
        )
        return self.cancelled
