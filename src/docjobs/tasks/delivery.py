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
        # 4xx will not improve by asking again (bad signature, unknown job): say so loudly.
        raise RuntimeError(f"results service refused the outcome: {response.status_code}")
