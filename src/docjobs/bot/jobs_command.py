"""What `/jobs` does. Every answer is plain words; bad input gets what was wrong and the usage."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from docjobs.bot.command_parser import (
    CommandError,
    ParsedCommand,
    help_text,
    parse_jobs_command,
    usage_line,
    usage_lines,
)
from docjobs.bot.command_views import (
    TABLE_FIELDS,
    Stats,
    build_job_detail,
    build_job_table,
    build_retired_progress,
    build_stats,
    describe_cancel,
    describe_retry,
    escape,
    refusal,
)
from docjobs.bot.deps import BotDeps
from docjobs.bot.permissions import Permissions
from docjobs.jobs.control import Verdict, cancel_job, retry_job
from docjobs.jobs.ids import normalize_job_id
from docjobs.jobs.model import ACTIVE_STATES, FINAL_STATES, Job, State

logger = logging.getLogger(__name__)

PAGE_SIZE = 10
FAILED_SCAN = 500  # `list failed` looks for failed jobs among the channel's newest this many
# What a missing id is suggested from: jobs the caller could cancel, or retry.
SUGGEST_STATES = {
    "cancel": (State.QUEUED, State.RUNNING, State.RETRYING),
    "retry": (State.FAILED, State.CANCELLED),
}


@dataclass(frozen=True)
class Answer:
    """What the caller sees; `retried` is the job as it was before a retry the command made,
    whose progress message is retired once the answer is sent (see retire_progress_message)."""

    text: str
    retried: Job | None = None


@dataclass(frozen=True)
class Retried:
    verdict: Verdict
    text: str
    before: Job


class JobsCommand:
    def __init__(self, deps: BotDeps, permissions: Permissions, stats: Callable[[], Stats]) -> None:
        self.deps = deps
        self.store = deps.store
        self.permissions = permissions
        self.stats = stats

    def answer(self, text: str, *, user: str, channel: str) -> Answer:
        try:
            command = parse_jobs_command(text)
            if command.name == "retry":
                return self._retry(command, user=user, channel=channel)
            handler = getattr(self, f"_{command.name}")
            return Answer(str(handler(command, user=user, channel=channel)))
        except CommandError as exc:
            return Answer(self._explain(exc, user=user))

    def _explain(self, exc: CommandError, *, user: str) -> str:
        what = exc.message
        if exc.missing_id and exc.subcommand in SUGGEST_STATES:
            what += self._suggest_ids(user, SUGGEST_STATES[exc.subcommand])
        if exc.subcommand:
            return f"{what}\nUsage: {usage_line(exc.subcommand)}"
        return f"{what}\nUsage:\n{usage_lines()}"

    def _suggest_ids(self, user: str, states: tuple[State, ...]) -> str:
        newest = self.store.recent_states(user=user, limit=20)
        ids = [job_id for job_id, state in newest if state in states][:3]
        fitting = self.store.get_many(ids, fields=("file_name",))
        if not fitting:
            return ""
        named = ", ".join(f"`{job.id}` ({escape(job.file_name)})" for job in fitting)
        return f" Yours that fit: {named}."

    # --- subcommands -------------------------------------------------------------------------

    def _help(self, _: ParsedCommand, **__: str) -> str:
        return help_text()

    def _stats(self, _: ParsedCommand, **__: str) -> str:
        return build_stats(self.stats())

    def _status(self, command: ParsedCommand, *, user: str, channel: str) -> str:
        if command.args:
            job = self._resolve(command.args[0], user=user, subcommand="status")
            return _hidden_elsewhere(job, user=user, channel=channel) or build_job_detail(job)
        # Of the caller's newest 20: every active one, and the 5 newest finished. Only those
        # are loaded.
        newest = self.store.recent_states(user=user, limit=20)
        if not newest:
            return "You have no jobs yet. Share a PDF in a channel I am in to start one."
        active_ids = [job_id for job_id, state in newest if state in ACTIVE_STATES]
        final_ids = [job_id for job_id, state in newest if state in FINAL_STATES][:5]
        jobs = self.store.get_many(active_ids + final_ids)
        active = [job for job in jobs if not job.is_final]
        recent = [job for job in jobs if job.is_final]
        parts = []
        if active:
            parts.append("*Your active jobs*\n" + "\n\n".join(map(build_job_detail, active)))
        if recent:
            parts.append(
                build_job_table(recent, title="Your recent jobs", page=1, pages=1, more_hint="")
            )
        return "\n\n".join(parts)

    def _list(self, command: ParsedCommand, *, user: str, channel: str) -> str:
        start = (command.page - 1) * PAGE_SIZE
        if command.scope == "failed":
            # Among the channel's newest FAILED_SCAN jobs; only the page shown is loaded.
            failed = self.store.recent_states(
                channel=channel, limit=FAILED_SCAN, state=State.FAILED
            )
            ids = [job_id for job_id, _ in failed]
            total = len(ids)
            ids = ids[start : start + PAGE_SIZE]
            title = f"Failed jobs in <#{channel}>"
        else:
            key = {"user": user} if command.scope == "mine" else {"channel": channel}
            ids, total = self.store.recent_page(**key, limit=PAGE_SIZE, offset=start)
            title = "Your jobs" if command.scope == "mine" else f"Jobs in <#{channel}>"
        jobs = self.store.get_many(ids, fields=TABLE_FIELDS)
        pages = max(1, -(-total // PAGE_SIZE))
        if command.page > pages:
            raise CommandError(
                # Only the first letter: the title may hold a channel mention, <#C0FILES>.
                f"There is no page {command.page} of {title[:1].lower()}{title[1:]}: "
                f"{'there is 1 page' if pages == 1 else f'there are {pages} pages'}.",
                subcommand="list",
            )
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
            return _hidden_elsewhere(job, user=user, channel=channel) or refusal(job, "cancel")
        result = cancel_job(self.store, job.id, by=user)
        return describe_cancel(result.verdict, result.job or job)

    def _retry(self, command: ParsedCommand, *, user: str, channel: str) -> Answer:
        job = self._resolve(command.args[0], user=user, subcommand="retry")
        if not self.permissions.may_act(user, job):
            return Answer(
                _hidden_elsewhere(job, user=user, channel=channel) or refusal(job, "retry")
            )
        retried = self.retry(job, user=user)
        done = retried.verdict is Verdict.DONE
        return Answer(retried.text, retried=retried.before if done else None)

    # --- shared with the buttons -------------------------------------------------------------

    def retry(self, job: Job, *, user: str) -> Retried:
        """Retry `job` (just read; the caller may act on it) and send the new attempt to the
        workers. Enqueue failures are the sweeper's: the job stays `queued` and is resent."""
        result = retry_job(self.store, job.id, by=user)
        if result.verdict is Verdict.DONE and result.job is not None:
            self.deps.queue.enqueue(job.id, result.job.attempt)
        return Retried(result.verdict, describe_retry(result.verdict, result.job or job), job)

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


def _hidden_elsewhere(job: Job, *, user: str, channel: str) -> str | None:
    """The answer about a job in another channel that the caller did not share (its file name
    may be a private channel's), or None when the caller may be told about it."""
    if job.channel == channel or job.user == user:
        return None
    return f"Job `{job.id}` belongs to another channel; ask there, or ask the person who shared it."


def retire_progress_message(client: WebClient, before: Job, *, by: str) -> None:
    """After a retry, the ended attempt's progress message loses its buttons and points to the
    new attempt's message, which the reporter posts below it. Called after the ack: a slow
    Slack must not cost the answer its 3 s."""
    if not before.progress_ts or before.progress_attempt != before.attempt:
        return
    text, blocks = build_retired_progress(before, by=by)
    try:
        client.chat_update(channel=before.channel, ts=before.progress_ts, text=text, blocks=blocks)
    except (SlackClientError, OSError):
        logger.exception(
            "job %s: could not retire attempt %d's progress message", before.id, before.attempt
        )
