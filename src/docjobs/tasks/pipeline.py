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
from docjobs.tasks.embed import Embedder, Vectors, build_embedder
from docjobs.tasks.extract import Extraction, extract_pages, is_low_text
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


@dataclass
class TextCounts:
    """What a document's text adds up to, without the text: one part's or several parts' sum."""

    pages: int = 0
    words: int = 0
    chars: int = 0
    failed_pages: list[int] = field(default_factory=list)
    image_pages: int = 0
    min_chars_per_page: int = 20

    @classmethod
    def of(cls, extraction: Extraction) -> TextCounts:
        return cls(
            extraction.pages,
            extraction.words,
            extraction.chars,
            list(extraction.failed_pages),
            extraction.image_pages,
            extraction.min_chars_per_page,
        )

    def add(self, other: TextCounts) -> None:
        """Count `other`'s pages too (the pages after these)."""
        self.pages += other.pages
        self.words += other.words
        self.chars += other.chars
        self.failed_pages.extend(other.failed_pages)
        self.image_pages += other.image_pages

    # As Extraction.low_text and .no_text_layer, for counts summed over parts.
    @property
    def low_text(self) -> bool:
        return is_low_text(self)

    @property
    def no_text_layer(self) -> bool:
        return is_low_text(self) and self.image_pages > 0


def extraction_warnings(counts: TextCounts) -> list[str]:
    """Short sentences for a person about what the extraction could not do."""
    warnings = []
    if counts.failed_pages:
        warnings.append(f"{len(counts.failed_pages)} of {counts.pages} pages could not be read.")
    if counts.no_text_layer:
        warnings.append(NO_TEXT_LAYER)
    elif counts.low_text:
        warnings.append(
            f"This PDF has very little text ({counts.chars} characters), "
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

    extraction = extract_pages(
        source_path,
        max_pages=settings.max_pages,
        on_page=on_page,
        should_cancel=should_cancel,
        min_chars_per_page=settings.min_chars_per_page,
        engine=engine,
        max_chars=settings.max_text_chars,
    )
    stop_if_cancelled(should_cancel)
    counts = TextCounts.of(extraction)
    on_progress("chunking", overall_percent("chunking", 0, 1), _count(counts.words, "word"))
    # The chunker holds a page or two of words at a time; the chunks themselves are kept
    # (their text is stored) with their vectors packed beside them.
    chunks = chunk_pages(
        extraction.page_texts, size=settings.chunk_chars, overlap=settings.chunk_overlap
    )
    del extraction  # the pages' text is in the chunks now
    vectors = embed_chunks(
        chunks,
        embedder,
        batch=settings.embed_batch,
        on_progress=on_progress,
        should_cancel=should_cancel,
    )
    stop_if_cancelled(should_cancel)
    on_progress("storing", overall_percent("storing", 0, 1), _count(len(chunks), "chunk"))
    store.write(job_id, ((chunk, vectors.blob(i)) for i, chunk in enumerate(chunks)))
    on_progress("storing", 100, f"{_count(len(chunks), 'chunk')} stored")
    return succeeded(counts, chunks=len(chunks), job_id=job_id, started=started)


def succeeded(counts: TextCounts, *, chunks: int, job_id: str, started: float) -> Outcome:
    """The Outcome of a job whose chunks are stored; `started` is a `time.monotonic()` value."""
    seconds = time.monotonic() - started
    logger.info(
        "job %s: %d pages, %d words, %d chunks in %.1fs",
        job_id,
        counts.pages,
        counts.words,
        chunks,
        seconds,
    )
    return Outcome(
        status="succeeded",
        pages=counts.pages,
        words=counts.words,
        chars=counts.chars,
        chunks=chunks,
        failed_pages=counts.failed_pages,
        warnings=extraction_warnings(counts),
        seconds=round(seconds, 3),
    )


def embed_chunks(
    chunks: Sequence[Chunk],
    embedder: Embedder,
    *,
    batch: int,
    on_progress: ProgressFn,
    should_cancel: CancelFn,
) -> Vectors:
    """Vectors for `chunks`, packed, a batch at a time, checking for a cancel between batches."""
    vectors = Vectors()
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
