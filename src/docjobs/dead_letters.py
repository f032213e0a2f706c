"""The dead-letter list from the command line: what gave up, why, and running it again."""

from __future__ import annotations

from docjobs.bot.queue import JobQueue
from docjobs.jobs.connection import connect
from docjobs.jobs.control import Verdict, retry_job
from docjobs.jobs.ids import normalize_job_id
from docjobs.jobs.store import JobStore
from docjobs.settings import Settings


def list_dead_letters(settings: Settings) -> list[str]:
    assert settings.redis_url
    client = connect(settings.redis_url)
    try:
        store = JobStore(client)
        jobs = store.get_many(store.dead_letter_ids())
    finally:
        client.close()
    if not jobs:
        return ["no dead letters"]
    return [f"{job.id}  {job.file_name}  <#{job.channel}>  {job.reason}" for job in jobs]


def retry_dead_letters(settings: Settings, ids: list[str]) -> tuple[list[str], list[str]]:
    assert settings.redis_url
    client = connect(settings.redis_url)
    store = JobStore(client)
    queue = JobQueue(settings, store)
    retried: list[str] = []
    refused: list[str] = []
    try:
        wanted = [normalize_job_id(i) or i for i in ids] or store.dead_letter_ids()
        for job_id in wanted:
            result = retry_job(store, job_id, by="docjobs-cli")
            if result.verdict is Verdict.DONE and result.job is not None:
                queue.enqueue(job_id, result.job.attempt)
                retried.append(f"{job_id}: retrying as attempt {result.job.attempt}")
            else:
                refused.append(f"{job_id}: not retried ({result.verdict.value})")
    finally:
        queue.close()
        client.close()
    return retried, refused
