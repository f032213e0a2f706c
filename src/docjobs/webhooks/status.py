"""GET /jobs/{id}, /healthz and /metrics."""

from __future__ import annotations

import hmac
import logging
from dataclasses import asdict

import redis
from fastapi import APIRouter, Header, HTTPException, Request, Response

from docjobs.jobs.ids import normalize_job_id
from docjobs.jobs.model import State
from docjobs.jobs.store import CELERY_QUEUE, DEAD_LETTER_KEY
from docjobs.webhooks.deps import SettingsDep, StoreDep

logger = logging.getLogger(__name__)
router = APIRouter()

PUBLIC_FIELDS = (
    "id",
    "state",
    "step",
    "percent",
    "detail",
    "attempt",
    "file_name",
    "file_id",
    "channel",
    "thread_ts",
    "user",
    "created_at",
    "started_at",
    "finished_at",
    "reason_code",
    "reason",
    "hint",
    "pages",
    "words",
    "chunks",
    "warnings",
    "seconds",
    "retries",
    "cancelled_by",
)


@router.get("/jobs/{job_id}")
def job_status(
    job_id: str, store: StoreDep, settings: SettingsDep, authorization: str = Header("")
) -> dict:
    """For those who hold the results secret (workers, external processors): the service
    faces the internet for Slack, and a job names its file, channel and sharer."""
    expected = f"Bearer {settings.results_secret}".encode()
    if not hmac.compare_digest(authorization.encode("latin-1"), expected):  # as Starlette read it
        raise HTTPException(
            status_code=401,
            detail="send Authorization: Bearer <DOCJOBS_RESULTS_SECRET>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    normal = normalize_job_id(job_id)
    job = store.get(normal) if normal else None
    if job is None:
        raise HTTPException(status_code=404, detail=f"no job {job_id}")
    data = asdict(job)
    return {key: data[key] for key in PUBLIC_FIELDS}


@router.get("/healthz")
def healthz(request: Request, response: Response) -> dict:
    """Within about a second whatever Redis does; says only whether it answered, as the
    service faces the internet (the reason, with Redis's address, goes to the log)."""
    try:
        request.app.state.health_redis.ping()
    except redis.RedisError as exc:
        logger.warning("health check: Redis did not answer: %s: %s", type(exc).__name__, exc)
        response.status_code = 503
        return {"ok": False, "redis": "not answering"}
    return {"ok": True}


@router.get("/metrics")
def metrics(store: StoreDep) -> Response:
    """Prometheus text: jobs by state among the active ones, dead letters, queue depth."""
    counts = store.active_counts()
    lines = ["# TYPE docjobs_active_jobs gauge"]
    lines += [
        f'docjobs_active_jobs{{state="{s.value}"}} {counts[s]}'
        for s in (State.QUEUED, State.RUNNING, State.RETRYING)
    ]
    lines += [
        "# TYPE docjobs_dead_letter_jobs gauge",
        f"docjobs_dead_letter_jobs {store.client.llen(DEAD_LETTER_KEY)}",
        "# TYPE docjobs_queue_depth gauge",
        f"docjobs_queue_depth {store.client.llen(CELERY_QUEUE)}",
    ]
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
