"""Chunking a split job so that the chunks are exactly those of one pass over the whole PDF.

Each part chunks its own page range from its first word. The chunker is a chain: where a
chunk starts decides where it ends and where the next one starts, looking only forward. So a
part's chain is the document's chain from the first start they share on, and they meet within
a page or two (a page break is a paragraph break, where both chains like to cut). The joiner
walks the document's chain, cutting the few chunks around each seam itself and taking every
other chunk, and its vector, from the part that made it. If two chains never met, the joiner
would simply cut that whole part itself: slower, never different.

The joiner reads the parts in page order as its walk reaches them and lets go of those it
has passed, so it holds a part or two at a time however long the document is.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import NamedTuple

from docjobs.tasks.chunk import Chunk, Span, WordStream, chain, piece_size
from docjobs.tasks.extract import PageText


@dataclass
class PartChunks:
    """One page range chunked on its own; spans are (start, end) word numbers in the range."""

    word_counts: list[int]  # per page of the range
    spans: list[tuple[int, int]]
    chunks: list[Chunk]

    @property
    def words(self) -> int:
        return sum(self.word_counts)


@dataclass
class PartLayout:
    """Where a part's words and chunks lie: what the joiner needs of it to walk the chain."""

    pages: Sequence[PageText]
    word_counts: list[int]  # per page
    spans: list[tuple[int, int]]  # of the part's chunks, in word numbers of the range
    _starts: dict[int, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    @cached_property
    def words(self) -> int:
        return sum(self.word_counts)

    @cached_property
    def page_starts(self) -> list[int]:
        """The number of each page's first word (and, last, the number of words)."""
        starts = [0]
        for count in self.word_counts:
            starts.append(starts[-1] + count)
        return starts

    def chunk_at(self, word: int) -> int | None:
        """The part's chunk that starts at `word`, if one does."""
        if not self._starts and self.spans:
            self._starts.update((start, i) for i, (start, _end) in enumerate(self.spans))
        return self._starts.get(word)

    def is_complete(self, i: int) -> bool:
        """Whether chunk `i` ended before the range did (the last may run on into the next)."""
        return self.spans[i][1] < self.words


class Source(NamedTuple):
    """A chunk of the document that is chunk `chunk` of part `part`, as that part made it."""

    part: int
    chunk: int


def chunk_part(pages: Sequence[PageText], *, size: int, overlap: int) -> PartChunks:
    """Chunk a page range on its own, keeping where each chunk starts and ends."""
    stream = WordStream(pages, size=size, piece=piece_size(size, overlap))
    spans: list[tuple[int, int]] = []
    chunks: list[Chunk] = []
    for span in chain(stream, size=size, overlap=overlap):
        spans.append((span.start, span.end))
        chunks.append(span.chunk)
    stream.read_all()
    return PartChunks(stream.page_counts, spans, chunks)


def stitch(parts: Iterable[PartLayout], *, size: int, overlap: int) -> Iterator[Source | Chunk]:
    """The document's chunks, in order, as chunk_pages would make them from the parts' pages:
    a Source where a part made that chunk, else the chunk itself (cut at a seam). `parts` are
    read as the walk reaches them."""
    window = _Window(parts)
    start, index = 0, 0
    while (source := _known(window, start)) is not None or window.part_of(start) is not None:
        if source is not None:
            yield source
            index += 1
            part = window.parts[source.part]
            if source.chunk + 1 == len(part.spans):
                return  # the last part's last chunk
            start = window.offsets[source.part] + part.spans[source.chunk + 1][0]
        else:
            for span in _seam(window, start, size=size, overlap=overlap):
                yield replace(span.chunk, index=index)
                index += 1
                if span.next is None:
                    return  # the seam ran to the end of the document
                if _known(window, span.next) is not None:
                    start = span.next  # a part's chain again from here on
                    break
        window.forget_before(start)


def _known(window: _Window, start: int) -> Source | None:
    """The part chunk that is the document's chunk starting at word `start`, if there is one."""
    p = window.part_of(start)
    if p is None:
        return None
    part = window.parts[p]
    i = part.chunk_at(start - window.offsets[p])
    if i is None or not (part.is_complete(i) or window.is_final(p)):
        return None
    return Source(p, i)


def _seam(window: _Window, start: int, *, size: int, overlap: int) -> Iterator[Span]:
    """The document's chunks from word `start` on, cut here from the pages' words."""
    p = window.part_of(start)
    assert p is not None
    part = window.parts[p]
    page = bisect.bisect_right(part.page_starts, start - window.offsets[p]) - 1
    base = window.offsets[p] + part.page_starts[page]
    stream = WordStream(
        window.pages_from(p, page), size=size, piece=piece_size(size, overlap), base=base
    )
    return chain(stream, size=size, overlap=overlap, start=start, few=True)


class _Window:
    """The parts from the one the walk is in, read in order as it reaches them, each with the
    number of its first word in the document."""

    def __init__(self, parts: Iterable[PartLayout]) -> None:
        self._parts = iter(parts)
        self.parts: dict[int, PartLayout] = {}
        self.offsets = [0]  # offsets[p]: part p's first word; the last: the words read so far
        self._exhausted = False

    def _read_next(self) -> bool:
        part = None if self._exhausted else next(self._parts, None)
        if part is None:
            self._exhausted = True
            return False
        self.parts[len(self.offsets) - 1] = part
        self.offsets.append(self.offsets[-1] + part.words)
        return True

    def part_of(self, word: int) -> int | None:
        """The part holding word `word`, or None past the document's last word."""
        while self.offsets[-1] <= word:
            if not self._read_next():
                return None
        return bisect.bisect_right(self.offsets, word) - 1

    def get(self, p: int) -> PartLayout | None:
        """Part `p`, read if not yet; None if there is no such part."""
        while len(self.offsets) - 1 <= p and self._read_next():
            pass
        return self.parts.get(p)

    def is_final(self, p: int) -> bool:
        """Whether `p` is the document's last part (its last chunk is then the document's,
        and has a vector)."""
        return self.get(p + 1) is None

    def pages_from(self, p: int, page: int) -> Iterator[PageText]:
        """The document's pages from page `page` of part `p` on, reading parts as needed."""
        while p in self.parts or (p == len(self.offsets) - 1 and self._read_next()):
            yield from self.parts[p].pages[page:]
            p, page = p + 1, 0

    def forget_before(self, word: int) -> None:
        """Let go of the parts wholly before word `word`."""
        p = self.part_of(word)
        for q in [q for q in self.parts if p is None or q < p]:
            del self.parts[q]
