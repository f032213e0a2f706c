"""The one place that reads the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Slack's own variable names and `REDIS_URL` as they are; everything else is `DOCJOBS_*`."""

    model_config = SettingsConfigDict(
        env_prefix="DOCJOBS_", env_file=".env", extra="ignore", populate_by_name=True
    )

    slack_bot_token: str | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = Field(None, validation_alias="SLACK_API_URL")
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")

    # Where the worker posts outcomes, and the secret both sides sign them with.
    results_url: str = "http://127.0.0.1:8000/results"
    results_secret: str = "docjobs-dev-results-secret"
    results_max_age_s: int = 300

    web_host: str = "127.0.0.1"
    web_port: int = 8000
    sandbox_port: int = 8100
    data_dir: Path = Path("./data")

    # Intake and extraction limits.
    max_file_bytes: int = 50 * 1024 * 1024
    max_pages: int = 5000
    # The most text one job may hold: 5,000 dense pages. A 35 KB file can draw more than
    # that (one compressed stream painted on every page).
    max_text_chars: int = 30_000_000
    min_chars_per_page: int = 20
    # "auto" (pypdfium2, ~10x faster than pypdf, with pypdf reading what pdfium cannot and
    # judging where pdfium reads little) or "pypdf" alone; "pdfium" alone is for comparisons.
    extract_engine: str = "auto"
    chunk_chars: int = 1200
    chunk_overlap: int = 200
    # A PDF of more pages than this is read in parts of up to `split_pages_per_part` pages by
    # several worker processes at once (0: never split). From 100: that is about 5 s of pypdf,
    # long enough that one such PDF among short ones keeps a process busy while others idle.
    split_min_pages: int = 100
    # The same for a PDF that pdfium reads (`auto`, `pdfium`): 300 pages are ~0.4 s of it. A
    # split costs ~0.2 s (the plan, the join) and sends its parts to the back of the queue,
    # so a shorter PDF is quicker read whole.
    split_min_pages_pdfium: int = 300
    split_pages_per_part: int = 100

    # Embedding: "hash" needs no model download; "openai" calls an OpenAI-compatible endpoint.
    embedder: str = "hash"
    embed_url: str = "https://api.openai.com/v1/embeddings"
    embed_api_key: str | None = None
    embed_model: str = "text-embedding-3-small"
    embed_batch: int = 64
    embed_dim: int = 256

    # Celery. The visibility timeout must exceed the hard time limit and the longest retry delay.
    task_soft_time_limit: int = 600
    task_time_limit: int = 660
    max_retries: int = 5
    retry_backoff_base_s: float = 2.0
    retry_backoff_max: int = 300
    visibility_timeout: int = 3600
    worker_concurrency: int = 2
    # How often the worker re-reads the job's state for a cancel (between pages).
    cancel_check_interval_s: float = 0.2
    # A job left `queued` this long without a broker message (the enqueue failed, or the queue
    # is empty: a worker took it and died, or the broker lost it) is sent again.
    requeue_after_s: float = 30.0
    # A running job whose worker lease lapsed this long ago is sent again (its worker died).
    orphan_after_s: float = 60.0
    sweep_interval_s: float = 10.0
    # A worker's lease on its job: renewed every third of this; lapses this long after a kill.
    lease_ttl_s: float = 10.0
    # Address-space cap per worker child (MB): a PDF bomb hits MemoryError, not the OOM killer.
    worker_memory_limit_mb: int = 2048

    # Reporter pacing (Slack: 1 post/s/channel; chat.update is Tier 3, ~50/min).
    progress_edit_interval_s: float = 3.0
    slack_timeout_s: int = 10
    # Events a reporter received but never acknowledged (it died) are taken over after this.
    reporter_claim_after_s: float = 15.0
    chat_update_per_minute: int = 50

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

    def split_min_pages_for(self, reader: str) -> int:
        """The page count past which a PDF `reader` ("pdfium" or "pypdf") reads is split."""
        return self.split_min_pages_pdfium if reader == "pdfium" else self.split_min_pages


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read once per process; tests call `get_settings.cache_clear()` after changing the env."""
    return Settings()
