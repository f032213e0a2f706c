"""Cancel and Retry on the progress message. The message itself changes through the job's
events (the reporter); the clicker gets a private note only when nothing happened."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from docjobs.bot.deps import BotDeps
from docjobs.bot.jobs_command import describe_cancel, refusal
from docjobs.bot.views import CANCEL_ACTION, RETRY_ACTION
from docjobs.jobs.control import Verdict, cancel_job

logger = logging.getLogger(__name__)


def register(app: App, deps: BotDeps) -> None:
    @app.action(CANCEL_ACTION)
    def on_cancel(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        job_id, user = body["actions"][0]["value"], body["user"]["id"]
        job = deps.store.get(job_id)
        if job is None:
            _tell(respond, f"Job `{job_id}` no longer exists.")
        elif not deps.permissions.may_act(user, job):
            _tell(respond, refusal(job, "cancel"))
        else:
            verdict = cancel_job(deps.store, job_id, by=user).verdict
            if verdict is not Verdict.DONE:
                _tell(respond, describe_cancel(verdict, job))

    @app.action(RETRY_ACTION)
    def on_retry(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        job_id, user = body["actions"][0]["value"], body["user"]["id"]
        job = deps.store.get(job_id)
        if job is None:
            _tell(respond, f"Job `{job_id}` no longer exists.")
        elif not deps.permissions.may_act(user, job):
            _tell(respond, refusal(job, "retry"))
        else:
            answer = deps.jobs_command.retry(job, user=user)
            if not answer.startswith("Retrying"):
                _tell(respond, answer)


def _tell(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)
