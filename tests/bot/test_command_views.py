"""What `/jobs` shows for a job, a list and the stats: every fact the issue names, in words."""

from __future__ import annotations

import time

from docjobs.bot.command_views import (
    Stats,
    build_job_detail,
    build_job_table,
    build_retired_progress,
    build_stats,
)
from docjobs.jobs.model import Job, State

NOW = time.time()


def make_job(**overrides: object) -> Job:
    fields: dict[str, object] = dict(
        id="J7K2QX",
        channel="C0FILES",
        thread_ts="1795540595.481929",
        file_id="F1",
        file_name="q3-report.pdf",
        user="U0ALICE",
        created_at=NOW - 90,
        started_at=NOW - 60,
    )
    fields.update(overrides)
    return Job(**fields)  # type: ignore[arg-type]


def test_a_running_job_in_detail() -> None:
    job = make_job(
        state=State.RUNNING, step="extracting", percent=41, detail="page 155 of 300", attempt=2
    )
    lines = build_job_detail(job).splitlines()
    assert lines[0] == "*Job `J7K2QX`* — q3-report.pdf"
    assert lines[1] == "*State:* running — extracting page 155 of 300 (41%)"
    assert lines[2] == "*Shared by* <@U0ALICE> in <#C0FILES> · attempt 2 · 0 automatic retries"
    assert lines[3].startswith(f"*Queued* <!date^{int(NOW - 90)}^")
    assert f"*started* <!date^{int(NOW - 60)}^" in lines[3] and "*finished* —" in lines[3]
    assert lines[-1] == "<https://slack.com/archives/C0FILES/p1795540595481929|Open the thread>"


def test_a_failed_job_says_why_and_what_to_do() -> None:
    job = make_job(
        state=State.FAILED,
        finished_at=NOW,
        seconds=1.25,
        retries=5,
        reason="Slack refused the download (HTTP 404).",
        hint="Share the file again.",
    )
    text = build_job_detail(job)
    assert "*State:* failed" in text and "5 automatic retries" in text and "*took* 1.2 s" in text
    assert "*Why it failed:* Slack refused the download (HTTP 404). Share the file again." in text


def test_names_that_look_like_markup_are_shown_as_text() -> None:
    job = make_job(file_name="<!channel> & `x`.pdf")
    assert "&lt;!channel&gt; &amp; `x`.pdf" in build_job_detail(job)
    table = build_job_table([job], title="Your jobs", page=1, pages=1, more_hint="")
    assert "&lt;!channel&gt; &amp; 'x'.pdf" in table and "<!channel>" not in table


def test_table_rows_are_aligned_and_long_names_cut() -> None:
    now = time.time()
    jobs = [
        make_job(state=State.RUNNING, percent=55, created_at=now - 5),
        make_job(id="ABCDEF", file_name="x" * 40 + ".pdf", created_at=now - 7200),
    ]
    table = build_job_table(jobs, title="Jobs in <#C0FILES>", page=1, pages=3, more_hint="/jobs l")
    rows = table.split("```")[1].strip().splitlines()
    assert rows[0].split() == ["ID", "STATE", "%", "AGE", "FILE"]
    assert rows[1].split() == ["J7K2QX", "running", "55", "5s", "q3-report.pdf"]
    assert rows[2].split() == ["ABCDEF", "queued", "0", "2h", "x" * 31 + "…"]
    assert table.endswith("Page 1 of 3. Next: `/jobs l 2`")


def test_stats_name_every_number() -> None:
    stats = Stats(
        queue_depth=3,
        running=2,
        queued=1,
        workers=4,
        succeeded_last_hour=17,
        failed_last_hour=2,
        dead_letters=1,
        median_s_per_page=0.031,
    )
    assert build_stats(stats).splitlines() == [
        "*docjobs right now*",
        "• Queue depth: 3 waiting for a worker (1 job queued or waiting to retry)",
        "• Running: 2",
        "• Workers online: 4",
        "• Last hour: 17 done, 2 failed",
        "• Dead letters (gave up after retries): 1",
        "• Median time per page: 0.03 s",
    ]
    idle = Stats(0, 0, 0, 0, 0, 0, 0, None)
    assert "Median time per page: no finished jobs in the last hour" in build_stats(idle)


def test_a_retried_attempts_message_loses_its_buttons_and_points_below() -> None:
    before = make_job(state=State.FAILED, reason="Slack answered HTTP 503.")
    text, blocks = build_retired_progress(before, by="U0ADMIN")
    assert text == (
        ":repeat: *q3-report.pdf* — attempt 1 failed: Slack answered HTTP 503. — "
        "<@U0ADMIN> retried it as attempt 2 (below) — job `J7K2QX`"
    )
    assert [block["type"] for block in blocks] == ["section", "context"]
