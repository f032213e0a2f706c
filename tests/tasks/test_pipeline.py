"""The whole pipeline on generated PDFs: outcome, progress, idempotence, cancel, bad input."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from docjobs.jobs.errors import Cancelled, EmbeddingUnavailable, PasswordProtected
from docjobs.settings import Settings
from docjobs.tasks.embed import Embedder, HashEmbedder, HttpEmbedder
from docjobs.tasks.pipeline import NO_TEXT_LAYER, Outcome, process_local_file, run_pipeline
from docjobs.tasks.progress import STEPS
from docjobs.tasks.store import ChunkStore
from tests.support.pdfs import (
    write_encrypted_pdf,
    write_image_pdf,
    write_pages_pdf,
    write_pdf_with_broken_pages,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", chunk_chars=400, chunk_overlap=80)


@pytest.fixture
def store(settings: Settings) -> ChunkStore:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return ChunkStore(settings.store_path)


Progress = list[tuple[str, int, str]]


def never() -> bool:
    return False


def run(
    path: Path,
    settings: Settings,
    store: ChunkStore,
    progress: Progress | None = None,
    *,
    should_cancel: Callable[[], bool] = never,
    embedder: Embedder | None = None,
) -> Outcome:
    events: Progress = progress if progress is not None else []
    return run_pipeline(
        path,
        job_id="J1",
        settings=settings,
        on_progress=lambda *event: events.append(event),
        should_cancel=should_cancel,
        embedder=embedder,
        store=store,
    )


def test_a_text_pdf_ends_stored_with_counts_and_full_progress(
    tmp_path: Path, settings: Settings, store: ChunkStore
) -> None:
    path = write_pages_pdf(tmp_path / "seven.pdf", 7)
    progress: Progress = []

    outcome = run(path, settings, store, progress)

    assert outcome.status == "succeeded"
    assert (outcome.pages, outcome.failed_pages, outcome.warnings) == (7, [], [])
    assert outcome.words >= 7 * 60 and outcome.chars > outcome.words
    assert outcome.chunks == store.count("J1") > 7  # 400-character chunks of ~450-char pages
    stored = store.load("J1")
    assert all(len(s.vector) == settings.embed_dim for s in stored)
    assert {s.chunk.start_page for s in stored} == set(range(1, 8))
    # progress: steps in order, percent never going back, ending at 100
    steps = [step for step, _, _ in progress]
    assert [s for s in STEPS if s in steps] == sorted(set(steps), key=STEPS.index)
    assert steps.index("extracting") < steps.index("embedding") < steps.index("storing")
    percents = [pct for _, pct, _ in progress]
    assert percents == sorted(percents) and percents[-1] == 100
    assert ("extracting", 70, "page 7 of 7") in progress
    assert all(10 < pct <= 70 for step, pct, _ in progress if step == "extracting")
    assert outcome.to_dict()["status"] == "succeeded"


def test_running_the_same_job_again_does_not_double_its_chunks(
    tmp_path: Path, settings: Settings, store: ChunkStore
) -> None:
    path = write_pages_pdf(tmp_path / "three.pdf", 3)
    first = run(path, settings, store)
    second = run(path, settings, store)
    assert first.chunks == second.chunks == store.count("J1")


def test_cancel_during_extraction_stores_nothing(
    tmp_path: Path, settings: Settings, store: ChunkStore
) -> None:
    """(What a cancelled job's earlier output becomes is the task's to decide: it alone knows
    whether the job was cancelled or went on to another attempt; tests/tasks/test_job_runs.py.)"""
    path = write_pages_pdf(tmp_path / "ten.pdf", 10)
    progress: Progress = []

    with pytest.raises(Cancelled):
        run(path, settings, store, progress, should_cancel=lambda: len(progress) >= 4)

    assert store.count("J1") == 0
    assert [step for step, _, _ in progress] == ["extracting"] * 4


def test_cancel_after_extraction_stops_before_storing(
    tmp_path: Path, settings: Settings, store: ChunkStore
) -> None:
    path = write_pages_pdf(tmp_path / "two.pdf", 2)
    progress: Progress = []
    with pytest.raises(Cancelled):
        run(
            path,
            settings,
            store,
            progress,
            should_cancel=lambda: any(step == "chunking" for step, _, _ in progress),
        )
    assert store.count("J1") == 0
    assert "storing" not in {step for step, _, _ in progress}


def test_a_scan_succeeds_with_the_no_text_warning(
    tmp_path: Path, settings: Settings, store: ChunkStore
) -> None:
    outcome = run(write_image_pdf(tmp_path / "scan.pdf", 2), settings, store)
    assert outcome.status == "succeeded"
    assert outcome.warnings == [NO_TEXT_LAYER]
    assert outcome.chunks == 0 == store.count("J1")


def test_a_broken_page_becomes_a_warning(
    tmp_path: Path, settings: Settings, store: ChunkStore
) -> None:
    path = write_pdf_with_broken_pages(tmp_path / "p2.pdf", pages=3, broken={2: "corrupt"})
    outcome = run(path, settings, store)
    assert outcome.status == "succeeded" and outcome.failed_pages == [2]
    assert outcome.warnings == ["1 of 3 pages could not be read."]


def test_an_unreachable_embedding_service_fails_retryably(
    tmp_path: Path, settings: Settings, store: ChunkStore
) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(503)))
    embedder = HttpEmbedder(
        "http://embed/v1/embeddings", None, "m", client=client, max_attempts=2, sleep=lambda s: None
    )
    with pytest.raises(EmbeddingUnavailable) as caught:
        run(write_pages_pdf(tmp_path / "a.pdf", 1), settings, store, embedder=embedder)
    assert caught.value.retryable
    assert store.count("J1") == 0


def test_errors_propagate_from_run_pipeline(
    tmp_path: Path, settings: Settings, store: ChunkStore
) -> None:
    path = write_encrypted_pdf(tmp_path / "locked.pdf", user_password="pw")
    with pytest.raises(PasswordProtected):
        run(path, settings, store, embedder=HashEmbedder(8))


def test_process_local_file_stores_under_an_id_from_the_files_bytes(
    tmp_path: Path, settings: Settings
) -> None:
    path = write_pages_pdf(tmp_path / "doc.pdf", 2)
    job_id = "local-" + hashlib.sha1(path.read_bytes()).hexdigest()[:10]

    outcome = process_local_file(path, settings=settings)
    again = process_local_file(path, settings=settings)

    assert outcome.status == again.status == "succeeded" and outcome.pages == 2
    assert ChunkStore(settings.store_path).count(job_id) == outcome.chunks > 0


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"Quarterly report\nRevenue: 12\n", "not_pdf"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "not_pdf"),
        (b"", "corrupt"),
        (b"%PDF-1.7\n" + b"\x00garbage" * 50, "corrupt"),
    ],
)
def test_process_local_file_turns_bad_input_into_a_failed_outcome(
    tmp_path: Path, settings: Settings, content: bytes, code: str
) -> None:
    path = tmp_path / "input.pdf"
    path.write_bytes(content)
    outcome = process_local_file(path, settings=settings)
    assert (outcome.status, outcome.reason_code, outcome.retryable) == ("failed", code, False)
    assert outcome.reason and outcome.hint


def test_process_local_file_refuses_a_file_over_the_size_limit(
    tmp_path: Path, settings: Settings
) -> None:
    path = write_pages_pdf(tmp_path / "doc.pdf", 3)
    small = settings.model_copy(update={"max_file_bytes": path.stat().st_size - 1})
    outcome = process_local_file(path, settings=small)
    assert (outcome.status, outcome.reason_code) == ("failed", "too_large")


def test_process_local_file_reports_a_password(tmp_path: Path, settings: Settings) -> None:
    path = write_encrypted_pdf(tmp_path / "locked.pdf", user_password="pw")
    outcome = process_local_file(path, settings=settings)
    assert (outcome.status, outcome.reason_code) == ("failed", "encrypted")
    assert "password" in outcome.reason
