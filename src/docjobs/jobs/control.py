"""What people may do to a job — cancel it, retry it — as moves in the state machine."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from docjobs.jobs.model import Job, State, ended_field
from docjobs.jobs.store import JobStore


class Verdict(StrEnum):
    DONE = "done"
    UNKNOWN = "unknown"
    ALREADY_FINAL = "already_final"
    STILL_ACTIVE = "still_active"
    ALREADY_SUCCEEDED = "already_succeeded"
    RACED = "raced"


@dataclass(frozen=True)
class ControlResult:
    verdict: Verdict
    job: Job | None


def cancel_job(store: JobStore, job_id: str, *, by: str) -> ControlResult:
    """Queued jobs never run; a running one stops at its next page (the worker checks)."""
    job = store.get(job_id)
    if job is None:
        return ControlResult(Verdict.UNKNOWN, None)
    if job.is_final:
        return ControlResult(Verdict.ALREADY_FINAL, job)
    moved = store.transition(
        job_id,
        State.CANCELLED,
        attempt=job.attempt,
        fields={
            "cancelled_by": by,
            "finished_at": time.time(),
            "reason_code": "cancelled",
            "reason": "Cancelled by a person.",
            "step": "",
            "detail": "",
        },
    )
    return ControlResult(Verdict.DONE if moved else Verdict.RACED, store.get(job_id))


def retry_job(store: JobStore, job_id: str, *, by: str) -> ControlResult:
    """A failed or cancelled job (dead-lettered ones too) runs again as its next attempt.
    The caller sends the new attempt to the workers. The ended attempt's record is kept, so
    its outcome reply still goes out if the reporter had not posted it yet."""
    job = store.get(job_id)
    if job is None:
        return ControlResult(Verdict.UNKNOWN, None)
    if job.state is State.SUCCEEDED:
        return ControlResult(Verdict.ALREADY_SUCCEEDED, job)
    if not job.is_final:
        return ControlResult(Verdict.STILL_ACTIVE, job)
    moved = store.transition(
        job_id,
        State.QUEUED,
        attempt=job.attempt,
        fields={
            "attempt": job.attempt + 1,
            ended_field(job.attempt): job.snapshot(),
            "retried_by": by,
            "cancelled_by": "",
            "reason": "",
            "reason_code": "",
            "hint": "",
            "step": "",
            "percent": 0,
            "detail": "",
            "retries": 0,
            "started_at": 0,
            "finished_at": 0,
            "enqueued_at": 0,
            "warnings": [],
        },
    )
    if not moved:
        return ControlResult(Verdict.RACED, store.get(job_id))
    store.leave_dead_letter(job_id)
    return ControlResult(Verdict.DONE, store.get(job_id))
