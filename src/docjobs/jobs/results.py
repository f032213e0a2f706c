"""A job's outcome as the worker (or an external processor) reports it, recorded once."""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from docjobs.jobs.model import State
from docjobs.jobs.store import JobStore

logger = logging.getLogger(__name__)


class JobResult(BaseModel):
    job_id: str
    attempt: int = Field(ge=1)
    status: Literal["succeeded", "failed"]
    pages: int = 0
    words: int = 0
    chunks: int = 0
    warnings: list[str] = Field(default_factory=list)
    reason_code: str = ""
    reason: str = ""
    hint: str = ""
    seconds: float = 0.0
    retries: int = 0
    dead_lettered: bool = False


class Recorded(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    STALE = "stale"
    UNKNOWN_JOB = "unknown_job"


def record_result(store: JobStore, result: JobResult) -> Recorded:
    """Apply an outcome exactly once: a repeat of the same outcome is a harmless duplicate;
    an outcome for an older attempt, or for a job already finished otherwise, is stale."""
    to = State(result.status)
    fields: dict[str, object] = {
        "finished_at": time.time(),
        "pages": result.pages,
        "words": result.words,
        "chunks": result.chunks,
        "warnings": result.warnings,
        "reason_code": result.reason_code,
        "reason": result.reason,
        "hint": result.hint,
        "seconds": round(result.seconds, 3),
        "retries": result.retries,
        "percent": 100 if to is State.SUCCEEDED else 0,
        "step": "",
        "detail": "",
    }
    if store.transition(result.job_id, to, attempt=result.attempt, fields=fields):
        if result.dead_lettered:
            store.dead_letter(result.job_id)
        logger.info("job %s attempt %d %s", result.job_id, result.attempt, result.status)
        return Recorded.RECORDED
    job = store.get(result.job_id)
    if job is None:
        return Recorded.UNKNOWN_JOB
    if job.attempt == result.attempt and job.state is to:
        return Recorded.DUPLICATE
    logger.info(
        "job %s: ignoring %s result for attempt %d (job is %s on attempt %d)",
        result.job_id,
        result.status,
        result.attempt,
        job.state,
        job.attempt,
    )
    return Recorded.STALE
