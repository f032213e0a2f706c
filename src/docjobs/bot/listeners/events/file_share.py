"""A PDF shared in a channel becomes one job, however often Slack delivers the share.

The job is saved before Slack gets its ack: if Redis cannot take it, Slack gets a 500 and
delivers the share again (three times, over about five minutes), so an outage does not lose
it. Queueing and any answers to the sharer come after the ack; a job saved but not queued is
the sweeper's to send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from docjobs.bot.deps import BotDeps
from docjobs.bot.intake import SharedFile, rejection_reason, save_share
from docjobs.bot.views import build_lookup_failed_text, build_rejection_text, build_reshare_text

logger = logging.getLogger(__name__)

# files.info errors that mean the file was deleted (or never existed) before the bot looked.
GONE_ERRORS = {"file_not_found", "file_deleted"}


@dataclass(frozen=True)
class Saved:
    """One file of a share after the part done before the ack."""

    file: dict[str, Any]
    shared: SharedFile | None = None  # None: a stub, looked up after the ack
    reason: str | None = None  # why it gets no job
    created: bool = False
    job_id: str = ""


def register(app: App, deps: BotDeps) -> None:
    def save_before_ack(
        body: dict[str, Any], context: BoltContext, next: Callable[[], None]
    ) -> None:
        context["saved"] = save_files(body["event"], deps)
        next()

    @app.event({"type": "message", "subtype": "file_share"}, middleware=[save_before_ack])
    def on_file_share(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        follow_up(event, client, deps, context["saved"])

    # `file_shared` carries only ids and arrives beside the `message` event for the same share.
    # BOT_EVENTS leaves it out, but an app made from an older manifest still subscribes to it:
    # acknowledging it (rather than 404, which Slack would retry) is all it needs.
    @app.event("file_shared")
    def on_file_shared() -> None:
        return None

    @app.event("message")
    def on_other_message() -> None:
        return None


def save_files(event: dict[str, Any], deps: BotDeps) -> list[Saved]:
    """Checks that need no Slack call, and the job for each accepted file: before the ack."""
    saved = []
    for file in event.get("files", []):
        if file.get("mode") == "file_access" or not file.get("url_private"):
            saved.append(Saved(file))  # Slack Connect and some shares send a stub
            continue
        saved.append(_save(SharedFile.from_event(event, file), file, deps))
    return saved


def _save(shared: SharedFile, file: dict[str, Any], deps: BotDeps) -> Saved:
    reason = rejection_reason(shared, max_bytes=deps.settings.max_file_bytes)
    if reason is not None:
        return Saved(file, shared, reason)
    created, job_id = save_share(deps.store, shared)
    return Saved(file, shared, created=created, job_id=job_id)


def follow_up(event: dict[str, Any], client: WebClient, deps: BotDeps, saved: list[Saved]) -> None:
    """After the ack: queue new jobs, look up stubs, and answer the sharer where needed."""
    for item in saved:
        if item.shared is None:
            try:
                file = client.files_info(file=item.file["id"])["file"]
            except (SlackApiError, OSError) as exc:
                _lookup_failed(client, deps, SharedFile.from_event(event, item.file), exc)
                continue
            item = _save(SharedFile.from_event(event, file), file, deps)
        shared = item.shared
        assert shared is not None
        if item.reason is not None:
            if deps.store.first_time(f"rejected:{shared.channel}:{shared.id}"):
                _tell_sharer(client, shared, build_rejection_text(shared.name, item.reason))
        elif item.created:
            deps.queue.enqueue(item.job_id, 1)
        else:
            _already_shared(client, deps, shared, item.job_id)


def _already_shared(client: WebClient, deps: BotDeps, shared: SharedFile, job_id: str) -> None:
    """The same file shared again in the channel (a new message, not Slack's redelivery) makes
    no second job: its sharer is pointed at the first one rather than left with silence."""
    job = deps.store.get(job_id)
    if job is None or job.message_ts == shared.message_ts:
        return  # a redelivery of the share that made the job
    if deps.store.first_time(f"reshared:{shared.channel}:{shared.message_ts}:{shared.id}"):
        _tell_sharer(client, shared, build_reshare_text(job))


def _lookup_failed(
    client: WebClient, deps: BotDeps, stub: SharedFile, exc: SlackApiError | OSError
) -> None:
    """The event is acked, so Slack will not send it again: the sharer is told instead (once
    per share), unless the file is gone, which needs no answer."""
    error = _error_of(exc)
    if error in GONE_ERRORS:
        logger.info("file %s was gone before files.info (%s)", stub.id, error)
        return
    logger.warning("files.info failed for %s (%s): not queued", stub.id, error)
    if deps.store.first_time(f"lookup:{stub.channel}:{stub.message_ts}:{stub.id}"):
        _tell_sharer(client, stub, build_lookup_failed_text(error))


def _error_of(exc: SlackApiError | OSError) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
    return type(exc).__name__


def _tell_sharer(client: WebClient, shared: SharedFile, text: str) -> None:
    try:
        client.chat_postEphemeral(
            channel=shared.channel, user=shared.user, text=text, thread_ts=shared.thread_ts
        )
    except SlackApiError:
        logger.exception("could not tell %s why %s was not queued", shared.user, shared.id)
