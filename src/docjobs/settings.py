"""The one place that reads the environment (and `.env`)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AliasGenerator,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

Port = Annotated[int, Field(ge=1, le=65535)]
# Checked here rather than by the HTTP client: a missing scheme would otherwise surface only as
# a job's "a service did not answer" after all its retries.
HttpUrlText = Annotated[str, Field(pattern=r"^https?://[^\s/]+")]


class Settings(BaseSettings):
    """Slack's own variable names and `REDIS_URL` as they are; everything else is `DOCJOBS_*`."""

    model_config = SettingsConfigDict(
        env_prefix="DOCJOBS_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        # The aliases are the variables' own names, so a refused value is reported as
        # DOCJOBS_CHUNK_CHARS rather than as the field name an operator never typed.
        alias_generator=AliasGenerator(validation_alias=lambda name: f"DOCJOBS_{name.upper()}"),
        # An error would otherwise quote its input, and a rule between settings quotes all of
        # them: the Slack tokens and the results secret would end up in the logs.
        hide_input_in_errors=True,
    )

    slack_bot_token: str | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: HttpUrlText | None = Field(None, validation_alias="SLACK_API_URL")
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")

    # Where the worker posts outcomes, and the secret both sides sign them with.
    results_url: HttpUrlText = "http://127.0.0.1:8000/results"
    results_secret: str = Field("docjobs-dev-results-secret", min_length=1)
    results_max_age_s: PositiveInt = 300

    web_host: str = Field("127.0.0.1", min_length=1)
    web_port: Port = 8000
    sandbox_port: Port = 8100
    data_dir: Path = Path("./data")

    # Intake and extraction limits.
    max_file_bytes: PositiveInt = 50 * 1024 * 1024
    max_pages: PositiveInt = 5000
    # The most text one job may hold: 5,000 dense pages. A 35 KB file can draw more than
    # that (one compressed stream painted on every page).
    max_text_chars: PositiveInt = 30_000_000
    min_chars_per_page: NonNegativeInt = 20
    # "auto" (pypdfium2, ~10x faster than pypdf, with pypdf reading what pdfium cannot and
    # judging where pdfium reads little) or "pypdf" alone; "pdfium" alone is for comparisons.
    extract_engine: Literal["auto", "pypdf", "pdfium"] = "auto"
    chunk_chars: PositiveInt = 1200
    chunk_overlap: NonNegativeInt = 200
    # A PDF of more pages than this is read in parts of up to `split_pages_per_part` pages by
    # several worker processes at once (0: never split). From 100: that is about 5 s of pypdf,
    # long enough that one such PDF among short ones keeps a process busy while others idle.
    split_min_pages: NonNegativeInt = 100
    # The same for a PDF that pdfium reads (`auto`, `pdfium`): 300 pages are ~0.4 s of it. A
    # split costs ~0.2 s (the plan, the join) and sends its parts to the back of the queue,
    # so a shorter PDF is quicker read whole.
    split_min_pages_pdfium: NonNegativeInt = 300
    split_pages_per_part: PositiveInt = 100

    # Embedding: "hash" needs no model download; "openai" (or "http") calls an OpenAI-compatible
    # endpoint with `embed_api_key`.
    embedder: Literal["hash", "openai", "http"] = "hash"
    embed_url: HttpUrlText = "https://api.openai.com/v1/embeddings"
    embed_api_key: str | None = None
    embed_model: str = Field("text-embedding-3-small", min_length=1)
    embed_batch: PositiveInt = 64
    embed_dim: PositiveInt = 256

    # Celery. The visibility timeout must exceed the hard time limit and the longest retry delay.
    task_soft_time_limit: PositiveInt = 600
    task_time_limit: PositiveInt = 660
    max_retries: NonNegativeInt = 5
    retry_backoff_base_s: PositiveFloat = 2.0
    retry_backoff_max: PositiveInt = 300
    visibility_timeout: PositiveInt = 3600
    worker_concurrency: PositiveInt = 2
    # How often the worker re-reads the job's state for a cancel (between pages).
    cancel_check_interval_s: NonNegativeFloat = 0.2
    # A job left `queued` this long without a broker message (the enqueue failed, or the queue
    # is empty: a worker took it and died, or the broker lost it) is sent again.
    requeue_after_s: PositiveFloat = 30.0
    # A running job whose worker lease lapsed this long ago is sent again (its worker died).
    orphan_after_s: PositiveFloat = 60.0
    sweep_interval_s: PositiveFloat = 10.0
    # A worker's lease on its job: renewed every third of this; lapses this long after a kill.
    # At least a second: a shorter lease lapses while its holder is merely busy, and Redis
    # refuses one that rounds to 0 ms.
    lease_ttl_s: float = Field(10.0, ge=1.0)
    # Address-space cap per worker child (MB): a PDF bomb hits MemoryError, not the OOM killer.
    worker_memory_limit_mb: NonNegativeInt = 2048

    # Reporter pacing (Slack: 1 post/s/channel; chat.update is Tier 3, ~50/min).
    progress_edit_interval_s: NonNegativeFloat = 3.0
    slack_timeout_s: PositiveInt = 10
    # Events a reporter received but never acknowledged (it died) are taken over after this.
    reporter_claim_after_s: PositiveFloat = 15.0
    chat_update_per_minute: PositiveInt = 50

    @model_validator(mode="after")
    def _check_related_settings(self) -> Self:
        """Rules between settings: each value alone is fine, but together they would fail
        every job later (or run it twice) rather than stop the command now."""
        problems = []
        if self.chunk_overlap >= self.chunk_chars:
            problems.append(
                f"DOCJOBS_CHUNK_OVERLAP ({self.chunk_overlap}) must be less than "
                f"DOCJOBS_CHUNK_CHARS ({self.chunk_chars})"
            )
        if self.task_soft_time_limit >= self.task_time_limit:
            problems.append(
                f"DOCJOBS_TASK_SOFT_TIME_LIMIT ({self.task_soft_time_limit}) must be less than "
                f"DOCJOBS_TASK_TIME_LIMIT ({self.task_time_limit}): past the soft limit a job "
                "fails with a reason; past the hard one its process is killed"
            )
        longest_wait = max(self.task_time_limit, self.retry_backoff_max)
        if self.visibility_timeout <= longest_wait:
            # Redis redelivers any unacked message after the visibility timeout: a task or a
            # retry countdown longer than that runs twice (reference/celery.md, section 1).
            problems.append(
                f"DOCJOBS_VISIBILITY_TIMEOUT ({self.visibility_timeout}) must exceed "
                f"DOCJOBS_TASK_TIME_LIMIT and DOCJOBS_RETRY_BACKOFF_MAX ({longest_wait})"
            )
        if self.embedder != "hash" and not self.embed_api_key:
            problems.append(
                f"DOCJOBS_EMBEDDER={self.embedder} needs DOCJOBS_EMBED_API_KEY "
                "(the embedding service would refuse every job's request)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def store_path(self) -> Path:
        return self.data_dir / "docjobs.sqlite3"

    @property
    def trusted_file_hosts(self) -> tuple[str, ...]:
        """Where, besides Slack's file hosts, the worker may send the bot token: SLACK_API_URL's
        host, which serves the files too when it stands in for Slack (the sandbox)."""
        if not self.slack_api_url:
            return ()
        return (urlsplit(self.slack_api_url).netloc.lower(),)

    @property
    def slack_is_local(self) -> bool:
        """Whether no real Slack is involved: no bot token, or SLACK_API_URL on this machine
        (the sandbox that `make run` and the tests start). Development defaults are safe
        only then."""
        if not self.slack_bot_token:
            return True
        host = urlsplit(self.slack_api_url or "").hostname
        if host is None:
            return False
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def has_development_results_secret(self) -> bool:
        """DOCJOBS_RESULTS_SECRET left at its built-in value, which anyone can read here."""
        return self.results_secret == type(self).model_fields["results_secret"].default

    def split_min_pages_for(self, reader: str) -> int:
        """The page count past which a PDF `reader` ("pdfium" or "pypdf") reads is split."""
        return self.split_min_pages_pdfium if reader == "pdfium" else self.split_min_pages


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read once per process; tests call `get_settings.cache_clear()` after changing the env.

    A refused value stops the command here, with pydantic's message naming the variable and
    no traceback: it is the operator's to fix, not a bug in docjobs."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SystemExit(f"docjobs: invalid settings (environment or .env): {exc}") from exc
