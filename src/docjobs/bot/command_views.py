"""What `/jobs` answers: a job in detail, a compact list, the stats."""

from __future__ import annotations

import time
from dataclasses import dataclass

from docjobs.bot.views import STEP_WORDS
from docjobs.jobs.model import Job, State


@dataclass(frozen=True)
class Stats:
    queue_depth: int
    running: int
    queued: int
    workers: int
    succeeded_last_hour: int
    failed_last_hour: int
    dead_letters: int
    median_s_per_page: float | None


def thread_link(job: Job) -> str:
    ts = job.thread_ts.replace(".", "")
    return f"https://slack.com/archives/{job.channel}/p{ts}"


def when(epoch: float) -> str:
    """A time shown in each reader's own timezone by Slack, with a UTC fallback."""
    if not epoch:
        return "—"
    fallback = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
    return f"<!date^{int(epoch)}^{{date_short_pretty}} {{time_secs}}|{fallback}>"


def state_phrase(job: Job) -> str:
    if job.state is State.RUNNING:
        step = STEP_WORDS.get(job.step, job.step or "starting")
        detail = f" {job.detail}" if job.detail else ""
        return f"running — {step}{detail} ({job.percent}%)"
    if job.state is State.RETRYING:
        return f"retrying — {job.reason} ({job.detail})"
    if job.state is State.CANCELLED and job.cancelled_by:
        return f"cancelled by <@{job.cancelled_by}>"
    return job.state.value


def build_job_detail(job: Job) -> str:
    took = f"{job.seconds:.1f} s" if job.seconds else "—"
    lines = [
        f"*Job `{job.id}`* — {job.file_name}",
        f"*State:* {state_phrase(job)}",
        f"*Shared by* <@{job.user}> in <#{job.channel}> · attempt {job.attempt}"
        f" · {job.retries} automatic retr{'y' if job.retries == 1 else 'ies'}",
        f"*Queued* {when(job.created_at)} · *started* {when(job.started_at)}"
        f" · *finished* {when(job.finished_at)} · *took* {took}",
    ]
    if job.state is State.SUCCEEDED:
        lines.append(f"*Result:* {job.pages} pages, {job.words:,} words, {job.chunks} chunks")
    if job.state is State.FAILED and job.reason:
        lines.append(f"*Why it failed:* {job.reason} {job.hint}".rstrip())
    lines.append(f"<{thread_link(job)}|Open the thread>")
    return "\n".join(lines)


def build_job_table(jobs: list[Job], *, title: str, page: int, pages: int, more_hint: str) -> str:
    if not jobs:
        return f"*{title}*: no jobs yet."
    rows = [f"{'ID':<6}  {'STATE':<9}  {'%':>3}  {'AGE':>5}  FILE"]
    now = time.time()
    for job in jobs:
        name = job.file_name if len(job.file_name) <= 32 else job.file_name[:31] + "…"
        rows.append(
            f"{job.id:<6}  {job.state.value:<9}  {job.percent:>3}  "
            f"{_age(now - job.created_at):>5}  {name}"
        )
    footer = f"Page {page} of {pages}."
    if page < pages:
        footer += f" Next: `{more_hint} {page + 1}`"
    return f"*{title}*\n```\n" + "\n".join(rows) + "\n```\n" + footer


def build_stats(stats: Stats) -> str:
    per_page = (
        f"{stats.median_s_per_page:.2f} s"
        if stats.median_s_per_page is not None
        else "no finished jobs in the last hour"
    )
    return "\n".join(
        [
            "*docjobs right now*",
            f"• Queue depth: {stats.queue_depth} waiting for a worker ({stats.queued} jobs queued)",
            f"• Running: {stats.running}",
            f"• Workers online: {stats.workers}",
            f"• Last hour: {stats.succeeded_last_hour} done, {stats.failed_last_hour} failed",
            f"• Dead letters (gave up after retries): {stats.dead_letters}",
            f"• Median time per page: {per_page}",
        ]
    )


def _age(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"
