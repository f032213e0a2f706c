"""Numbers for `/jobs stats`, read from Redis (job store, broker queue, worker heartbeats).

Every number is a count Redis keeps as jobs move (per-state sets, finished sorted sets, the
per-page times written when a job succeeds), all read in one round trip: the answer costs
the same with ten jobs or ten thousand, as it must inside Slack's ack."""

from __future__ import annotations

import statistics
import time

from docjobs.bot.command_views import Stats
from docjobs.jobs.model import State
from docjobs.jobs.store import (
    CELERY_QUEUE,
    DEAD_LETTER_KEY,
    PER_PAGE_KEY,
    JobStore,
    active_state_key,
    finished_key,
)
from docjobs.jobs.workers import count_live_workers, read_live_workers

# The median time per page is taken over the newest this many jobs of the last hour.
PER_PAGE_SAMPLE = 500


def collect_stats(store: JobStore) -> Stats:
    hour_ago = time.time() - 3600
    # MULTI/EXEC: one round trip, and the counts are of one moment.
    pipe = store.client.pipeline(transaction=True)
    for state in (State.QUEUED, State.RETRYING, State.RUNNING):
        pipe.scard(active_state_key(state))
    pipe.llen(CELERY_QUEUE)
    pipe.zcount(finished_key(State.SUCCEEDED), hour_ago, "+inf")
    pipe.zcount(finished_key(State.FAILED), hour_ago, "+inf")
    pipe.llen(DEAD_LETTER_KEY)
    pipe.zrevrangebyscore(PER_PAGE_KEY, "+inf", hour_ago, start=0, num=PER_PAGE_SAMPLE)
    read_live_workers(pipe)
    queued, retrying, running, depth, done, failed, dead, timings, beats, now = pipe.execute()
    per_page = [p for p in map(_seconds_per_page, timings) if p is not None]
    return Stats(
        queue_depth=int(depth),
        running=int(running),
        queued=int(queued) + int(retrying),
        workers=count_live_workers(beats, now),
        succeeded_last_hour=int(done),
        failed_last_hour=int(failed),
        dead_letters=int(dead),
        median_s_per_page=statistics.median(per_page) if per_page else None,
    )


def _seconds_per_page(timing: str) -> float | None:
    """From "ID SECONDS PAGES" (store.PER_PAGE_KEY), parsed as the job record's fields are."""
    _job_id, seconds, pages = timing.split(" ")
    s, n = float(seconds or 0), int(float(pages or 0))
    return s / n if s and n else None
