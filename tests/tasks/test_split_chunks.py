"""The pure pieces of a split job: page ranges, range extraction, chunks stitched at the seams
exactly as one pass would cut them, and a part's output packed for Redis and back."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from docjobs.jobs.errors import CorruptPdf, UnsupportedPdf
from docjobs.tasks.chunk import Chunk, chunk_pages
from docjobs.tasks.embed import HashEmbedder, Vectors
from docjobs.tasks.extract import Extraction, PageText, count_pages, extract_pages
from docjobs.tasks.part_chunks import PartChunks, PartLayout, Source, chunk_part, stitch
from docjobs.tasks.part_output import PartOutput, PartRows, PartText, PartTexts
from docjobs.tasks.pipeline import TextCounts, never_cancel
from docjobs.tasks.split_plan import SMALLEST_PART, PartSpec, plan_parts
from tests.support.pdfs import write_pages_pdf, write_pdf_with_broken_pages

ENGINES = ("pypdf", "pdfium", "auto")
WORDS = ["river", "stone.", "lantern", "harbor!", "meadow", "copper;", "violet", "engine"]


def test_page_ranges_cover_every_page_once_and_evenly_with_smaller_last_parts() -> None:
    assert [p.pages for p in plan_parts(1000, per_part=100)] == [92] * 3 + [91] * 7 + [50, 25, 12]
    assert plan_parts(1000, per_part=100)[:2] == [PartSpec(0, 1, 92), PartSpec(1, 93, 184)]
    assert [p.pages for p in plan_parts(201, per_part=100)] == [57, 57, 50, 25, 12]
    assert [p.pages for p in plan_parts(150, per_part=100)] == [100, 50]
    # Parts too small to halve are all even.
    assert [p.pages for p in plan_parts(45, per_part=10)] == [9] * 5
    assert [p.pages for p in plan_parts(207, per_part=50)] == [43, 43, 42, 42, 25, 12]
    for pages, per_part in [(1, 10), (10, 10), (11, 10), (999, 7), (3000, 100), (333, 64)]:
        parts = plan_parts(pages, per_part=per_part)
        numbers = [n for p in parts for n in range(p.first_page, p.last_page + 1)]
        assert numbers == list(range(1, pages + 1))
        assert [p.index for p in parts] == list(range(len(parts)))
        assert max(p.pages for p in parts) <= per_part
        assert min(p.pages for p in parts) >= min(SMALLEST_PART, pages // len(parts))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_page_range_reads_what_the_whole_read_gives_for_those_pages(
    tmp_path: Path, engine: str
) -> None:
    path = write_pages_pdf(tmp_path / "doc.pdf", 12, words_per_page=40)
    whole = extract_pages(path, max_pages=100, engine=engine)
    reader = "pypdf" if engine == "pypdf" else "pdfium"
    assert count_pages(path, engine=engine) == (12, reader)
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


def part_texts(*extractions: Extraction) -> PartTexts:
    """The joiner's view of parts that read these page ranges, through the packed form."""
    packed = [
        PartOutput(ex, chunk_part(ex.page_texts, size=200, overlap=40), [], Vectors()).pack()[0]
        for ex in extractions
    ]
    return PartTexts(
        packed.__getitem__, len(packed), min_chars_per_page=20, should_cancel=never_cancel
    )


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
        part_texts(part, part).counts()
    counts = part_texts(readable, part).counts()
    assert counts.pages == 4 and counts.failed_pages == [3, 4]
    assert counts.words == readable.words and counts.chars == readable.chars


def test_no_readable_page_in_any_part_fails_the_document(tmp_path: Path) -> None:
    empty = extract_pages(write_pages_pdf(tmp_path / "a.pdf", 2), max_pages=9, last_page=1)
    empty.failed_pages = [1]
    with pytest.raises(CorruptPdf):
        part_texts(empty).counts()


def test_counts_summed_over_parts_are_those_of_the_whole(tmp_path: Path) -> None:
    path = write_pdf_with_broken_pages(tmp_path / "doc.pdf", pages=7, broken={5: "corrupt"})
    whole = TextCounts.of(extract_pages(path, max_pages=9))
    ranges = [(1, 3), (4, 4), (5, 7)]
    parts = [extract_pages(path, max_pages=9, first_page=a, last_page=b) for a, b in ranges]
    assert part_texts(*parts).counts() == whole


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


