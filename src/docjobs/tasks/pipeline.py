"""The pipeline: extract, chunk, embed, store, with one overall percent for the whole job."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from docjobs.jobs.errors import Cancelled, JobError, TooLarge
from docjobs.settings import Settings
from docjobs.tasks.chunk import Chunk, chunk_pages
from docjobs.tasks.download import HEAD_BYTES, check_pdf_head, format_mb
from docjobs.tasks.embed import Embedder, build_embedder
from docjobs.tasks.extract import Extraction, extract_pages
from docjobs.tasks.progress import (
    CancelFn,
    ProgressFn,
    ignore_progress,
    never_cancel,
    overall_percent,
)
from docjobs.tasks.store import ChunkStore

logger = logging.getLogger(__name__)

NO_TEXT_LAYER = (
    "This PDF has no text layer (it looks like a scan), so there was little or no text to index."
)


@dataclass
class Outcome:
    """How a job ended, in numbers and sentences; `to_dict()` is what the CLI prints."""

    status: str  # "succeeded", "failed" or "cancelled"
    pages: int = 0
    words: int = 0
    chars: int = 0
    chunks: int = 0
    failed_pages: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reason_code: str = ""
    reason: str = ""
    hint: str = ""
    retryable: bool = False
    seconds: float = 0.0

    @classmethod
    def from_error(cls, exc: JobError, *, seconds: float) -> Outcome:
        return cls(
            status="cancelled" if isinstance(exc, Cancelled) else "failed",
            reason_code=exc.code,
            reason=exc.detail,
            hint=exc.hint,
            retryable=exc.retryable,
            seconds=round(seconds, 3),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def extraction_warnings(extraction: Extraction) -> list[str]:
    """Short sentences for a person about what the extraction could not do."""
    warnings = []
    if extraction.failed_pages:
        failed, total = len(extraction.failed_pages), extraction.pages
        warnings.append(f"{failed} of {total} pages could not be read.")
    if extraction.no_text_layer:
        warnings.append(NO_TEXT_LAYER)
    elif extraction.low_text:
        warnings.append(
            f"This PDF has very little text ({extraction.chars} characters), "
            "so there was little to index."
        )
    return warnings


def run_pipeline(
    source_path: Path,
    *,
    job_id: str,
    settings: Settings,
    on_progress: ProgressFn,
    should_cancel: CancelFn,
    embedder: Embedder | None = None,
    store: ChunkStore | None = None,
    engine: str = "pypdf",
) -> Outcome:
    """Turn a downloaded PDF into stored, embedded chunks; raise a JobError if it cannot."""
    started = time.monotonic()
    embedder = embedder or build_embedder(settings)
    store = store or _default_store(settings)
    last_percent = -1
    # Page-level log lines name the file; this line ties the file to the job.
    logger.info("job %s: extracting %s (engine %s)", job_id, Path(source_path).name, engine)

    def on_page(done: int, total: int) -> None:
        nonlocal last_percent
        percent = overall_percent("extracting", done, total)
        if percent != last_percent or done == total:
            last_percent = percent
            on_progress("extracting", percent, f"page {done} of {total}")

    try:
        extraction = extract_pages(
            source_path,
            max_pages=settings.max_pages,
            on_page=on_page,
            should_cancel=should_cancel,
            min_chars_per_page=settings.min_chars_per_page,
            engine=engine,
        )
        stop_if_cancelled(should_cancel)
        on_progress("chunking", overall_percent("chunking", 0, 1), _count(extraction.words, "word"))
        chunks = chunk_pages(
            extraction.page_texts, size=settings.chunk_chars, overlap=settings.chunk_overlap
        )
        return index_chunks(
            extraction,
            chunks,
            [None] * len(chunks),
            job_id=job_id,
            settings=settings,
            on_progress=on_progress,
            should_cancel=should_cancel,
            embedder=embedder,
            store=store,
            started=started,
        )
    except Cancelled:
        store.delete(job_id)  # a cancelled job leaves nothing behind, whatever ran before
        raise


def index_chunks(
    extraction: Extraction,
    chunks: list[Chunk],
    vectors: Sequence[list[float] | None],
    *,
    job_id: str,
    settings: Settings,
    on_progress: ProgressFn,
    should_cancel: CancelFn,
    embedder: Embedder,
    store: ChunkStore,
    started: float,
) -> Outcome:
    """The steps after chunking: embed the chunks that have no vector yet (None), store them
    all as the job's chunks, and say how it went. `started` is a `time.monotonic()` value."""
    missing = [i for i, vector in enumerate(vectors) if vector is None]
    embedded = embed_chunks(
        [chunks[i] for i in missing],
        embedder,
        batch=settings.embed_batch,
        on_progress=on_progress,
        should_cancel=should_cancel,
    )
    fresh = iter(embedded)
    complete = [vector if vector is not None else next(fresh) for vector in vectors]
    stop_if_cancelled(should_cancel)
    on_progress("storing", overall_percent("storing", 0, 1), _count(len(chunks), "chunk"))
    store.replace(job_id, chunks, complete)
    on_progress("storing", 100, f"{_count(len(chunks), 'chunk')} stored")
    seconds = time.monotonic() - started
    logger.info(
        "job %s: %d pages, %d words, %d chunks in %.1fs",
        job_id,
        extraction.pages,
        extraction.words,
        len(chunks),
        seconds,
    )
    return Outcome(
        status="succeeded",
        pages=extraction.pages,
        words=extraction.words,
        chars=extraction.chars,
        chunks=len(chunks),
        failed_pages=extraction.failed_pages,
        warnings=extraction_warnings(extraction),
        seconds=round(seconds, 3),
    )


