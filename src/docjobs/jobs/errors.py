"""Job errors: each carries a sentence for a person and whether trying again can help."""

from __future__ import annotations


class JobError(Exception):
    """Base of every failure a job can end in."""

    code = "error"
    retryable = False
    user_message = "Something went wrong while processing this file."
    hint = "Try again later, or ask an admin to check the worker logs."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.user_message)
        self.detail = detail or self.user_message

    @property
    def sentence(self) -> str:
        """What a person reads: the kind of failure, then the particulars if there are any."""
        if self.detail == self.user_message:
            return self.user_message
        return f"{self.user_message} {self.detail}"


# --- permanent: trying again gives the same answer -------------------------------------------


class NotAPdf(JobError):
    code = "not_pdf"
    user_message = "This file is not a PDF."
    hint = "Share the document as a PDF (File > Export as PDF) and I will pick it up."


class PasswordProtected(JobError):
    code = "encrypted"
    user_message = "This PDF is password-protected, so I cannot read it."
    hint = "Share a copy without a password (print to PDF, or remove the password)."


class CorruptPdf(JobError):
    code = "corrupt"
    user_message = "This PDF is damaged and could not be read."
    hint = "Open it in a PDF viewer and save or export it again, then share the new copy."


class TooLarge(JobError):
    code = "too_large"
    user_message = "This PDF is too large to process."
    hint = "Split it into smaller files and share those."


class UnsupportedPdf(JobError):
    code = "unsupported"
    user_message = "This PDF uses a feature I cannot read."
    hint = "Print it to a new PDF and share that copy."


class FileUnavailable(JobError):
    code = "file_unavailable"
    user_message = "Slack would not give me the file."
    hint = "Check that the app is in this channel and has the files:read scope, then retry."


class NotInSlack(FileUnavailable):
    """A link outside Slack's file hosts: the bot token must not go there."""

    code = "not_in_slack"
    user_message = "The file is not stored in Slack."
    hint = "Save it as a PDF, upload that file to Slack and share it."


class Cancelled(JobError):
    code = "cancelled"
    user_message = "The job was cancelled."
    hint = "Use /jobs retry to run it again."


# --- transient: worth another attempt --------------------------------------------------------


class EmbeddingRejected(JobError):
    """The embedding service refused the request itself: retrying will not help."""

    code = "embedding_rejected"
    user_message = "The embedding service refused the request."
    hint = "Ask an admin to check the embedding settings (URL, API key, model)."


class TransientError(JobError):
    code = "transient"
    retryable = True
    user_message = "A service I depend on did not answer in time."
    hint = "I will retry on my own."

    def __init__(self, detail: str | None = None, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        # Seconds the other side asked us to wait (Retry-After), if it said.
        self.retry_after = retry_after


class DownloadFailed(TransientError):
    code = "download_failed"
    user_message = "Downloading the file from Slack failed."


class EmbeddingUnavailable(TransientError):
    code = "embedding_unavailable"
    user_message = "The embedding service is unavailable."


class ResultNotDelivered(TransientError):
    code = "result_not_delivered"
    user_message = "The results service could not be reached."


def error_for_code(code: str) -> type[JobError]:
    """The error class for a stored code, so a reason can be re-rendered later."""
    stack: list[type[JobError]] = [JobError]
    while stack:
        cls = stack.pop()
        if cls.code == code:
            return cls
        stack.extend(cls.__subclasses__())
    return JobError
