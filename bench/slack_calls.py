"""Slack Web API calls per successful job, counted by the sandbox: first short jobs (small
corpus files, shared 3 s apart so Slack's budgets do not bind), then long ones (a generated
3,000-page PDF, which may take both worker processes), each job in its own channel.

Targets: ≤ 4 calls (post, ≤ 2 edits, final reply; reactions excepted) for a job the worker
finished within 5 s of the share; at most one edit per 3 s for longer ones; chat.update for all
of them inside Slack's Tier 3 budget (50 per minute) with no 429.
"""

from __future__ import annotations

import time
from itertools import cycle, islice

from bench import corpus, pdfs
from bench.call_log import TIER3_PER_MINUTE, JobCalls, busiest_minute, by_channel
from bench.options import Options
from bench.report import Result
from bench.system import new_channel, run_directory, running_system
from bench.threads import Share

TITLE = "Slack Web API calls per successful job"
SHORT_SPACING_S = 3.0
SHORT_JOB_S = 5.0
EDIT_INTERVAL_S = 3.0
# The sandbox stamps a call when it answers, the reporter paces when it sends: a few ms apart.
CLOCK_SLACK_S = 0.05
SMALL_CATEGORIES = ("text", "text_rtl", "text_cjk", "text_form")


def run(options: Options) -> Result:
    short_count = options.size(10, 30)
    long_count = options.size(1, 3)
    long_pages = 3000
    engine = options.resolved_engine()
    result = Result("calls", TITLE, options.command("calls"))
    result.size = {
        "short_jobs": short_count,
        "long_jobs": long_count,
        "long_pages": long_pages,
        "engine": engine,
    }
    small = [row.path for row in corpus.manifest() if row.category in SMALL_CATEGORIES]
    big = pdfs.text_pdf(long_pages)

    with (
        run_directory("calls", keep=options.keep) as data_dir,
        running_system(data_dir, worker_concurrency=2, engine=engine) as system,
    ):
        shares: list[Share] = []
        for path in islice(cycle(small), short_count):
            shares.append(system.share_file(path, channel=new_channel()))
            time.sleep(SHORT_SPACING_S)
        system.wait_for_outcomes(shares, timeout_s=120)
        for n in range(long_count):
            shares.append(system.share_file(big, channel=new_channel(), filename=f"long-{n}.pdf"))
        threads = system.wait_settled(system.wait_for_outcomes(shares, timeout_s=900), timeout_s=60)
        calls = system.calls()["calls"]
        jobs = {t.share.channel: system.job(t.job_id) for t in threads.values() if t.job_id}

    per_job = by_channel(calls)
    short: dict[str, JobCalls] = {}
    longer: dict[str, JobCalls] = {}
    for channel, job in jobs.items():
        took = float(job["finished_at"]) - float(job["created_at"])
        (short if took <= SHORT_JOB_S else longer)[channel] = per_job.get(channel, JobCalls())
    bad = [t.share.filename for t in threads.values() if t.problems()]
    if bad:
        result.note(f"threads that did not end right: {bad}")
    _report_short(result, short)
    _report_long(result, longer)
    _report_budget(result, calls, per_job)
    return result


def _report_short(result: Result, short: dict[str, JobCalls]) -> None:
    if not short:
        result.note("no job finished within 5 s of its share")
        return
    worst = max(short.values(), key=lambda j: j.counted)
    result.figure(f"calls per job done within 5 s, max ({len(short)} jobs)", worst.counted, "calls")
    result.note(
        f"the busiest short job: {worst.posts} posts, {worst.edits} edits, {worst.other} other "
        f"calls, {worst.reactions} reaction calls"
    )
    mean = sum(j.counted for j in short.values()) / len(short)
    result.figure("calls per job done within 5 s, mean", mean, "calls")
    result.figure(
        "reaction calls per job done within 5 s, max",
        max(j.reactions for j in short.values()),
        "calls",
    )
    over = [j for j in short.values() if j.counted > 4 or j.edits > 2 or j.posts > 2]
    result.verdict(
        "≤ 4 calls (post, ≤ 2 edits, final reply) for a job done within 5 s",
        not over,
        f"{len(over)} of {len(short)} jobs over; worst {worst.counted} "
        f"({worst.posts} posts, {worst.edits} edits, {worst.other} other)",
    )


def _report_long(result: Result, longer: dict[str, JobCalls]) -> None:
    if not longer:
        result.note("no job took longer than 5 s")
        return
    gaps = [gap for job in longer.values() for gap in job.edit_gaps()]
    # The last edit of a job is its final state, which the reporter forces out unpaced.
    paced = [gap for job in longer.values() for gap in job.edit_gaps()[:-1]]
    result.figure(
        f"edits per longer job, max ({len(longer)} jobs)",
        max(j.edits for j in longer.values()),
        "calls",
    )
    result.figure("shortest gap between two edits of one job", min(gaps, default=0), "s")
    result.figure("  leaving out the final edit", min(paced, default=0), "s")
    shortest = min(gaps, default=EDIT_INTERVAL_S)
    result.verdict(
        "longer jobs: at most one edit per 3 s",
        shortest >= EDIT_INTERVAL_S - CLOCK_SLACK_S,
        f"shortest gap {shortest:.2f} s over {len(gaps)} gaps "
        f"({min(paced, default=EDIT_INTERVAL_S):.2f} s leaving out each job's final edit)",
    )


def _report_budget(result: Result, calls: list[dict], per_job: dict[str, JobCalls]) -> None:
    busiest = busiest_minute(calls, "chat.update")
    refused = sum(1 for c in calls if c["status"] == 429)
    wasted = sum(j.no_reaction_removes for j in per_job.values())
    result.figure("chat.update in the busiest minute", busiest, f"of {TIER3_PER_MINUTE}")
    result.figure("HTTP 429s", refused, "")
    result.figure("reactions.remove answered no_reaction", wasted, "calls")
    result.verdict(
        "all jobs' chat.update within Tier 3 (50/min), no 429",
        busiest <= TIER3_PER_MINUTE and refused == 0,
        f"busiest minute {busiest}, 429s {refused}",
    )