def embed_chunks(
    chunks: list[Chunk],
    embedder: Embedder,
    *,
    batch: int,
    on_progress: ProgressFn,
    should_cancel: CancelFn,
) -> list[list[float]]:
    """Vectors for `chunks`, a batch at a time, checking for a cancel between batches."""
    vectors: list[list[float]] = []
    batch = max(1, batch)
    for i in range(0, len(chunks), batch):
        stop_if_cancelled(should_cancel)
        vectors.extend(embedder.embed([chunk.text for chunk in chunks[i : i + batch]]))
        done = min(i + batch, len(chunks))
        percent = overall_percent("embedding", done, len(chunks))
        on_progress("embedding", percent, f"chunk {done} of {len(chunks)}")
    return vectors


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def stop_if_cancelled(should_cancel: CancelFn) -> None:
    if should_cancel():
        raise Cancelled()


def _default_store(settings: Settings) -> ChunkStore:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return ChunkStore(settings.store_path)


def local_job_id(path: Path) -> str:
    """A stable job id for a local file: the same bytes always get the same id."""
    digest = hashlib.sha1()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"local-{digest.hexdigest()[:10]}"


def process_local_file(
    path: Path,
    *,
    settings: Settings,
    on_progress: ProgressFn | None = None,
    embedder: Embedder | None = None,
    store: ChunkStore | None = None,
    engine: str = "pypdf",
) -> Outcome:
    """Run a file on disk through the worker's checks and pipeline; a bad PDF is an Outcome."""
    started = time.monotonic()
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > settings.max_file_bytes:
            limit = settings.max_file_bytes
            raise TooLarge(f"The file is {format_mb(size)}; the limit is {format_mb(limit)}.")
        with path.open("rb") as handle:
            check_pdf_head(handle.read(HEAD_BYTES))
        return run_pipeline(
            path,
            job_id=local_job_id(path),
            settings=settings,
            on_progress=on_progress or ignore_progress,
            should_cancel=never_cancel,
            embedder=embedder,
            store=store,
            engine=engine,
        )
    except JobError as exc:
        logger.info("%s: %s (%s)", path.name, exc.code, exc.detail)
        return Outcome.from_error(exc, seconds=time.monotonic() - started)
