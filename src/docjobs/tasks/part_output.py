"""What one part of a split job hands to the joiner, packed small enough to wait in Redis
(zlib'd JSON, binary), in two pieces the joiner reads at different times: the part's text (its
pages, where their words and its chunks lie, what they add up to) to walk the document's
chain of chunks, then its rows (its chunks and their vectors, as float32) to store them."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from docjobs.jobs.errors import Cancelled, CorruptPdf, JobError, error_for_code
from docjobs.tasks.chunk import Chunk
from docjobs.tasks.embed import Vectors
from docjobs.tasks.extract import Extraction, PageText
from docjobs.tasks.part_chunks import PartChunks, PartLayout
from docjobs.tasks.pipeline import TextCounts, stop_if_cancelled
from docjobs.tasks.progress import CancelFn


@dataclass
class PartOutput:
    extraction: Extraction  # of the part's page range
    chunked: PartChunks
    rows: list[Chunk]  # the chunks worth storing: all but a last one that runs on into the
    # next part (the joiner cuts that one)
    vectors: Vectors  # of `rows`

    def pack(self) -> tuple[bytes, bytes]:
        """The part's text and its rows, each packed."""
        ex, chunked = self.extraction, self.chunked
        if len(self.vectors) != len(self.rows):
            raise ValueError(f"{len(self.rows)} rows but {len(self.vectors)} vectors")
        text = {
            "pages": [[page.number, page.text] for page in ex.page_texts],
            "failed": ex.failed_pages,
            "image_pages": ex.image_pages,
            "words": ex.words,
            "chars": ex.chars,
            "unreadable": [ex.unreadable.code, ex.unreadable.detail] if ex.unreadable else None,
            "word_counts": chunked.word_counts,
            "spans": chunked.spans,
        }
        rows = {
            "chunks": [[c.text, c.start_page, c.end_page] for c in self.rows],
            "dim": self.vectors.dim,
        }
        # The vectors after the chunks, as they are: float32 bytes do not compress, so zlib,
        # JSON or base64 would only spend time on them (base64 cost the joiner 12 ms per
        # 1,000 pages). zlib's stream knows where it ends.
        return _pack(text), _pack(rows) + self.vectors.tobytes()


@dataclass
class PartText:
    """The part's text as the joiner reads it first."""

    layout: PartLayout
    counts: TextCounts
    unreadable: JobError | None  # what the document fails with if no part could read a page

    @classmethod
    def unpack(cls, packed: bytes, *, min_chars_per_page: int) -> PartText:
        body = _unpack(packed)
        pages = [PageText(number, text) for number, text in body["pages"]]
        spans = [(start, end) for start, end in body["spans"]]
        counts = TextCounts(
            len(pages),
            body["words"],
            body["chars"],
            body["failed"],
            body["image_pages"],
            min_chars_per_page,
        )
        unreadable = None
        if body["unreadable"]:
            code, detail = body["unreadable"]
            unreadable = error_for_code(code)(detail)
        return cls(PartLayout(pages, body["word_counts"], spans), counts, unreadable)


@dataclass
class PartRows:
    """The part's chunks and their vectors, as the joiner reads them to store them."""

    chunks: list[tuple[str, int, int]]  # text, start page, end page
    vectors: Vectors

    @classmethod
    def unpack(cls, packed: bytes) -> PartRows:
        stream = zlib.decompressobj()
        body = json.loads(stream.decompress(packed))  # the vectors are what zlib leaves over
        vectors = Vectors(body["dim"], stream.unused_data)
        return cls([(text, start, end) for text, start, end in body["chunks"]], vectors)

    def row(self, i: int, *, index: int) -> tuple[Chunk, bytes]:
        """Chunk `i` of the part, as the document's chunk `index`, with its vector."""
        text, start, end = self.chunks[i]
        return Chunk(index, text, start, end), self.vectors.blob(i)


class PartTexts:
    """The parts' texts in page order, each read only when the joiner's walk reaches it and let
    go of after; their counts are summed as they go by."""

    def __init__(
        self,
        load: Callable[[int], bytes | None],
        count: int,
        *,
        min_chars_per_page: int,
        should_cancel: CancelFn,
    ) -> None:
        self.load, self.count, self.should_cancel = load, count, should_cancel
        self.total = TextCounts(min_chars_per_page=min_chars_per_page)
        self.read = 0
        self._unreadable: JobError | None = None

    def layouts(self) -> Iterator[PartLayout]:
        while self.read < self.count:
            stop_if_cancelled(self.should_cancel)
            packed = self.load(self.read)
            if packed is None:  # the plan was dropped: the job was cancelled or run again
                raise Cancelled(f"Part {self.read + 1} of {self.count} is gone.")
            part = PartText.unpack(packed, min_chars_per_page=self.total.min_chars_per_page)
            self.total.add(part.counts)
            self._unreadable = self._unreadable or part.unreadable
            self.read += 1
            yield part.layout

    def counts(self) -> TextCounts:
        """The whole document's counts (every part read); raises the document's JobError if
        no page at all could be read, as one pass over it would have."""
        for _layout in self.layouts():
            pass
        total = self.total
        if total.pages and len(total.failed_pages) == total.pages:
            raise self._unreadable or CorruptPdf(f"none of the {total.pages} pages could be read")
        return total


def _pack(body: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 1)


def _unpack(packed: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(zlib.decompress(packed))
    return body
