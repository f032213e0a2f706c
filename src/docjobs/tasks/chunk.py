"""Chunk step: overlapping pieces of about `size` characters, each tagged with its pages.

The chunker reads the words a page at a time as it reaches them and forgets those behind the
chunk it is cutting, so a 3,000-page PDF never has all its ~1.6 million words made at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat
from typing import NamedTuple

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = (".", "!", "?", ":", ";", "。", "！", "？")
# Prefer a paragraph or sentence end as the cut, if one lies in the last 40 % of the chunk.
_EARLIEST_CUT = 0.6
# Forget words behind the chunker in runs of at least this many (deleting the head of a list
# is a copy of the rest: done rarely, it costs nothing).
_FORGET_AT = 4096


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    start_page: int
    end_page: int


class Word(NamedTuple):
    text: str
    page: int
    sep: str  # what joins it to the word before: " ", "\n\n" (new paragraph) or "" (split word)


_new_word = tuple.__new__


def piece_size(size: int, overlap: int) -> int:
    """How long the pieces are that a word longer than a chunk is cut into."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need size > 0 and 0 <= overlap < size, got {size=} {overlap=}")
    return max(1, min(size // 8, overlap or size))


def page_words(number: int, text: str, *, size: int, piece: int) -> list[Word]:
    """One page's words as the chunker sees them."""
    words: list[Word] = []
    for paragraph in _PARAGRAPH.split(text):
        found = paragraph.split()
        if found and max(map(len, found)) <= size:
            # No word to cut: make the Words in C (tuple.__new__ skips Word's Python __new__);
            # chunking 1,000 pages took 0.53 s that way, 0.39 s this way.
            words.append(_new_word(Word, (found[0], number, "\n\n")))
            words.extend(map(_new_word, repeat(Word), zip(found[1:], repeat(number), repeat(" "))))
            continue
        sep = "\n\n"  # a new page starts a new paragraph too
        for word in found:
            step = len(word) if len(word) <= size else piece
            for i in range(0, len(word), step):
                words.append(Word(word[i : i + step], number, sep if i == 0 else ""))
            sep = " "
    return words


class WordStream:
    """The words of a run of pages, made a page at a time as they are reached.

    Word numbers count from the first page's first word (plus `base`, for a run that starts
    inside a document); `words[i - self.base]` is word i while it is held."""

    def __init__(
        self, pages: Iterable[tuple[int, str]], *, size: int, piece: int, base: int = 0
    ) -> None:
        self._pages = iter(pages)
        self.size, self.piece = size, piece
        self.words: list[Word] = []
        self.base = base
        self.page_counts: list[int] = []  # words per page read so far
        self._done = False

    def reach(self, end: int) -> int:
        """Make the words before `end`, as far as the pages go; returns where they end."""
        while self.base + len(self.words) < end and self._read_page():
            pass
        return min(end, self.base + len(self.words))

    def reach_chunk(self, start: int) -> int:
        """Make enough words from `start` on for one chunk: more than `size` characters of
        them as _cut counts them, or all there are; returns where the words made end."""
        first = i = start - self.base
        length = 0
        while True:
            while i < len(self.words):
                word = self.words[i]
                length += len(word.text) + (len(word.sep) if i > first else 0)
                i += 1
                if length > self.size:
                    return self.base + i
            if not self._read_page():
                return self.base + len(self.words)

    def _read_page(self) -> bool:
        page = None if self._done else next(self._pages, None)
        if page is None:
            self._done = True
            return False
        made = page_words(page[0], page[1], size=self.size, piece=self.piece)
        self.page_counts.append(len(made))
        self.words.extend(made)
        return True

    def read_all(self) -> None:
        """Read the remaining pages (for their word counts), keeping none of their words."""
        while not self._done:
            self.reach(self.base + len(self.words) + 1)
            self.forget(self.base + len(self.words))

    def forget(self, before: int) -> None:
        """The words before `before` will not be asked for again."""
        drop = before - self.base
        if drop >= _FORGET_AT and drop * 2 >= len(self.words):
            del self.words[:drop]
            self.base = before


class Span(NamedTuple):
    start: int  # word numbers, in the stream's numbering
    end: int
    chunk: Chunk
    next: int | None  # where the next chunk starts; None: this is the last


def chain(
    stream: WordStream, *, size: int, overlap: int, start: int = 0, few: bool = False
) -> Iterator[Span]:
    """The chunks cut from `stream` starting at word `start`, each with where it lies.

    `few`: only a few chunks will be asked for, so read no page further ahead than the next
    cut needs (which costs a pass over its words: not worth it for a whole document)."""
    index = 0
    while stream.reach(start + 1) > start:
        # A chunk holds at most `size` words (each at least a character): it ends by start+size.
        stop = stream.reach_chunk(start) if few else stream.reach(start + size + 1)
        words, base = stream.words, stream.base
        end = base + _cut(words, start - base, size, stop - base)
        chunk = _chunk(index, words[start - base : end - base])
        if end == stop:  # the last word: see _cut
            yield Span(start, end, chunk, None)
            return
        following = base + _overlap_start(words, start - base, end - base, overlap)
        yield Span(start, end, chunk, following)
        start = following
        stream.forget(start)
        index += 1


def iter_chunks(pages: Iterable[tuple[int, str]], *, size: int, overlap: int) -> Iterator[Chunk]:
    """Split page texts ((number, text) pairs) into chunks of at most `size` characters.

    Consecutive chunks share about `overlap` characters of whole words. Cuts fall on
    whitespace, preferably at a paragraph or sentence end; a word longer than a chunk
    (e.g. CJK text without spaces) is cut into pieces. Pages are read as chunks are asked for.
    """
    stream = WordStream(pages, size=size, piece=piece_size(size, overlap))
    for span in chain(stream, size=size, overlap=overlap):
        yield span.chunk


def chunk_pages(pages: Iterable[tuple[int, str]], *, size: int, overlap: int) -> list[Chunk]:
    """All of `iter_chunks`, as a list."""
    return list(iter_chunks(pages, size=size, overlap=overlap))


def _cut(words: list[Word], start: int, size: int, stop: int) -> int:
    """The end (exclusive) of the chunk that starts at `start`; `words[stop]` is not there.

    `end == stop` only when the words ran out, as long as the words from `start` to `stop`,
    if not the last, hold more than `size` characters as counted here (WordStream.reach_chunk)
    or number more than `size` (every word has a character, so the loop breaks by then)."""
    length, end = len(words[start].text), start + 1
    best, best_rank = end, 0
    while end < stop:
        word = words[end]
        added = len(word.sep) + len(word.text)
        if length + added > size:
            break
        if length >= _EARLIEST_CUT * size:
            # rank: 2 = cutting here ends a paragraph, 1 = ends a sentence
            rank = 2 if word.sep == "\n\n" else int(words[end - 1].text.endswith(_SENTENCE_END))
            if rank and rank >= best_rank:
                best, best_rank = end, rank
        length += added
        end += 1
    if end == stop or best_rank == 0:
        return end
    return best


def _overlap_start(words: list[Word], start: int, end: int, overlap: int) -> int:
    """Where the next chunk starts: far enough back to repeat about `overlap` characters."""
    back, length = end, 0
    while back - 1 > start:
        added = len(words[back - 1].text) + len(words[back].sep if back < end else "")
        if length + added > overlap:
            break
        length += added
        back -= 1
    return back


def _chunk(index: int, words: list[Word]) -> Chunk:
    text = words[0].text + "".join(word.sep + word.text for word in words[1:])
    return Chunk(index, text, words[0].page, words[-1].page)
