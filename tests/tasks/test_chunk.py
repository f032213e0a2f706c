"""Chunking: sizes, overlap, page tags, preferred cut points, determinism."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from docjobs.tasks.chunk import chunk_pages, iter_chunks
from tests.support.pdfs import page_words


def book(pages: int, words: int = 80) -> list[tuple[int, str]]:
    return [(n, " ".join(page_words(n, words))) for n in range(1, pages + 1)]


def numbered(pages: int, words: int) -> list[tuple[int, str]]:
    """Pages of distinct words ("w0001" ...), so any overlap between chunks is unambiguous."""
    return [
        (n, " ".join(f"w{(n - 1) * words + i:04d}" for i in range(words)))
        for n in range(1, pages + 1)
    ]


def shared_overlap(before: str, after: str) -> str:
    """The longest text that ends `before` and starts `after`."""
    for size in range(min(len(before), len(after)), 0, -1):
        if before.endswith(after[:size]):
            return after[:size]
    return ""


def test_chunks_respect_size_and_cover_every_word_in_order() -> None:
    pages = numbered(6, 80)
    chunks = chunk_pages(pages, size=300, overlap=60)

    assert len(chunks) > 6
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert all(0 < len(c.text) <= 300 and c.text.strip() == c.text for c in chunks)
    # Dropping each chunk's overlap with the one before gives back the whole text, in order.
    rebuilt = chunks[0].text.split()
    for before, after in zip(chunks, chunks[1:], strict=False):
        overlap = shared_overlap(before.text, after.text)
        assert 0 < len(overlap) <= 60 and after.text[len(overlap)] in " \n"
        rebuilt += after.text[len(overlap) :].split()
    assert rebuilt == " ".join(text for _, text in pages).split()


def test_chunks_are_tagged_with_the_pages_they_span() -> None:
    chunks = chunk_pages(book(4, words=30), size=250, overlap=40)
    for chunk in chunks:
        markers = [int(w[6:-1]) for w in chunk.text.split() if w.startswith("marker")]
        assert all(chunk.start_page <= m <= chunk.end_page for m in markers)
        assert chunk.start_page <= chunk.end_page
    assert chunks[0].start_page == 1 and chunks[-1].end_page == 4
    assert any(c.start_page < c.end_page for c in chunks)  # some chunk crosses a page


def test_a_cut_prefers_the_end_of_a_paragraph() -> None:
    first = "Alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron"
    second = "Pi rho sigma tau upsilon phi chi psi omega and then some more words follow here"
    chunks = chunk_pages([(1, f"{first}\n\n{second}")], size=120, overlap=0)
    assert chunks[0].text == first
    assert chunks[1].text.startswith("Pi rho")


def test_a_cut_prefers_a_sentence_end_over_a_bare_space() -> None:
    text = "One two three four five six seven eight nine ten. Eleven twelve thirteen fourteen"
    chunks = chunk_pages([(1, text)], size=60, overlap=0)
    assert chunks[0].text.endswith("ten.")


def test_text_without_spaces_is_cut_into_pieces_and_kept_whole() -> None:
    cjk = "".join(chr(0x4E00 + i) for i in range(800))  # 800 distinct ideographs, no spaces
    chunks = chunk_pages([(3, cjk)], size=100, overlap=20)
    assert all(len(c.text) <= 100 for c in chunks)
    assert all(c.start_page == c.end_page == 3 for c in chunks)
    rebuilt = chunks[0].text
    for before, after in zip(chunks, chunks[1:], strict=False):
        overlap = shared_overlap(before.text, after.text)
        assert 0 < len(overlap) <= 20
        rebuilt += after.text[len(overlap) :]
    assert rebuilt == cjk


def test_text_without_spaces_is_cut_after_a_full_stop_in_it() -> None:
    # Pieces of 10 characters (size // 8): the 6th ends a sentence, 60 characters of 80.
    ideographs = [chr(0x4E00 + i) for i in range(200)]
    ideographs[59] = "。"
    text = "".join(ideographs)
    chunks = chunk_pages([(1, text + "\n\nThen words. With spaces.")], size=80, overlap=10)
    assert chunks[0].text == text[:60]
    assert chunks[1].text.startswith(text[50:60])  # the overlap: one piece
    assert chunks[-1].text.endswith("\n\nThen words. With spaces.")


def test_same_input_same_chunks() -> None:
    pages = book(3)
    assert chunk_pages(pages, size=200, overlap=50) == chunk_pages(pages, size=200, overlap=50)


@pytest.mark.parametrize("pages", [[], [(1, "")], [(1, "  \n\n  "), (2, "\t")]])
def test_no_text_gives_no_chunks(pages: list[tuple[int, str]]) -> None:
    assert chunk_pages(pages, size=100, overlap=10) == []


def test_blank_pages_are_skipped_but_page_numbers_kept() -> None:
    chunks = chunk_pages([(1, ""), (2, "   "), (3, "only words here")], size=100, overlap=10)
    assert [(c.text, c.start_page, c.end_page) for c in chunks] == [("only words here", 3, 3)]


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_impossible_sizes_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_pages([(1, "text")], size=size, overlap=overlap)


def test_chunks_come_out_while_later_pages_are_still_unread() -> None:
    """A long document is chunked a page or two at a time, not read whole first."""
    pages = book(100)
    read: list[int] = []

    def reading() -> Iterator[tuple[int, str]]:
        for number, text in pages:
            read.append(number)
            yield number, text

    chunks = iter_chunks(reading(), size=300, overlap=60)
    first = next(chunks)
    assert first.start_page == 1 and len(read) <= 5  # of 100
    assert [first, *chunks] == chunk_pages(pages, size=300, overlap=60)
    assert len(read) == 100
