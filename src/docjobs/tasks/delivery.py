"""Posting a signed outcome to the results service."""

from __future__ import annotations

import httpx

from docjobs.jobs.errors import ResultNotDelivered
from docjobs.jobs.results import JobResult
from docjobs.jobs.signing import signed_headers


def post_result(client: httpx.Client, *, url: str, secret: str, result: JobResult) -> None:
    body = result.model_dump_json().encode()
    try:
        response = client.post(url, content=body, headers=signed_headers(secret, body))
    except httpx.HTTPError as exc:
        raise ResultNotDelivered(f"results service unreachable: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise ResultNotDelivered(f"results service answered {response.status_code}")
    if response.status_code >= 400:
        raise ResultRefused(response.status_code)


class ResultRefused(Exception):
    """The results service said no (4xx): asking again will not change its answer, so the
    worker records the outcome itself, and the operator must mend the configuration."""

    def __init__(self, status: int) -> None:
        super().__init__(f"results service refused the outcome: HTTP {status} ({_cause(status)})")
        self.status = status


def _cause(status: int) -> str:
    if status == 401:
        return (
            "the worker's DOCJOBS_RESULTS_SECRET differs from the web service's, or their "
            "clocks differ by more than DOCJOBS_RESULTS_MAX_AGE_S"
        )
    if status in (404, 405):
        return "DOCJOBS_RESULTS_URL is not the web service's /results, or the job is gone"
    return "the web service may run another version of docjobs"
