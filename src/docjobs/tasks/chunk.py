"""Chunk step: overlapping pieces of about `size` characters, each tagged with its pages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = (".", "!", "?", ":", ";", "。", "！", "？")
# Prefer a paragraph or sentence end as the cut, if one lies in the last 40 % of the chunk.
_EARLIEST_CUT = 0.6


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    start_page: int
    end_page: int


class _Word(NamedTuple):
    text: str
    page: int
    sep: str  # what joins it to the word before: " ", "\n\n" (new paragraph) or "" (split word)


def chunk_pages(pages: Iterable[tuple[int, str]], *, size: int, overlap: int) -> list[Chunk]:
    """Split page texts ((number, text) pairs) into chunks of at most `size` characters.

    Consecutive chunks share about `overlap` characters of whole words. Cuts fall on
    whitespace, preferably at a paragraph or sentence end; a word longer than a chunk
    (e.g. CJK text without spaces) is cut into pieces.
    """
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"need size > 0 and 0 <= overlap < size, got {size=} {overlap=}")
    words = _words(pages, size=size, piece=max(1, min(size // 8, overlap or size)))
    chunks: list[Chunk] = []
    start = 0
    while start < len(words):
        end = _cut(words, start, size)
        chunks.append(_chunk(len(chunks), words[start:end]))
        if end == len(words):
            break
        start = _overlap_start(words, start, end, overlap)
    return chunks


def _words(pages: Iterable[tuple[int, str]], *, size: int, piece: int) -> list[_Word]:
    words: list[_Word] = []
    for number, text in pages:
        for paragraph in _PARAGRAPH.split(text):
            sep = "\n\n"  # a new page starts a new paragraph too
            for word in paragraph.split():
                step = len(word) if len(word) <= size else piece
                for i in range(0, len(word), step):
                    words.append(_Word(word[i : i + step], number, sep if i == 0 else ""))
                sep = " "
    return words


def _cut(words: list[_Word], start: int, size: int) -> int:
    """The end (exclusive) of the chunk that starts at `start`."""
    length, end = len(words[start].text), start + 1
    best, best_rank = end, 0
    while end < len(words):
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
    if end == len(words) or best_rank == 0:
        return end
    return best


def _overlap_start(words: list[_Word], start: int, end: int, overlap: int) -> int:
    """Where the next chunk starts: far enough back to repeat about `overlap` characters."""
    back, length = end, 0
    while back - 1 > start:
        added = len(words[back - 1].text) + len(words[back].sep if back < end else "")
        if length + added > overlap:
            break
        length += added
        back -= 1
    return back


def _chunk(index: int, words: list[_Word]) -> Chunk:
    text = words[0].text + "".join(word.sep + word.text for word in words[1:])
    return Chunk(index, text, words[0].page, words[-1].page)
