"""A PDF shared in a channel becomes one job, however often Slack delivers the share."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from docjobs.bot.deps import BotDeps
from docjobs.bot.intake import SharedFile, accept_share, rejection_reason
from docjobs.bot.views import build_lookup_failed_text, build_rejection_text

logger = logging.getLogger(__name__)

# files.info errors that mean the file was deleted (or never existed) before the bot looked.
GONE_ERRORS = {"file_not_found", "file_deleted"}


def register(app: App, deps: BotDeps) -> None:
    @app.event({"type": "message", "subtype": "file_share"})
    def on_file_share(event: dict[str, Any], client: WebClient) -> None:
        handle_file_share(event, client, deps)

    # `file_shared` carries only ids and arrives beside the `message` event for the same share.
    # BOT_EVENTS leaves it out, but an app made from an older manifest still subscribes to it:
    # acknowledging it (rather than 404, which Slack would retry) is all it needs.
    @app.event("file_shared")
    def on_file_shared() -> None:
        return None

    @app.event("message")
    def on_other_message() -> None:
        return None


def handle_file_share(event: dict[str, Any], client: WebClient, deps: BotDeps) -> None:
    for file in event.get("files", []):
        if file.get("mode") == "file_access" or not file.get("url_private"):
            # Slack Connect and some shares send a stub; files.info has the rest.
            try:
                file = client.files_info(file=file["id"])["file"]
            except (SlackApiError, OSError) as exc:
                _lookup_failed(client, deps, SharedFile.from_event(event, file), exc)
                continue
        shared = SharedFile.from_event(event, file)
        reason = rejection_reason(shared, max_bytes=deps.settings.max_file_bytes)
        if reason is None:
            accept_share(deps.store, deps.queue, shared)
        elif deps.store.first_time(f"rejected:{shared.channel}:{shared.id}"):
            _tell_sharer(client, shared, build_rejection_text(shared.name, reason))


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
