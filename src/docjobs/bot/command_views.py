"""What `/jobs` and the job buttons answer: a job in detail, a compact list, the stats, and
the plain-words outcome of a cancel or retry."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from docjobs.bot.views import STEP_WORDS, escape
from docjobs.jobs.control import Verdict
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
        detail = f" {escape(job.detail)}" if job.detail else ""
        return f"running — {step}{detail} ({job.percent}%)"
    if job.state is State.RETRYING:
        return f"retrying — {escape(job.reason)} ({escape(job.detail)})"
    if job.state is State.CANCELLED and job.cancelled_by:
        return f"cancelled by <@{job.cancelled_by}>"
    return job.state.value


def build_job_detail(job: Job) -> str:
    took = f"{job.seconds:.1f} s" if job.seconds else "—"
    lines = [
        f"*Job `{job.id}`* — {escape(job.file_name)}",
        f"*State:* {state_phrase(job)}",
        f"*Shared by* <@{job.user}> in <#{job.channel}> · attempt {job.attempt}"
        f" · {job.retries} automatic retr{'y' if job.retries == 1 else 'ies'}",
        f"*Queued* {when(job.created_at)} · *started* {when(job.started_at)}"
        f" · *finished* {when(job.finished_at)} · *took* {took}",
    ]
    if job.state is State.SUCCEEDED:
        lines.append(f"*Result:* {job.pages} pages, {job.words:,} words, {job.chunks} chunks")
    if job.state is State.FAILED and job.reason:
        lines.append(f"*Why it failed:* {escape(job.reason)} {escape(job.hint)}".rstrip())
    lines.append(f"<{thread_link(job)}|Open the thread>")
    return "\n".join(lines)


# What build_job_table shows besides the id: all a list needs to load of each job.
TABLE_FIELDS = ("state", "percent", "created_at", "file_name")


def build_job_table(jobs: list[Job], *, title: str, page: int, pages: int, more_hint: str) -> str:
    if not jobs:
        return f"*{title}*: no jobs yet."
    rows = [f"{'ID':<6}  {'STATE':<9}  {'%':>3}  {'AGE':>5}  FILE"]
    now = time.time()
    for job in jobs:
        name = job.file_name.replace("`", "'")
        name = escape(name if len(name) <= 32 else name[:31] + "…")
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
            f"• Queue depth: {stats.queue_depth} waiting for a worker"
            f" ({_count(stats.queued, 'job')} queued or waiting to retry)",
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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# --- the outcome of a cancel or a retry, said to the person who asked -------------------------

SORRY = "Sorry, something went wrong on my side; nothing was changed. Try again soon."


def refusal(job: Job, action: str) -> str:
    return (
        f"Sorry, only <@{job.user}> (who shared *{escape(job.file_name)}*) or a workspace admin "
        f"can {action} job `{job.id}`. Nothing was changed."
    )


def how_it_ended(job: Job) -> str:
    if job.state is State.CANCELLED:
        return f"was cancelled by <@{job.cancelled_by}>" if job.cancelled_by else "was cancelled"
    return job.state.value


def describe_cancel(verdict: Verdict, job: Job) -> str:
    """`job` is the record after the attempt, so a late click hears how the job really ended."""
    name = escape(job.file_name)
    if verdict is Verdict.DONE:
        return f"Cancelled job `{job.id}` (*{name}*). Its thread says so."
    if verdict in (Verdict.ALREADY_FINAL, Verdict.RACED) and job.is_final:
        return (
            f"Job `{job.id}` (*{name}*) has already finished: it {how_it_ended(job)}, "
            "so there is nothing to cancel."
        )
    if verdict is Verdict.RACED:
        return f"Job `{job.id}` changed just now; look at its thread and try again."
    return f"No job `{job.id}`."


def describe_retry(verdict: Verdict, job: Job) -> str:
    name = escape(job.file_name)
    if verdict is Verdict.DONE:
        return (
            f"Retrying job `{job.id}` (*{name}*) as attempt {job.attempt}; follow it in its thread."
        )
    if verdict is Verdict.ALREADY_SUCCEEDED:
        return f"Job `{job.id}` (*{name}*) already succeeded; there is nothing to retry."
    if verdict is Verdict.STILL_ACTIVE:
        return (
            f"Job `{job.id}` (*{name}*) is still {job.state.value}; retry it once it has finished."
        )
    if verdict is Verdict.RACED:
        return f"Job `{job.id}` changed just now; look at its thread and try again."
    return f"No job `{job.id}`."


def build_retired_progress(before: Job, *, by: str) -> tuple[str, list[dict[str, Any]]]:
    """The progress message of an attempt that was retried: no buttons any more, and a pointer
    to the new attempt's message below it (a click on a stale Retry would retry the new one)."""
    failed = before.state is State.FAILED
    ended = f"failed: {escape(before.reason)}" if failed else how_it_ended(before)
    text = (
        f":repeat: *{escape(before.file_name)}* — attempt {before.attempt} {ended} — "
        f"<@{by}> retried it as attempt {before.attempt + 1} (below) — job `{before.id}`"
    )
    context = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"Shared by <@{before.user}>"}],
    }
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}, context]
