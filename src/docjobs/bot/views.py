"""Block Kit builders for what a person sees in a job's thread."""

from __future__ import annotations

from typing import Any

from docjobs.jobs.model import Job, State

Blocks = list[dict[str, Any]]

CANCEL_ACTION = "job_cancel"
RETRY_ACTION = "job_retry"

REACTIONS = {
    State.QUEUED: "hourglass_flowing_sand",
    State.RUNNING: "hourglass_flowing_sand",
    State.RETRYING: "hourglass_flowing_sand",
    State.SUCCEEDED: "white_check_mark",
    State.FAILED: "x",
    State.CANCELLED: "no_entry_sign",
}

# Failures that retrying the same file cannot change: the reply does not suggest it.
SAME_ANSWER_ON_RETRY = {
    "not_pdf",
    "encrypted",
    "corrupt",
    "too_large",
    "unsupported",
    "not_in_slack",
}

STEP_WORDS = {
    "downloading": "downloading",
    "extracting": "extracting",
    "chunking": "chunking",
    "embedding": "embedding",
    "storing": "storing",
}


def escape(text: str) -> str:
    """Slack reads `&`, `<` and `>` as markup even in a file name: `<!channel>.pdf` must
    mention nobody. Reasons too: a PDF reader's error message can quote the file's bytes."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def progress_bar(percent: int, width: int = 10) -> str:
    filled = max(0, min(width, round(percent * width / 100)))
    return "▓" * filled + "░" * (width - filled)


def build_progress_text(job: Job) -> str:
    """The one line the progress message says; also its notification fallback text."""
    name = f"*{escape(job.file_name)}*"
    if job.state is State.QUEUED:
        return f":hourglass_flowing_sand: {name} is queued — job `{job.id}`"
    if job.state is State.RUNNING:
        step = STEP_WORDS.get(job.step, job.step or "starting")
        detail = f" {escape(job.detail)}" if job.detail else ""
        return f":gear: {name} — {step}{detail} ({job.percent}%) — job `{job.id}`"
    if job.state is State.RETRYING:
        why = f"{escape(job.reason)} ({escape(job.detail)})"
        return f":repeat: {name} — retrying: {why} — job `{job.id}`"
    if job.state is State.SUCCEEDED:
        return f":white_check_mark: {name} — done — job `{job.id}`"
    if job.state is State.FAILED:
        return f":x: {name} — failed: {escape(job.reason)} — job `{job.id}`"
    by = f" by <@{job.cancelled_by}>" if job.cancelled_by else ""
    return f":no_entry_sign: {name} — cancelled{by} — job `{job.id}`"


def build_progress_message(job: Job) -> tuple[str, Blocks]:
    text = build_progress_text(job)
    blocks: Blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if job.state is State.RUNNING:
        blocks.append(_context(f"`{progress_bar(job.percent)}` {job.percent}%"))
    attempt = f" · attempt {job.attempt}" if job.attempt > 1 else ""
    blocks.append(_context(f"Shared by <@{job.user}>{attempt}"))
    buttons = []
    if not job.is_final:
        buttons.append(_button("Cancel", CANCEL_ACTION, job.id, style="danger"))
    elif job.state in (State.FAILED, State.CANCELLED):
        buttons.append(_button("Retry", RETRY_ACTION, job.id, style="primary"))
    if buttons:
        blocks.append({"type": "actions", "block_id": f"job:{job.id}", "elements": buttons})
    return text, blocks


def build_outcome_text(job: Job) -> str:
    """The thread reply that notifies the person: what happened and what to do next."""
    name = f"*{escape(job.file_name)}*"
    if job.state is State.SUCCEEDED:
        lines = [
            f":white_check_mark: Done: {name} — {_count(job.pages, 'page')}, "
            f"{_count(job.words, 'word')}, {_count(job.chunks, 'chunk')} "
            f"in {job.seconds:.1f} s (job `{job.id}`)."
        ]
        lines += [f":warning: {escape(warning)}" for warning in job.warnings]
        return "\n".join(lines)
    if job.state is State.FAILED:
        tried = f" I tried {job.retries + 1} times." if job.retries else ""
        then = (
            ""
            if job.reason_code in SAME_ANSWER_ON_RETRY
            else (f" Then run `/jobs retry {job.id}` or press Retry.")
        )
        reason, hint = escape(job.reason), escape(job.hint)
        return f":x: I could not process {name}: {reason}{tried}\nWhat to do: {hint}{then}"
    by = f" by <@{job.cancelled_by}>" if job.cancelled_by else ""
    return f":no_entry_sign: Job `{job.id}` for {name} was cancelled{by}."


def build_rejection_text(file_name: str, reason: str) -> str:
    return f":warning: I did not queue *{escape(file_name)}*: {reason}"


def build_reshare_text(job: Job) -> str:
    """For a file shared again where it already has a job: one job per file and channel."""
    name = f"*{escape(job.file_name)}*"
    if not job.is_final:
        return f":information_source: {name} is already job `{job.id}` here; see its thread."
    if job.state is State.SUCCEEDED:
        return f":information_source: {name} was already processed here as job `{job.id}`."
    ended = "failed" if job.state is State.FAILED else "was cancelled"
    return (
        f":information_source: {name} is already job `{job.id}` here, which {ended}. "
        f"To run it again: `/jobs retry {job.id}`."
    )


def build_lookup_failed_text(error: str) -> str:
    return (
        ":warning: I did not queue the file you just shared: Slack would not show it to me "
        f"({escape(error)}). Share it again in a few minutes; if this keeps happening, ask "
        "whoever runs docjobs to check that the app has the files:read scope."
    )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _button(label: str, action_id: str, job_id: str, *, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": job_id,
        "style": style,
    }
