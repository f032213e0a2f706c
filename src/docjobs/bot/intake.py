"""Turning a file share into at most one job: checks that need no download, then the guard."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from docjobs.jobs.model import Job
from docjobs.jobs.store import JobStore
from docjobs.tasks.download import format_mb

logger = logging.getLogger(__name__)

PDF_MIMETYPES = {"application/pdf", "application/x-pdf"}


@dataclass(frozen=True)
class SharedFile:
    id: str
    name: str
    mimetype: str
    filetype: str
    size: int
    url: str
    user: str
    channel: str
    message_ts: str
    thread_ts: str
    team: str = ""
    external: bool = False  # stored outside Slack (Google Drive and the like)

    @classmethod
    def from_event(cls, event: dict[str, Any], file: dict[str, Any]) -> SharedFile:
        return cls(
            id=file["id"],
            name=file.get("name") or file.get("title") or file["id"],
            mimetype=file.get("mimetype", ""),
            filetype=file.get("filetype", ""),
            size=int(file.get("size") or 0),
            url=file.get("url_private_download") or file.get("url_private") or "",
            user=event.get("user") or file.get("user", ""),
            channel=event["channel"],
            message_ts=event["ts"],
            thread_ts=event.get("thread_ts") or event["ts"],
            team=event.get("team", ""),
            external=bool(file.get("is_external")) or file.get("mode") == "external",
        )


def rejection_reason(shared: SharedFile, *, max_bytes: int) -> str | None:
    """Why this file gets no job, in words for the person who shared it; None if it is fine."""
    is_pdf = (
        shared.mimetype in PDF_MIMETYPES
        or shared.filetype == "pdf"
        or shared.name.lower().endswith(".pdf")
    )
    if not is_pdf:
        kind = shared.filetype or shared.mimetype or "this kind of file"
        return f"I only process PDFs, and this is {kind}. Export it as a PDF and share that."
    if shared.external:
        return (
            "it is stored outside Slack, so I cannot download it. Save it as a PDF and upload "
            "that file to Slack."
        )
    if shared.size > max_bytes:
        return (
            f"it is {format_mb(shared.size)} and the limit is {format_mb(max_bytes)}. "
            "Split it into smaller PDFs and share those."
        )
    if not shared.url:
        return "Slack did not give me a download link for it. Try sharing it again."
    return None


def save_share(store: JobStore, shared: SharedFile) -> tuple[bool, str]:
    """Create the job (once per channel and file); returns (created, job id). Queueing it is
    the caller's, after Slack's ack; until then the sweeper counts it as never sent."""
    job = Job(
        id="",
        channel=shared.channel,
        thread_ts=shared.thread_ts,
        message_ts=shared.message_ts,
        file_id=shared.id,
        file_name=shared.name,
        user=shared.user,
        url=shared.url,
        file_size=shared.size,
        mimetype=shared.mimetype,
        team=shared.team,
    )
    created, job_id = store.create(job)
    if created:
        logger.info("job %s created for %s in %s", job_id, shared.id, shared.channel)
    else:
        logger.info("job %s already exists for %s in %s", job_id, shared.id, shared.channel)
    return created, job_id