def stitched(
    parts: list[PartChunks], pages: list[list[PageText]], *, size: int, overlap: int
) -> tuple[list[Chunk], list[Source | None]]:
    """The document's chunks as the joiner finds them, and which part chunk each one is."""
    layouts = (
        PartLayout(texts, part.word_counts, part.spans)
        for part, texts in zip(parts, pages, strict=True)
    )
    chunks: list[Chunk] = []
    sources: list[Source | None] = []
    for found in stitch(layouts, size=size, overlap=overlap):
        if isinstance(found, Source):
            # Only the last part stores (and embeds) its last chunk: the others' run on.
            stored = len(parts[found.part].chunks) - (found.part < len(parts) - 1)
            assert found.chunk < stored, found
            made = parts[found.part].chunks[found.chunk]
            chunks.append(Chunk(len(chunks), made.text, made.start_page, made.end_page))
            sources.append(found)
        else:
            chunks.append(found)
            sources.append(None)
    return chunks, sources


@pytest.mark.parametrize("seed", range(60))
def test_stitched_chunks_are_exactly_those_of_one_pass(seed: int) -> None:
    rng = random.Random(seed)
    pages = random_pages(rng, rng.randint(1, 30))
    if seed % 5 == 0:  # blank pages, and so parts with no words at all
        pages = [PageText(p.number, "") if rng.random() < 0.6 else p for p in pages]
    size = rng.choice([60, 200, 400, 1200])
    overlap = rng.choice([0, size // 6, size // 2, size - 1])
    cuts = sorted(rng.sample(range(1, len(pages)), min(len(pages) - 1, rng.randint(0, 6))))
    bounds = list(zip([0, *cuts], [*cuts, len(pages)], strict=True))
    parts = [chunk_part(pages[a:b], size=size, overlap=overlap) for a, b in bounds]
    chunks, _ = stitched(parts, [pages[a:b] for a, b in bounds], size=size, overlap=overlap)
    assert chunks == chunk_pages(pages, size=size, overlap=overlap)


def test_most_chunks_come_from_the_parts() -> None:
    pages = random_pages(random.Random(7), 60)
    parts = [chunk_part(pages[i : i + 10], size=400, overlap=80) for i in range(0, 60, 10)]
    texts = [pages[i : i + 10] for i in range(0, 60, 10)]
    chunks, sources = stitched(parts, texts, size=400, overlap=80)
    cut_at_seams = sum(source is None for source in sources)
    assert cut_at_seams < len(chunks) // 3


def test_the_joiner_holds_only_the_parts_it_is_at() -> None:
    pages = random_pages(random.Random(3), 200)
    bounds = [(i, i + 10) for i in range(0, 200, 10)]
    parts = [chunk_part(pages[a:b], size=400, overlap=80) for a, b in bounds]
    read: list[int] = []

    def layouts() -> Iterator[PartLayout]:
        for n, ((a, b), part) in enumerate(zip(bounds, parts, strict=True)):
            read.append(n)
            yield PartLayout(pages[a:b], part.word_counts, part.spans)

    found = 0
    for entry in stitch(layouts(), size=400, overlap=80):
        part = entry.part if isinstance(entry, Source) else None
        # never more than two parts ahead of the chunk being handed out
        assert part is None or read[-1] <= part + 2
        found += 1
    assert found == len(chunk_pages(pages, size=400, overlap=80))


def test_a_part_output_survives_the_trip_through_redis(tmp_path: Path) -> None:
    path = write_pdf_with_broken_pages(tmp_path / "doc.pdf", pages=5, broken={2: "corrupt"})
    extraction = extract_pages(path, max_pages=9, first_page=2, last_page=4)
    chunked = chunk_part(extraction.page_texts, size=200, overlap=40)
    vectors = Vectors()
    vectors.extend(HashEmbedder(16).embed([c.text for c in chunked.chunks[:-1]]))
    packed_text, packed_rows = PartOutput(extraction, chunked, chunked.chunks[:-1], vectors).pack()

    text = PartText.unpack(packed_text, min_chars_per_page=20)
    assert list(text.layout.pages) == extraction.page_texts
    assert (text.layout.word_counts, text.layout.spans) == (chunked.word_counts, chunked.spans)
    assert text.counts == TextCounts.of(extraction)
    assert text.counts.failed_pages == [2] and text.unreadable is None

    rows = PartRows.unpack(packed_rows)
    assert len(rows.vectors) == len(vectors) == len(chunked.chunks) - 1
    for i, chunk in enumerate(chunked.chunks[:-1]):
        stored, vector = rows.row(i, index=100 + i)
        assert stored == Chunk(100 + i, chunk.text, chunk.start_page, chunk.end_page)
        assert vector == vectors.blob(i)
