"""Chunking a split job so that the chunks are exactly those of one pass over the whole PDF.

Each part chunks its own page range from its first word. The chunker is a chain: where a
chunk starts decides where it ends and where the next one starts, looking only forward. So a
part's chain is the document's chain from the first start they share on, and they meet within
a page or two (a page break is a paragraph break, where both chains like to cut). The joiner
walks the document's chain, cutting the few chunks around each seam itself and taking every
other chunk, and its vector, from the part that made it. If two chains never met, the joiner
would simply cut that whole part itself: slower, never different.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import overload

# The chunker's own steps, so a seam is cut exactly as chunk_pages would cut it.
from docjobs.tasks.chunk import Chunk, _chunk, _cut, _overlap_start, _Word, _words
from docjobs.tasks.extract import PageText


@dataclass
class PartChunks:
    """One page range chunked on its own; spans are (start, end) word indices in the range."""

    word_counts: list[int]  # per page of the range
    spans: list[tuple[int, int]]
    chunks: list[Chunk]

    @property
    def words(self) -> int:
        return sum(self.word_counts)

    def is_complete(self, i: int) -> bool:
        """Whether chunk `i` ended before the range did (the last may run on into the next)."""
        return self.spans[i][1] < self.words


def piece_size(size: int, overlap: int) -> int:
    """How chunk_pages cuts a word longer than a chunk."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need size > 0 and 0 <= overlap < size, got {size=} {overlap=}")
    return max(1, min(size // 8, overlap or size))


def chunk_part(pages: Sequence[PageText], *, size: int, overlap: int) -> PartChunks:
    """Chunk a page range on its own, keeping where each chunk starts and ends."""
    piece = piece_size(size, overlap)
    words: list[_Word] = []
    counts: list[int] = []
    for page in pages:
        page_words = _words([page], size=size, piece=piece)
        counts.append(len(page_words))
        words.extend(page_words)
    spans: list[tuple[int, int]] = []
    chunks: list[Chunk] = []
    start = 0
    while start < len(words):
        end = _cut(words, start, size)
        chunks.append(_chunk(len(chunks), words[start:end]))
        spans.append((start, end))
        if end == len(words):
            break
        start = _overlap_start(words, start, end, overlap)
    return PartChunks(counts, spans, chunks)


@dataclass(frozen=True)
class Source:
    """Where a joined chunk came from: chunk `chunk` of part `part` (None: cut at a seam)."""

    part: int
    chunk: int


def stitch(
    parts: Sequence[PartChunks], pages: Sequence[PageText], *, size: int, overlap: int
) -> tuple[list[Chunk], list[Source | None]]:
    """The document's chunks (as chunk_pages would make them from `pages`, the parts' pages in
    order) and, for each, the part chunk it is, if any."""
    words = _DocumentWords(pages, [n for part in parts for n in part.word_counts], size, overlap)
    offsets = [0]
    for part in parts:
        offsets.append(offsets[-1] + part.words)
    known: dict[int, Source] = {}
    for p, part in enumerate(parts):
        last_part = p == len(parts) - 1
        for i, (start, _end) in enumerate(part.spans):
            if last_part or part.is_complete(i):
                known[offsets[p] + start] = Source(p, i)
    chunks: list[Chunk] = []
    sources: list[Source | None] = []
    start = 0
    while start < len(words):
        source = known.get(start)
        if source is not None:
            part = parts[source.part]
            chunk = part.chunks[source.chunk]
            end = offsets[source.part] + part.spans[source.chunk][1]
            if end < len(words):  # the part's next start is the document's next start
                following = part.spans[source.chunk + 1][0]
                next_start = offsets[source.part] + following
        else:
            end = _cut(words, start, size)  # type: ignore[arg-type]
            chunk = _chunk(0, words[start:end])
            if end < len(words):
                next_start = _overlap_start(words, start, end, overlap)  # type: ignore[arg-type]
        chunks.append(replace(chunk, index=len(chunks)))
        sources.append(source)
        if end == len(words):
            break
        start = next_start
    return chunks, sources


class _DocumentWords(Sequence[_Word]):
    """The whole document's word list as the chunker sees it, each page's words made only when
    a seam needs them (making them all is most of the chunker's time)."""

    def __init__(
        self, pages: Sequence[PageText], counts: Sequence[int], size: int, overlap: int
    ) -> None:
        if len(pages) != len(counts):
            raise ValueError(f"{len(pages)} pages but {len(counts)} word counts")
        self.pages, self.size, self.piece = pages, size, piece_size(size, overlap)
        self.starts = [0]
        for count in counts:
            self.starts.append(self.starts[-1] + count)
        self._made: dict[int, list[_Word]] = {}
        self._page = 0  # the page last read: the chunker reads on from there

    def __len__(self) -> int:
        return self.starts[-1]

    @overload
    def __getitem__(self, index: int) -> _Word: ...

    @overload
    def __getitem__(self, index: slice) -> list[_Word]: ...

    def __getitem__(self, index: int | slice) -> _Word | list[_Word]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        page = self._page
        if not self.starts[page] <= index < self.starts[page + 1]:
            page = self._page = bisect.bisect_right(self.starts, index) - 1
        return self._page_words(page)[index - self.starts[page]]

    def _page_words(self, page: int) -> list[_Word]:
        made = self._made.get(page)
        if made is None:
            made = _words([self.pages[page]], size=self.size, piece=self.piece)
            if len(made) != self.starts[page + 1] - self.starts[page]:
                raise ValueError(f"page {self.pages[page].number}: word count does not match")
            self._made[page] = made
        return made
