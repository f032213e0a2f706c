"""The pure pieces of a split job: page ranges, range extraction, chunks stitched at the seams
exactly as one pass would cut them, and a part's output packed for Redis and back."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from docjobs.jobs.errors import CorruptPdf, UnsupportedPdf
from docjobs.tasks.chunk import chunk_pages
from docjobs.tasks.embed import HashEmbedder
from docjobs.tasks.extract import PageText, count_pages, extract_pages
from docjobs.tasks.part_chunks import chunk_part, stitch
from docjobs.tasks.part_output import PartOutput, merge_extractions
from docjobs.tasks.split_plan import PartSpec, plan_parts
from tests.support.pdfs import write_pages_pdf, write_pdf_with_broken_pages

ENGINES = ("pypdf", "pdfium", "auto")
WORDS = ["river", "stone.", "lantern", "harbor!", "meadow", "copper;", "violet", "engine"]


def test_page_ranges_cover_every_page_once_and_evenly() -> None:
    assert plan_parts(1000, per_part=100) == [
        PartSpec(i, 100 * i + 1, 100 * i + 100) for i in range(10)
    ]
    parts = plan_parts(201, per_part=100)
    assert [p.pages for p in parts] == [67, 67, 67]
    assert [p.pages for p in plan_parts(207, per_part=50)] == [42, 42, 41, 41, 41]
    for pages, per_part in [(1, 10), (10, 10), (11, 10), (999, 7)]:
        parts = plan_parts(pages, per_part=per_part)
        numbers = [n for p in parts for n in range(p.first_page, p.last_page + 1)]
        assert numbers == list(range(1, pages + 1))
        assert max(p.pages for p in parts) <= per_part


@pytest.mark.parametrize("engine", ENGINES)
def test_a_page_range_reads_what_the_whole_read_gives_for_those_pages(
    tmp_path: Path, engine: str
) -> None:
    path = write_pages_pdf(tmp_path / "doc.pdf", 12, words_per_page=40)
    whole = extract_pages(path, max_pages=100, engine=engine)
    assert count_pages(path, engine=engine) == 12
    seen: list[tuple[int, int]] = []
    part = extract_pages(
        path,
        max_pages=100,
        engine=engine,
        first_page=5,
        last_page=8,
        on_page=lambda done, total: seen.append((done, total)),
    )
    assert part.page_texts == whole.page_texts[4:8]
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    tail = extract_pages(path, max_pages=100, engine=engine, first_page=11, last_page=99)
    assert [p.number for p in tail.page_texts] == [11, 12]


def test_a_range_of_unreadable_pages_is_not_an_error_by_itself(tmp_path: Path) -> None:
    path = write_pdf_with_broken_pages(
        tmp_path / "broken.pdf", pages=6, broken={3: "unsupported", 4: "unsupported"}
    )
    part = extract_pages(path, max_pages=100, first_page=3, last_page=4)
    assert part.failed_pages == [3, 4]
    assert isinstance(part.unreadable, UnsupportedPdf)
    assert "none of the 6 pages" in part.unreadable.detail
    readable = extract_pages(path, max_pages=100, first_page=1, last_page=2)
    with pytest.raises(UnsupportedPdf):
        merge_extractions([part, part], min_chars_per_page=20)
    merged = merge_extractions([readable, part], min_chars_per_page=20)
    assert merged.pages == 4 and merged.failed_pages == [3, 4]


def test_no_readable_page_in_any_part_fails_the_document(tmp_path: Path) -> None:
    empty = extract_pages(write_pages_pdf(tmp_path / "a.pdf", 2), max_pages=9, last_page=1)
    empty.failed_pages = [1]
    with pytest.raises(CorruptPdf):
        merge_extractions([empty], min_chars_per_page=20)


def random_pages(rng: random.Random, count: int) -> list[PageText]:
    pages = []
    for number in range(1, count + 1):
        words: list[str] = []
        for _ in range(rng.choice([0, 1, 5, 40, 150, 400])):
            roll = rng.random()
            if roll < 0.01:
                words.append("長い単語" * rng.choice([30, 200]))  # longer than a chunk
            elif roll < 0.05:
                words.append("\n\n")
            else:
                words.append(rng.choice(WORDS))
        pages.append(PageText(number, " ".join(words)))
    return pages


@pytest.mark.parametrize("seed", range(40))
def test_stitched_chunks_are_exactly_those_of_one_pass(seed: int) -> None:
    rng = random.Random(seed)
    pages = random_pages(rng, rng.randint(1, 30))
    size = rng.choice([60, 200, 400, 1200])
    overlap = rng.choice([0, size // 6, size // 2, size - 1])
    cuts = sorted(rng.sample(range(1, len(pages)), min(len(pages) - 1, rng.randint(0, 6))))
    bounds = [0, *cuts, len(pages)]
    parts = [
        chunk_part(pages[a:b], size=size, overlap=overlap)
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    chunks, sources = stitch(parts, pages, size=size, overlap=overlap)
    assert chunks == chunk_pages(pages, size=size, overlap=overlap)
    for chunk, source in zip(chunks, sources, strict=True):
        if source is not None:
            made = parts[source.part].chunks[source.chunk]
            assert (made.text, made.start_page, made.end_page) == (
                chunk.text,
                chunk.start_page,
                chunk.end_page,
            )


def test_most_chunks_come_from_the_parts() -> None:
    pages = random_pages(random.Random(7), 60)
    parts = [chunk_part(pages[i : i + 10], size=400, overlap=80) for i in range(0, 60, 10)]
    chunks, sources = stitch(parts, pages, size=400, overlap=80)
    cut_at_seams = sum(source is None for source in sources)
    assert cut_at_seams < len(chunks) // 3


def test_a_part_output_survives_the_trip_through_redis(tmp_path: Path) -> None:
    path = write_pdf_with_broken_pages(tmp_path / "doc.pdf", pages=5, broken={2: "corrupt"})
    extraction = extract_pages(path, max_pages=9, first_page=2, last_page=4)
    chunked = chunk_part(extraction.page_texts, size=200, overlap=40)
    vectors = HashEmbedder(16).embed([c.text for c in chunked.chunks[:-1]])
    back = PartOutput.unpack(PartOutput(extraction, chunked, vectors).pack(), min_chars_per_page=20)
    assert back.extraction.page_texts == extraction.page_texts
    assert back.extraction.failed_pages == [2]
    assert back.extraction.engine == "pypdf"
    assert back.chunked == chunked
    assert len(back.vectors) == len(vectors) == len(chunked.chunks) - 1
    for got, want in zip(back.vectors, vectors, strict=True):
        assert got == pytest.approx(want, abs=1e-6)
