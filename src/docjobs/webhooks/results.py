"""POST /results: signed outcomes from workers (or external processors), recorded once."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from docjobs.jobs.results import JobResult, Recorded, record_result
from docjobs.jobs.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from docjobs.webhooks.deps import SettingsDep, StoreDep

logger = logging.getLogger(__name__)
router = APIRouter()


@router.post("/results")
async def receive_result(request: Request, store: StoreDep, settings: SettingsDep) -> dict:
    body = await request.body()
    if not verify(
        settings.results_secret,
        body,
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        max_age_s=settings.results_max_age_s,
    ):
        logger.warning("refused a result with a bad or stale signature")
        raise HTTPException(status_code=401, detail="invalid signature")
    try:
        result = JobResult.model_validate_json(body)
    except ValidationError as exc:
        raise HTTPException(status_code=422, detail=exc.errors(include_url=False)) from exc
    # Redis calls block (for as long as Redis stalls): in the thread pool, not on the event
    # loop that answers Slack's events too.
    recorded = await run_in_threadpool(record_result, store, result)
    if recorded is Recorded.UNKNOWN_JOB:
        raise HTTPException(status_code=404, detail=f"no job {result.job_id}")
    return {"job_id": result.job_id, "result": recorded.value}
