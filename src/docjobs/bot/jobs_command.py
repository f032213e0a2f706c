"""What `/jobs` does. Every answer is plain words; bad input gets what was wrong and the usage."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable

from docjobs.bot.command_parser import (
    CommandError,
    ParsedCommand,
    help_text,
    parse_jobs_command,
    usage_line,
)
from docjobs.bot.command_views import Stats, build_job_detail, build_job_table, build_stats
from docjobs.bot.deps import BotDeps
from docjobs.bot.permissions import Permissions
from docjobs.jobs.control import Verdict, cancel_job, retry_job
from docjobs.jobs.ids import normalize_job_id
from docjobs.jobs.model import Job, State

logger = logging.getLogger(__name__)

PAGE_SIZE = 10


class JobsCommand:
    def __init__(self, deps: BotDeps, permissions: Permissions, stats: Callable[[], Stats]) -> None:
        self.deps = deps
        self.store = deps.store
        self.permissions = permissions
        self.stats = stats

    def answer(self, text: str, *, user: str, channel: str) -> str:
        try:
            command = parse_jobs_command(text)
            handler = getattr(self, f"_{command.name}")
            return str(handler(command, user=user, channel=channel))
        except CommandError as exc:
            usage = usage_line(exc.subcommand) if exc.subcommand else "Try `/jobs help`."
            return f"{exc.message}\nUsage: {usage}"

    # --- subcommands -------------------------------------------------------------------------

    def _help(self, _: ParsedCommand, **__: str) -> str:
        return help_text()

    def _stats(self, _: ParsedCommand, **__: str) -> str:
        return build_stats(self.stats())

    def _status(self, command: ParsedCommand, *, user: str, channel: str) -> str:
        if command.args:
            job = self._resolve(command.args[0], user=user, subcommand="status")
            if job.channel != channel and job.user != user:
                return (
                    f"Job `{job.id}` belongs to another channel; ask there, or ask "
                    "the person who shared it."
                )
            return build_job_detail(job)
        jobs = self.store.get_many(self.store.recent_ids(user=user, limit=20))
        active = [job for job in jobs if not job.is_final]
        recent = [job for job in jobs if job.is_final][:5]
        if not jobs:
            return "You have no jobs yet. Share a PDF in a channel I am in to start one."
        parts = []
        if active:
            parts.append("*Your active jobs*\n" + "\n\n".join(map(build_job_detail, active)))
        if recent:
            parts.append(
                build_job_table(recent, title="Your recent jobs", page=1, pages=1, more_hint="")
            )
        return "\n\n".join(parts)

    def _list(self, command: ParsedCommand, *, user: str, channel: str) -> str:
        if command.scope == "failed":
            ids = self.store.recent_ids(channel=channel, limit=500)
            jobs = [j for j in self.store.get_many(ids) if j.state is State.FAILED]
            total = len(jobs)
            jobs = jobs[(command.page - 1) * PAGE_SIZE : command.page * PAGE_SIZE]
            title = f"Failed jobs in <#{channel}>"
        else:
            key = {"user": user} if command.scope == "mine" else {"channel": channel}
            ids = self.store.recent_ids(
                **key, limit=PAGE_SIZE, offset=(command.page - 1) * PAGE_SIZE
            )
            total = self.store.count(**key)
            jobs = self.store.get_many(ids)
            title = "Your jobs" if command.scope == "mine" else f"Jobs in <#{channel}>"
        pages = max(1, -(-total // PAGE_SIZE))
        if command.page > pages:
            return f"There {'is' if pages == 1 else 'are'} only {pages} page(s) of {title.lower()}."
        return build_job_table(
            jobs,
            title=title,
            page=command.page,
            pages=pages,
            more_hint=f"/jobs list {command.scope}",
        )

    def _cancel(self, command: ParsedCommand, *, user: str, channel: str) -> str:
        job = self._resolve(command.args[0], user=user, subcommand="cancel")
        if not self.permissions.may_act(user, job):
            return refusal(job, "cancel")
        return describe_cancel(cancel_job(self.store, job.id, by=user).verdict, job)

    def _retry(self, command: ParsedCommand, *, user: str, channel: str) -> str:
        job = self._resolve(command.args[0], user=user, subcommand="retry")
        if not self.permissions.may_act(user, job):
            return refusal(job, "retry")
        return self.retry(job, user=user)

    # --- shared with the buttons -------------------------------------------------------------

    def retry(self, job: Job, *, user: str) -> str:
        result = retry_job(self.store, job.id, by=user)
        if result.verdict is Verdict.DONE and result.job is not None:
            self.deps.queue.enqueue(job.id, result.job.attempt)
        return describe_retry(result.verdict, result.job or job)

    def _resolve(self, text: str, *, user: str, subcommand: str) -> Job:
        job_id = normalize_job_id(text)
        job = self.store.get(job_id) if job_id else None
        if job is not None:
            return job
        mine = self.store.recent_ids(user=user, limit=200)
        close = difflib.get_close_matches((job_id or text).upper(), mine, n=3, cutoff=0.5)
        what = (
            f"No job `{job_id}`."
            if job_id
            else (f"`{text}` is not a job id; ids are six letters and digits, like `J7K2QX`.")
        )
        if close:
            what += " Did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
        raise CommandError(what, subcommand=subcommand)


def refusal(job: Job, action: str) -> str:
    return (
        f"Sorry, only <@{job.user}> (who shared *{job.file_name}*) or a workspace admin "
        f"can {action} job `{job.id}`. Nothing was changed."
    )


def describe_cancel(verdict: Verdict, job: Job) -> str:
    if verdict is Verdict.DONE:
        return f"Cancelled job `{job.id}` ({job.file_name}). Its thread says so."
    if verdict is Verdict.ALREADY_FINAL or verdict is Verdict.RACED:
        return f"Job `{job.id}` has already finished, so there is nothing to cancel."
    return f"No job `{job.id}`."


def describe_retry(verdict: Verdict, job: Job) -> str:
    if verdict is Verdict.DONE:
        return (
            f"Retrying job `{job.id}` ({job.file_name}) as attempt {job.attempt}; "
            "follow it in its thread."
        )
    if verdict is Verdict.ALREADY_SUCCEEDED:
        return f"Job `{job.id}` already succeeded; there is nothing to retry."
    if verdict is Verdict.STILL_ACTIVE:
        return f"Job `{job.id}` is still {job.state.value}; retry it once it has finished."
    if verdict is Verdict.RACED:
        return f"Job `{job.id}` changed just now; look at its thread and try again."
    return f"No job `{job.id}`."
