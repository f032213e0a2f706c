"""Chunk step: overlapping pieces of about `size` characters, each tagged with its pages.

The chunker reads the words a page at a time as it reaches them and forgets those behind the
chunk it is cutting, so a 3,000-page PDF never has all its ~1.6 million words made at once.

A chunk's text is a slice of the pages' words joined as the chunk shows them, and where each
word starts and ends in that text is worked out a page at a time in C (split, accumulate,
map): finding a cut is a few bisections, not a walk over the chunk's words. Chunking
1,000 pages takes ~0.08 s that way; word by word in Python it took ~0.3 s.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, compress, repeat
from operator import add, methodcaller, sub
from typing import NamedTuple

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = (".", "!", "?", ":", ";", "。", "！", "？")
_ENDS_SENTENCE = methodcaller("endswith", _SENTENCE_END)
# The same, found in a page's text: the last character of a word ending a sentence.
_SENTENCE_END_IN_TEXT = re.compile(f"[{re.escape(''.join(_SENTENCE_END))}]" + r"(?=\s|\Z)")
_END = methodcaller("end")
# Prefer a paragraph or sentence end as the cut, if one lies in the last 40 % of the chunk.
_EARLIEST_CUT = 0.6
# Forget words behind the chunker in runs of at least this many (deleting the head of a list
# is a copy of the rest: done rarely, it costs nothing).
_FORGET_AT = 4096
# What joins a word to the one before: a new paragraph (as every page's first word starts
# one), a space, or nothing (the pieces of a word longer than a chunk).
_PARAGRAPH_SEP, _SPACE, _NO_SEP = "\n\n", " ", ""


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    start_page: int
    end_page: int


def piece_size(size: int, overlap: int) -> int:
    """How long the pieces are that a word longer than a chunk is cut into."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need size > 0 and 0 <= overlap < size, got {size=} {overlap=}")
    return max(1, min(size // 8, overlap or size))


class WordStream:
    """The words of a run of pages, made a page at a time as they are reached.

    Word numbers count from the first page's first word (plus `base`, for a run that starts
    inside a document). A word is held as where its text starts and ends in the stream's
    text, the words joined by what separates them; a chunk is the slice from its first word's
    start to its last word's end, and its length as the chunker counts it."""

    def __init__(
        self, pages: Iterable[tuple[int, str]], *, size: int, piece: int, base: int = 0
    ) -> None:
        self._pages = iter(pages)
        self.size, self.piece = size, piece
        self.base = base  # the number of the first word held
        self.page_counts: list[int] = []  # words per page read so far
        self._starts: list[int] = []  # word base+i starts at character _starts[i]
        self._ends: list[int] = []
        self._text = ""  # the stream's text from character _text_at on
        self._text_at = 0
        self._chars = 0  # the length of the stream's text so far
        self._paragraphs: list[int] = []  # words that start a paragraph
        self._sentences: list[int] = []  # where the words that end a sentence end
        self._page_firsts: list[int] = []  # each held page's first word, and its number
        self._page_numbers: list[int] = []
        self._done = False

    @property
    def end(self) -> int:
        """The number past the last word made so far."""
        return self.base + len(self._starts)

    def reach(self, end: int) -> int:
        """Make the words before `end`, as far as the pages go; returns where they end."""
        while self.end < end and self._read_page():
            pass
        return min(end, self.end)

    def reach_chunk(self, start: int) -> int:
        """Make enough words from `start` on for one chunk: more than `size` characters of
        them as `cut` counts them, or all there are; returns where the words made end."""
        while True:
            limit = self._starts[start - self.base] + self.size
            over = bisect_right(self._ends, limit, start - self.base)
            if over < len(self._ends):
                return self.base + over + 1
            if not self._read_page():
                return self.end

    def cut(self, start: int, stop: int) -> int:
        """The end (exclusive) of the chunk that starts at word `start`; word `stop` is not
        made yet.

        The chunk is the most words that fit in `size` characters, cut back to the last
        paragraph end, else the last sentence end, in its last 40 %. `end == stop` only when
        the words ran out, as long as the words from `start` to `stop`, if not the last, hold
        more than `size` characters (reach_chunk) or number more than `size` (every word has
        a character)."""
        base, ends, size = self.base, self._ends, self.size
        first = start - base
        at = self._starts[first]
        # Words first..full-1 fit in `size` characters; word `full` does not.
        full = bisect_right(ends, at + size, first + 1, stop - base)
        if full == stop - base:
            return stop
        # A cut before word c keeps words first..c-1: they must fill 60 % of the chunk.
        earliest = bisect_left(ends, at + math.ceil(_EARLIEST_CUT * size), first, full) + 1
        if earliest < full:
            paragraph = bisect_left(self._paragraphs, base + full) - 1
            if paragraph >= 0 and self._paragraphs[paragraph] >= base + earliest:
                return self._paragraphs[paragraph]
            # The last sentence end among words earliest-1..full-2, the cut just after it.
            sentence = bisect_right(self._sentences, ends[full - 2]) - 1
            if sentence >= 0 and self._sentences[sentence] >= ends[earliest - 1]:
                after = bisect_left(ends, self._sentences[sentence], earliest - 1, full - 1) + 1
                return base + after
        return base + full

    def overlap_start(self, start: int, end: int, overlap: int) -> int:
        """Where the chunk after words start..end-1 starts: far enough back to repeat about
        `overlap` characters of whole words, and past `start`."""
        base = self.base
        back_to = self._ends[end - 1 - base] - overlap
        return base + bisect_left(self._starts, back_to, start + 1 - base, end - base)

    def chunk(self, index: int, start: int, end: int) -> Chunk:
        """Words start..end-1 as chunk `index`."""
        first, last = start - self.base, end - 1 - self.base
        text = self._text[self._starts[first] - self._text_at : self._ends[last] - self._text_at]
        return Chunk(index, text, self._page_of(start), self._page_of(end - 1))

    def _page_of(self, word: int) -> int:
        return self._page_numbers[bisect_right(self._page_firsts, word) - 1]

    def _read_page(self) -> bool:
        page = None if self._done else next(self._pages, None)
        if page is None:
            self._done = True
            return False
        number, text = page
        words, lengths, joins, texts, paragraphs = self._page_words(text)
        first, chars = self.end, self._chars
        if words:
            joins[0] += chars  # so the running sum counts from the stream's text so far
        ends = list(accumulate(map(add, joins, lengths)))
        self._starts += map(sub, ends, lengths)
        self._ends += ends
        if ends:
            self._chars = ends[-1]
        page_text = "".join(texts)
        self._text += page_text
        self._paragraphs += (first + i for i in paragraphs)
        if len(texts) == len(paragraphs):  # a text per paragraph: no word was cut in pieces
            found = map(_END, _SENTENCE_END_IN_TEXT.finditer(page_text))
            self._sentences += map(add, found, repeat(chars)) if chars else found
        else:  # a piece is a word to the chunker, though no space follows it in the text
            self._sentences += compress(ends, map(_ENDS_SENTENCE, words))
        self._page_firsts.append(first)
        self._page_numbers.append(number)
        self.page_counts.append(len(words))
        return True

    def _page_words(
        self, text: str
    ) -> tuple[list[str], list[int], list[int], list[str], list[int]]:
        """A page's words, their lengths, and the length of what joins each to the one
        before; its text in pieces; and the words that start a paragraph (numbered in the
        page)."""
        words: list[str] = []
        lengths: list[int] = []
        joins: list[int] = []
        texts: list[str] = []
        paragraphs: list[int] = []
        for paragraph in _PARAGRAPH.split(text):
            found = paragraph.split()
            if not found:
                continue
            paragraphs.append(len(words))
            found_lengths = list(map(len, found))
            if max(found_lengths) <= self.size:
                words += found
                lengths += found_lengths
                joins.append(len(_PARAGRAPH_SEP))
                joins += [len(_SPACE)] * (len(found) - 1)
                texts.append(_PARAGRAPH_SEP + _SPACE.join(found))
                continue
            # A word longer than a chunk: cut it into pieces that join with nothing.
            sep = _PARAGRAPH_SEP
            for word in found:
                step = len(word) if len(word) <= self.size else self.piece
                for i in range(0, len(word), step):
                    join = sep if i == 0 else _NO_SEP
                    words.append(word[i : i + step])
                    lengths.append(len(words[-1]))
                    joins.append(len(join))
                    texts.append(join + words[-1])
                sep = _SPACE
        return words, lengths, joins, texts, paragraphs

    def read_all(self) -> None:
        """Read the remaining pages (for their word counts), keeping none of their words."""
        while not self._done:
            self.reach(self.end + 1)
            self.forget(self.end)

    def forget(self, before: int) -> None:
        """The words before `before` will not be asked for again."""
        drop = before - self.base
        if drop < _FORGET_AT or drop * 2 < len(self._starts):
            return
        at = self._starts[drop] if drop < len(self._starts) else self._chars
        self._text = self._text[at - self._text_at :]
        self._text_at = at
        del self._starts[:drop], self._ends[:drop]
        del self._paragraphs[: bisect_left(self._paragraphs, before)]
        del self._sentences[: bisect_left(self._sentences, at)]
        page = bisect_right(self._page_firsts, before) - 1
        if page > 0:
            del self._page_firsts[:page], self._page_numbers[:page]
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
    cut needs (which costs a search after every page: not worth it for a whole document)."""
    index = 0
    while stream.reach(start + 1) > start:
        # A chunk holds at most `size` words (each at least a character): it ends by start+size.
        stop = stream.reach_chunk(start) if few else stream.reach(start + size + 1)
        end = stream.cut(start, stop)
        chunk = stream.chunk(index, start, end)
        if end == stop:  # the last word: see WordStream.cut
            yield Span(start, end, chunk, None)
            return
        following = stream.overlap_start(start, end, overlap)
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
