"""Cancel and Retry on the progress message. A cancel shows through the job's events (the
reporter edits the message); a retry retires the clicked message, since the new attempt posts
its own below it. The clicker gets a private note only when nothing happened."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from docjobs.bot.command_views import SORRY, describe_cancel, refusal
from docjobs.bot.deps import BotDeps
from docjobs.bot.jobs_command import retire_progress_message
from docjobs.bot.views import CANCEL_ACTION, RETRY_ACTION
from docjobs.jobs.control import Verdict, cancel_job
from docjobs.jobs.model import Job

logger = logging.getLogger(__name__)


def register(app: App, deps: BotDeps) -> None:
    @app.action(CANCEL_ACTION)
    def on_cancel(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        job, user = _clicked(deps, body, respond)
        if job is None:
            return
        try:
            if not deps.permissions.may_act(user, job):
                _tell(respond, refusal(job, "cancel"))
                return
            result = cancel_job(deps.store, job.id, by=user)
        except Exception:
            logger.exception("job %s: cancel click by %s failed", job.id, user)
            _tell(respond, SORRY)
            return
        if result.verdict is not Verdict.DONE:
            _tell(respond, describe_cancel(result.verdict, result.job or job))

    @app.action(RETRY_ACTION)
    def on_retry(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        job, user = _clicked(deps, body, respond)
        if job is None:
            return
        try:
            if not deps.permissions.may_act(user, job):
                _tell(respond, refusal(job, "retry"))
                return
            retried = deps.jobs_command.retry(job, user=user)
        except Exception:
            logger.exception("job %s: retry click by %s failed", job.id, user)
            _tell(respond, SORRY)
            return
        if retried.verdict is Verdict.DONE:
            retire_progress_message(client, retried.before, by=user)
        else:
            _tell(respond, retried.text)


def _clicked(deps: BotDeps, body: dict[str, Any], respond: Respond) -> tuple[Job | None, str]:
    job_id, user = body["actions"][0]["value"], body["user"]["id"]
    job = deps.store.get(job_id)
    if job is None:
        _tell(respond, f"Job `{job_id}` no longer exists.")
    return job, user


def _tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)
