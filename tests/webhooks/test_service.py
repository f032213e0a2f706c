"""The web service over real HTTP (uvicorn): results recorded once, status, health, metrics."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from docjobs.embedded_redis import EmbeddedRedis
from docjobs.jobs.connection import connect
from docjobs.jobs.model import Job, State
from docjobs.jobs.results import JobResult
from docjobs.jobs.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from docjobs.jobs.store import JobStore
from docjobs.settings import Settings
from docjobs.webhooks.app import create_app
from tests.support.servers import serve

SECRET = "test-results-secret"


@pytest.fixture
def web(redis_url: str, tmp_path) -> Iterator[str]:
    settings = Settings(redis_url=redis_url, results_secret=SECRET, data_dir=tmp_path)
    with serve(create_app(settings)) as url:
        yield url


def running_job(store: JobStore) -> str:
    _, job_id = store.create(
        Job(id="", channel="C1", thread_ts="1.0", file_id="F1", file_name="q3.pdf", user="U1")
    )
    store.transition(job_id, State.RUNNING, attempt=1)
    return job_id


def post_result(url: str, result: JobResult) -> httpx.Response:
    body = result.model_dump_json().encode()
    return httpx.post(f"{url}/results", content=body, headers=signed_headers(SECRET, body))


def test_an_outcome_is_recorded_once_however_often_it_is_posted(web: str, store: JobStore) -> None:
    job_id = running_job(store)
    result = JobResult(job_id=job_id, attempt=1, status="succeeded", pages=3, words=10, chunks=1)
    answers = [post_result(web, result).json()["result"] for _ in range(3)]
    assert answers == ["recorded", "duplicate", "duplicate"]
    late_failure = JobResult(job_id=job_id, attempt=1, status="failed", reason="late")
    assert post_result(web, late_failure).json()["result"] == "stale"
    job = store.get(job_id)
    assert job is not None and job.state is State.SUCCEEDED and job.pages == 3


def test_outcome_for_an_unknown_job_or_malformed_body(web: str) -> None:
    unknown = JobResult(job_id="ZZZZZZ", attempt=1, status="succeeded")
    assert post_result(web, unknown).status_code == 404
    body = b'{"job_id": "ZZZZZZ"}'
    reply = httpx.post(f"{web}/results", content=body, headers=signed_headers(SECRET, body))
    assert reply.status_code == 422


@pytest.mark.parametrize(
    "forged",
    [
        {SIGNATURE_HEADER: "v1=\u00e9"},  # a non-ASCII signature, as a raw client can send it
        {TIMESTAMP_HEADER: "9" * 400},  # a timestamp too large for the age check
    ],
)
def test_a_malformed_signature_or_timestamp_is_refused_as_unsigned(
    web: str, store: JobStore, forged: dict[str, str]
) -> None:
    job_id = running_job(store)
    body = JobResult(job_id=job_id, attempt=1, status="succeeded").model_dump_json().encode()
    headers = signed_headers(SECRET, body) | forged
    # httpx sends str headers as ASCII; latin-1 bytes go out as they are.
    raw = {name: value.encode("latin-1") for name, value in headers.items()}
    reply = httpx.post(f"{web}/results", content=body, headers=raw)
    assert reply.status_code == 401 and reply.json() == {"detail": "invalid signature"}
    assert store.get(job_id).state is State.RUNNING  # type: ignore[union-attr]


BEARER = {"Authorization": f"Bearer {SECRET}"}


def test_job_status_takes_ids_as_people_type_them(web: str, store: JobStore) -> None:
    job_id = running_job(store)
    reply = httpx.get(f"{web}/jobs/{job_id.lower()}", headers=BEARER)
    assert reply.status_code == 200
    assert reply.json()["state"] == "running" and reply.json()["file_name"] == "q3.pdf"
    assert httpx.get(f"{web}/jobs/NOPE", headers=BEARER).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-the-secret"}, {"Authorization": SECRET}],
    ids=["none", "wrong secret", "no scheme"],
)
def test_job_status_tells_nothing_without_the_results_secret(
    web: str, store: JobStore, headers: dict[str, str]
) -> None:
    """The service faces the internet for Slack: a guessed id must not name a file."""
    job_id = running_job(store)
    for asked in (job_id, "NOPE"):
        reply = httpx.get(f"{web}/jobs/{asked}", headers=headers)
        assert reply.status_code == 401
        assert "q3.pdf" not in reply.text and "Bearer" in reply.json()["detail"]


def test_health_and_metrics(web: str, store: JobStore) -> None:
    running_job(store)
    assert httpx.get(f"{web}/healthz").json() == {"ok": True}
    metrics = httpx.get(f"{web}/metrics").text
    assert 'docjobs_active_jobs{state="running"} 1' in metrics
    assert "docjobs_dead_letter_jobs 0" in metrics


def test_a_result_waiting_on_a_stalled_redis_holds_up_no_other_request(tmp_path: Path) -> None:
    """Slack's events share this service with the workers' results: one result waiting on
    Redis must not stop the others being answered (Slack allows 3 s)."""
    with EmbeddedRedis(tmp_path / "redis") as server:
        settings = Settings(redis_url=server.url, results_secret=SECRET, data_dir=tmp_path)
        client = connect(server.url)
        job_id = running_job(JobStore(client))
        client.close()
        with serve(create_app(settings)) as url:
            assert server.process is not None
            os.kill(server.process.pid, signal.SIGSTOP)  # Redis stalls, as in a long fork
            resumed = threading.Event()

            def resume() -> None:
                assert server.process is not None
                os.kill(server.process.pid, signal.SIGCONT)
                resumed.set()

            timer = threading.Timer(5.0, resume)
            timer.start()
            try:
                result = JobResult(job_id=job_id, attempt=1, status="succeeded", pages=1)
                posting = threading.Thread(target=post_result, args=(url, result))
                posting.start()
                time.sleep(0.5)  # the result is in, waiting on Redis
                assert posting.is_alive()
                answered = httpx.get(f"{url}/openapi.json", timeout=10).status_code == 200
                answered_while_stalled = answered and not resumed.is_set()
            finally:
                timer.cancel()
                if not resumed.is_set():
                    resume()
            posting.join(timeout=30)
    assert answered_while_stalled
