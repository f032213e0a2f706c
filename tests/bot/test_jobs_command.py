"""`/jobs` answers against a real Redis job store, without Slack: paging, pasted and mistyped
ids, who may act, and what a refusal leaves alone."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import cast

import pytest

from docjobs.bot.command_views import Stats
from docjobs.bot.deps import BotDeps
from docjobs.bot.jobs_command import JobsCommand
from docjobs.bot.permissions import Permissions
from docjobs.jobs.model import Job, State
from docjobs.jobs.store import JobStore

ALICE, BOB, ADMIN = "U0ALICE", "U0BOB", "U0ADMIN"
CHANNEL = "C0FILES"
NO_STATS = Stats(0, 0, 0, 0, 0, 0, 0, None)


@dataclass
class SentJobs:
    sent: list[tuple[str, int]] = field(default_factory=list)

    def enqueue(self, job_id: str, attempt: int) -> bool:
        self.sent.append((job_id, attempt))
        return True


class AdminList:
    def __init__(self, *admins: str) -> None:
        self.admins = set(admins)

    def may_act(self, user_id: str, job: Job) -> bool:
        return user_id == job.user or user_id in self.admins


@dataclass
class Deps:
    store: JobStore
    queue: SentJobs


@pytest.fixture
def queue() -> SentJobs:
    return SentJobs()


@pytest.fixture
def jobs(store: JobStore, queue: SentJobs) -> JobsCommand:
    deps = cast(BotDeps, Deps(store, queue))
    return JobsCommand(deps, cast(Permissions, AdminList(ADMIN)), lambda: NO_STATS)


def share(store: JobStore, n: int = 1, *, user: str = ALICE, channel: str = CHANNEL) -> str:
    job = Job(
        id="",
        channel=channel,
        thread_ts=f"{n}.0",
        file_id=f"F{user}{channel}{n}",
        file_name=f"report-{n}.pdf",
        user=user,
        created_at=time.time() + n,  # later shares are newer
    )
    return store.create(job)[1]


def answer(jobs: JobsCommand, text: str, *, user: str = ALICE, channel: str = CHANNEL) -> str:
    return jobs.answer(text, user=user, channel=channel).text


def test_list_is_paged_newest_first_and_a_page_past_the_end_says_so(
    jobs: JobsCommand, store: JobStore
) -> None:
    ids = [share(store, n) for n in range(1, 13)]
    first = answer(jobs, "list")
    rows = [line.split()[0] for line in first.split("```")[1].strip().splitlines()[1:]]
    assert rows == ids[::-1][:10]
    assert "Page 1 of 2. Next: `/jobs list mine 2`" in first
    second = answer(jobs, "list mine 2")
    assert [line.split()[0] for line in second.split("```")[1].strip().splitlines()[1:]] == [
        ids[1],
        ids[0],
    ]
    past = answer(jobs, "list page 3")
    assert "There is no page 3 of your jobs: there are 2 pages." in past
    assert "Usage: `/jobs list [mine|channel|failed] [PAGE]`" in past


@pytest.mark.parametrize("page", ["²", "mine ³", "99999999999999999999", "0x1"])
def test_a_page_that_is_not_a_plain_number_is_not_understood(
    jobs: JobsCommand, store: JobStore, page: str
) -> None:
    share(store)
    text = answer(jobs, f"list {page}")
    assert f"`/jobs list` did not understand `{page.split()[-1]}`" in text
    assert "Usage: `/jobs list [mine|channel|failed] [PAGE]`" in text


def test_the_last_page_number_a_list_takes_says_there_is_no_such_page(
    jobs: JobsCommand, store: JobStore
) -> None:
    share(store)
    assert "There is no page 999999 of your jobs: there is 1 page." in answer(jobs, "list 999999")


def test_no_such_page_of_a_channel_list_keeps_the_channel_mention(
    jobs: JobsCommand, store: JobStore
) -> None:
    job_id = share(store)
    store.transition(job_id, State.FAILED, attempt=1)
    assert answer(jobs, "list channel 3").startswith(
        f"There is no page 3 of jobs in <#{CHANNEL}>: there is 1 page."
    )
    assert answer(jobs, "list failed 2").startswith(
        f"There is no page 2 of failed jobs in <#{CHANNEL}>: there is 1 page."
    )


def test_channel_and_failed_lists_show_only_this_channels_jobs(
    jobs: JobsCommand, store: JobStore
) -> None:
    here = share(store, 1, user=BOB)
    elsewhere = share(store, 2, user=BOB, channel="C0OTHER")
    store.transition(here, State.FAILED, attempt=1, fields={"reason": "Broken."})
    store.transition(elsewhere, State.FAILED, attempt=1)
    for text in ("list channel", "list failed"):
        listed = answer(jobs, text)
        assert here in listed and elsewhere not in listed
    assert "no jobs yet" in answer(jobs, "list mine")


@pytest.mark.parametrize(
    "pasted",
    ["{id}", "{lower}", "`{id}`", "job `{id}`", "(job `{id}`).", "Job: {lower}", "#{id}"],
)
def test_ids_pasted_from_the_thread_or_typed_in_lower_case_work(
    jobs: JobsCommand, store: JobStore, pasted: str
) -> None:
    job_id = share(store)
    text = answer(jobs, "status " + pasted.format(id=job_id, lower=job_id.lower()))
    assert text.startswith(f"*Job `{job_id}`* — report-1.pdf"), text


def test_unknown_id_suggests_close_matches_among_the_callers_own_jobs_only(
    jobs: JobsCommand, store: JobStore
) -> None:
    mine = share(store, 1)
    theirs = share(store, 2, user=BOB)
    typo = mine[:5]
    text = answer(jobs, f"cancel {typo}")
    assert f"`{typo}` is not a job id" in text and f"Did you mean `{mine}`?" in text
    assert "Usage: `/jobs cancel ID`" in text
    assert theirs not in answer(jobs, f"cancel {theirs[:5]}")


def test_a_missing_id_names_the_callers_jobs_it_could_be(
    jobs: JobsCommand, store: JobStore
) -> None:
    running = share(store, 1)
    failed = share(store, 2)
    store.transition(failed, State.FAILED, attempt=1)
    cancel = answer(jobs, "cancel")
    assert "needs a job id" in cancel and f"`{running}` (report-1.pdf)" in cancel
    assert failed not in cancel
    retry = answer(jobs, "retry")
    assert f"`{failed}` (report-2.pdf)" in retry and running not in retry


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("frobnicate", "I don't know `/jobs frobnicate`."),
        ("stauts", "Did you mean `/jobs stats` or `/jobs status`?"),
        ("cancle ABCDEF", "Did you mean `/jobs cancel`?"),
        ("J7K2QX", "To see that job, use `/jobs status J7K2QX`."),
    ],
)
def test_unknown_subcommands_get_every_usage_line(jobs: JobsCommand, text: str, says: str) -> None:
    reply = answer(jobs, text)
    assert says in reply
    for usage in ("/jobs status [ID]", "/jobs list", "/jobs cancel ID", "/jobs retry ID"):
        assert f"`{usage}" in reply


def test_others_are_refused_and_the_job_is_untouched(jobs: JobsCommand, store: JobStore) -> None:
    queued = share(store, 1)
    failed = share(store, 2)
    store.transition(failed, State.FAILED, attempt=1)
    for verb, job_id in (("cancel", queued), ("retry", failed)):
        text = answer(jobs, f"{verb} {job_id}", user=BOB)
        assert text.startswith(f"Sorry, only <@{ALICE}> (who shared *report-")
        assert text.endswith(f"can {verb} job `{job_id}`. Nothing was changed.")
    assert store.get(queued).state is State.QUEUED  # type: ignore[union-attr]
    assert store.get(failed).state is State.FAILED  # type: ignore[union-attr]


def test_an_admin_may_cancel_anyones_job(jobs: JobsCommand, store: JobStore) -> None:
    job_id = share(store)
    assert answer(jobs, f"cancel {job_id}", user=ADMIN).startswith(f"Cancelled job `{job_id}`")
    assert store.get(job_id).cancelled_by == ADMIN  # type: ignore[union-attr]


def test_retry_sends_the_next_attempt_and_hands_back_the_old_record(
    jobs: JobsCommand, store: JobStore, queue: SentJobs
) -> None:
    job_id = share(store)
    store.transition(job_id, State.CANCELLED, attempt=1)
    store.set_fields(job_id, progress_ts="9.9", progress_attempt=1)
    result = jobs.answer(f"retry {job_id}", user=ALICE, channel=CHANNEL)
    assert result.text.startswith(f"Retrying job `{job_id}` (*report-1.pdf*) as attempt 2")
    assert queue.sent == [(job_id, 2)]
    assert result.retried is not None and result.retried.progress_ts == "9.9"
    again = jobs.answer(f"retry {job_id}", user=ALICE, channel=CHANNEL)
    assert again.text == (
        f"Job `{job_id}` (*report-1.pdf*) is still queued; retry it once it has finished."
    )
    assert again.retried is None and queue.sent == [(job_id, 2)]


def test_cancelling_a_finished_job_says_how_it_ended(jobs: JobsCommand, store: JobStore) -> None:
    job_id = share(store)
    store.transition(job_id, State.CANCELLED, attempt=1, fields={"cancelled_by": BOB})
    assert answer(jobs, f"cancel {job_id}") == (
        f"Job `{job_id}` (*report-1.pdf*) has already finished: it was cancelled by <@{BOB}>, "
        "so there is nothing to cancel."
    )


def test_a_job_in_another_channel_is_shown_only_to_its_sharer(
    jobs: JobsCommand, store: JobStore
) -> None:
    job_id = share(store, channel="C0OTHER")
    assert "belongs to another channel" in answer(jobs, f"status {job_id}", user=BOB)
    assert answer(jobs, f"status {job_id}").startswith(f"*Job `{job_id}`*")


def test_cancel_or_retry_of_another_channels_job_does_not_name_its_file(
    jobs: JobsCommand, store: JobStore, queue: SentJobs
) -> None:
    queued = share(store, 1, channel="G0PRIVATE")
    failed = share(store, 2, channel="G0PRIVATE")
    store.transition(failed, State.FAILED, attempt=1)
    for verb, job_id in (("cancel", queued), ("retry", failed)):
        assert answer(jobs, f"{verb} {job_id}", user=BOB, channel="C0PUBLIC") == (
            f"Job `{job_id}` belongs to another channel; ask there, or ask the person who "
            "shared it."
        )
    assert store.get(queued).state is State.QUEUED  # type: ignore[union-attr]
    assert store.get(failed).state is State.FAILED  # type: ignore[union-attr]
    assert queue.sent == []


def test_status_without_an_id_shows_the_callers_active_then_recent_jobs(
    jobs: JobsCommand, store: JobStore
) -> None:
    assert answer(jobs, "status").startswith("You have no jobs yet.")
    active = share(store, 1)
    finished = share(store, 2)
    store.transition(finished, State.RUNNING, attempt=1)
    store.transition(finished, State.SUCCEEDED, attempt=1)
    share(store, 3, user=BOB)
    active_part, recent_part = answer(jobs, "status").split("*Your recent jobs*")
    assert active_part.startswith(f"*Your active jobs*\n*Job `{active}`* — report-1.pdf")
    assert finished not in active_part
    assert f"{finished}  succeeded" in recent_part and active not in recent_part


def test_failed_list_pages_through_the_channels_failures_newest_first(
    jobs: JobsCommand, store: JobStore
) -> None:
    failed = []
    for n in range(1, 16):
        job_id = share(store, n, user=BOB)
        if n % 5:  # every fifth stays queued
            store.transition(job_id, State.FAILED, attempt=1, fields={"reason": "Broken."})
            failed.append(job_id)
    first = answer(jobs, "list failed")
    rows = [line.split()[:2] for line in first.split("```")[1].strip().splitlines()[1:]]
    assert rows == [[job_id, "failed"] for job_id in failed[::-1][:10]]
    assert "Page 1 of 2. Next: `/jobs list failed 2`" in first
    second = answer(jobs, "list failed 2")
    assert [line.split()[0] for line in second.split("```")[1].strip().splitlines()[1:]] == (
        failed[::-1][10:]
    )
