"""What one part of a split job hands to the joiner: its pages' text, its chunks and their
vectors, packed small enough to wait in Redis (JSON, zlib, base64)."""

from __future__ import annotations

import base64
import json
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from docjobs.jobs.errors import CorruptPdf, error_for_code
from docjobs.tasks.chunk import Chunk
from docjobs.tasks.extract import Extraction, PageText
from docjobs.tasks.part_chunks import PartChunks


@dataclass
class PartOutput:
    extraction: Extraction  # of the part's page range
    chunked: PartChunks
    vectors: list[list[float]]  # of the first len(vectors) chunks (the ones worth embedding)

    def pack(self) -> str:
        ex, chunked = self.extraction, self.chunked
        dim = len(self.vectors[0]) if self.vectors else 0
        flat = array("f", (x for vector in self.vectors for x in vector))
        body = {
            "pages": [[page.number, page.text] for page in ex.page_texts],
            "failed": ex.failed_pages,
            "image_pages": ex.image_pages,
            "engine": ex.engine,
            "unreadable": [ex.unreadable.code, ex.unreadable.detail] if ex.unreadable else None,
            "word_counts": chunked.word_counts,
            "spans": chunked.spans,
            "chunks": [[c.text, c.start_page, c.end_page] for c in chunked.chunks],
            "dim": dim,
            "vectors": base64.b64encode(flat.tobytes()).decode(),
        }
        packed = zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 1)
        return base64.b64encode(packed).decode()

    @classmethod
    def unpack(cls, packed: str, *, min_chars_per_page: int) -> PartOutput:
        body = json.loads(zlib.decompress(base64.b64decode(packed)))
        unreadable = None
        if body["unreadable"]:
            code, detail = body["unreadable"]
            unreadable = error_for_code(code)(detail)
        extraction = Extraction(
            [PageText(number, text) for number, text in body["pages"]],
            body["failed"],
            body["image_pages"],
            min_chars_per_page,
            engine=body["engine"],
            unreadable=unreadable,
        )
        chunks = [Chunk(i, text, start, end) for i, (text, start, end) in enumerate(body["chunks"])]
        spans = [(start, end) for start, end in body["spans"]]
        flat = array("f")
        flat.frombytes(base64.b64decode(body["vectors"]))
        dim = body["dim"]
        vectors = [flat[i : i + dim].tolist() for i in range(0, len(flat), dim)] if dim else []
        return cls(extraction, PartChunks(body["word_counts"], spans, chunks), vectors)


def merge_extractions(parts: Sequence[Extraction], *, min_chars_per_page: int) -> Extraction:
    """The whole document's extraction from its parts' (in page order); raises the document's
    JobError if no page at all could be read, as one pass over it would have."""
    pages = [page for part in parts for page in part.page_texts]
    failed = [number for part in parts for number in part.failed_pages]
    if pages and len(failed) == len(pages):
        raise next((part.unreadable for part in parts if part.unreadable), None) or CorruptPdf(
            f"none of the {len(pages)} pages could be read"
        )
    engines = sorted({part.engine for part in parts})
    return Extraction(
        pages,
        failed,
        sum(part.image_pages for part in parts),
        min_chars_per_page,
        engine="+".join(engines),
    )
