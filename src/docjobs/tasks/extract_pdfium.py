"""The pdfium engine (pypdfium2): 10-20x faster than pypdf at similar quality.

PDFium is not thread-safe: fine in Celery's prefork pool, not in a threads or gevent pool.
It has no decompression limits we can set, and aborts the process when an allocation fails: a
file whose streams inflate past pypdf's limits goes to pypdf instead (stream_check.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pypdfium2 as pdfium

from docjobs.jobs.errors import Cancelled, PasswordProtected
from docjobs.tasks.extract import (
    NEVER_SWALLOW,
    Extraction,
    PageFn,
    PageRange,
    PageText,
    TextBudget,
    check_page_count,
    clean_text,
    file_identity,
    log_failure,
)
from docjobs.tasks.extract_pypdf import PYPDF_LIMITS
from docjobs.tasks.progress import CancelFn
from docjobs.tasks.stream_check import unsafe_for_pdfium

# A stream pypdf would refuse to inflate is not given to pdfium either; nor, together, more
# than a text PDF ever holds (a page may draw many streams at once).
MAX_STREAM_BYTES: int = PYPDF_LIMITS["zlib_maximum_output_length"]
MAX_TOTAL_BYTES = 256_000_000


class PdfiumCannotRead(Exception):
    """pdfium must not or could not open the document, or read none of its pages: ask pypdf."""


def extract_with_pdfium(
    path: Path,
    *,
    max_pages: int,
    on_page: PageFn | None,
    should_cancel: CancelFn | None,
    min_chars_per_page: int,
    pages: PageRange = PageRange(),
    max_chars: int | None = None,
) -> Extraction:
    """Read every page (or `pages`) with pdfium; raise PdfiumCannotRead where pypdf should try
    instead (it may not be safe to open, will not open, or none of the pages asked for could be
    read)."""
    unsafe = _unsafe(path)
    if unsafe:
        raise PdfiumCannotRead(unsafe)
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise PasswordProtected() from exc
        raise PdfiumCannotRead(str(exc)) from exc
    try:
        total = len(document)
        if total == 0:
            raise PdfiumCannotRead("no pages")
        check_page_count(total, max_pages)
        texts: list[PageText] = []
        budget = TextBudget(max_chars)
        failed: list[int] = []
        image_pages = 0
        numbers = pages.numbers(total)
        for done, number in enumerate(numbers, 1):
            if should_cancel is not None and should_cancel():
                raise Cancelled(f"Cancelled at page {number} of {total}.")
            text = ""
            try:
                page = document[number - 1]
                try:
                    textpage = page.get_textpage()
                    text = textpage.get_text_bounded().replace("\r\n", "\n").replace("\r", "\n")
                    text = clean_text(text)
                    textpage.close()
                    if len(text) < min_chars_per_page:  # looking for images costs more than text
                        image_pages += _paints_an_image(page)
                finally:
                    page.close()
            except NEVER_SWALLOW:
                raise
            except Exception as exc:
                what = f"pdfium: page {number} of {total} could not be read"
                log_failure(path, what, exc, expected=(pdfium.PdfiumError,))
                failed.append(number)
            budget.spend(text)
            texts.append(PageText(number, text))
            if on_page is not None:
                on_page(done, len(numbers))
        if failed and len(failed) == len(numbers):
            raise PdfiumCannotRead(f"none of the {len(numbers)} pages could be read")
    finally:
        document.close()
    return Extraction(texts, failed, image_pages, min_chars_per_page, engine="pdfium")


def _paints_an_image(page: pdfium.PdfPage) -> bool:
    images = page.get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE], max_depth=2)
    return any(True for _ in images)


def count_with_pdfium(path: Path) -> int | None:
    """The page count as pdfium sees it; None where it must not or cannot open the file."""
    if _unsafe(path):
        return None
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError:
        return None
    try:
        return len(document)
    finally:
        document.close()


def file_digest(path: Path) -> str:
    """The file's SHA-256, which names the bytes a stream check passed (see trust_checked)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def trust_checked(path: Path, digest: str) -> None:
    """Take `path` as safe for pdfium without checking its streams, if its bytes are those
    that passed the check elsewhere (`digest`, from file_digest). A split job's task checks
    the file once; each process reading its parts would otherwise inflate every stream again,
    12-18 ms per MB, where hashing reads the file some 15 times as fast (0.75 ms per MB)."""
    try:
        key = file_identity(path)
        if key not in _verdict and file_digest(path) == digest:
            _verdict.clear()
            _verdict[key] = None
    except OSError:
        pass  # _unsafe says what is wrong with it


def _unsafe(path: Path) -> str | None:
    """Why pdfium must not open the file, if so; remembered for the file last asked about (a
    split job reads one file a page range at a time)."""
    try:
        key = file_identity(path)
        if key not in _verdict:
            verdict = unsafe_for_pdfium(
                path, max_stream_bytes=MAX_STREAM_BYTES, max_total_bytes=MAX_TOTAL_BYTES
            )
            _verdict.clear()
            _verdict[key] = verdict
        return _verdict[key]
    except OSError as exc:  # pypdf says what is wrong with it
        return str(exc)


# The verdict on the file last asked about, by its file_identity.
_verdict: dict[tuple[str, int, int], str | None] = {}
