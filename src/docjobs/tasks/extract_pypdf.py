"""The pypdf engine: pure Python, slower than pdfium, the most forgiving of broken files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pypdf

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
    error_for,
    file_identity,
    finish,
    log_failure,
)
from docjobs.tasks.progress import CancelFn

# pypdf allows 75 MB per decoded stream; a bot reading text needs far less, and each limit
# reached is a page lost (LimitReachedError), not a worker killed. No external jbig2dec.
PYPDF_LIMITS: dict[str, Any] = {
    "zlib_maximum_output_length": 30_000_000,
    "lzw_maximum_output_length": 30_000_000,
    "run_length_maximum_output_length": 30_000_000,
    "brotli_maximum_output_length": 30_000_000,
    "jbig2_maximum_output_length": 30_000_000,
    "array_based_stream_maximum_output_length": 30_000_000,
    "image_maximum_buffer_size": 30_000_000,
    "stream_decoding_work_maximum_length": 120_000_000,
    "xfa_decoding_work_maximum_length": 60_000_000,
    "jbig2dec_binary": None,
}


class ReaderCache:
    """The reader of the last file read, for a process that reads one PDF a page range at a
    time (a split job's parts): the page tree and the fonts are parsed once, not per range."""

    def __init__(self) -> None:
        self._key: tuple[str, int, int] | None = None
        self._reader: pypdf.PdfReader | None = None

    def open(self, path: Path) -> pypdf.PdfReader:
        key = file_identity(path)
        if self._reader is None or key != self._key:
            self.clear()
            self._reader = pypdf.PdfReader(path, strict=False)
            self._key = key
        return self._reader

    def clear(self) -> None:
        self._key, self._reader = None, None


def extract_with_pypdf(
    path: Path,
    *,
    max_pages: int,
    on_page: PageFn | None,
    should_cancel: CancelFn | None,
    min_chars_per_page: int,
    pages: PageRange = PageRange(),
    max_chars: int | None = None,
    readers: ReaderCache | None = None,
) -> Extraction:
    """Read every page (or `pages`) with pypdf, within PYPDF_LIMITS; with `readers`, through
    the reader kept there for this file, if any."""
    with pypdf.apply_configuration(**PYPDF_LIMITS):
        try:
            reader = readers.open(path) if readers else pypdf.PdfReader(path, strict=False)
            # pypdf has already tried the empty password; decrypt("") says whether it worked.
            if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
                raise PasswordProtected()
            total = len(reader.pages)
        except NEVER_SWALLOW:
            raise
        except Exception as exc:
            log_failure(path, "cannot open", exc)
            raise error_for(exc) from exc
        check_page_count(total, max_pages)
        texts: list[PageText] = []
        budget = TextBudget(max_chars)
        failures: list[tuple[int, BaseException]] = []
        image_pages = 0
        numbers = pages.numbers(total)
        for done, number in enumerate(numbers, 1):
            if should_cancel is not None and should_cancel():
                raise Cancelled(f"Cancelled at page {number} of {total}.")
            text = ""
            try:
                page = reader.pages[number - 1]
                text = clean_text(page.extract_text() or "")
                if len(text) < min_chars_per_page:
                    image_pages += _has_images(page)
            except NEVER_SWALLOW:
                raise
            except Exception as exc:
                log_failure(path, f"page {number} of {total} could not be read", exc)
                failures.append((number, exc))
            budget.spend(text)
            texts.append(PageText(number, text))
            if on_page is not None:
                on_page(done, len(numbers))
    failed = [n for n, _ in failures]
    extraction = Extraction(texts, failed, image_pages, min_chars_per_page, engine="pypdf")
    finish(path, extraction, failures, total=total, whole=pages.is_whole(total))
    return extraction


def _has_images(page: Any, depth: int = 0) -> bool:
    """True if the page (or a form it draws, one level down) paints an image XObject."""
    try:
        resources = page.get("/Resources")
        xobjects = resources.get_object().get("/XObject") if resources is not None else None
        if xobjects is None:
            return False
        for ref in xobjects.get_object().values():
            xobject = ref.get_object()
            subtype = xobject.get("/Subtype")
            if subtype == "/Image" or (
                subtype == "/Form" and depth < 1 and _has_images(xobject, 1)
            ):
                return True
    except NEVER_SWALLOW:
        raise
    except Exception:  # only a hint for the scan warning: never worth failing a page for
        return False
    return False


def count_with_pypdf(path: Path) -> int | None:
    """The page count as pypdf sees it; None where it cannot open the file."""
    with pypdf.apply_configuration(**PYPDF_LIMITS):
        try:
            reader = pypdf.PdfReader(path, strict=False)
            if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
                return None
            return len(reader.pages)
        except NEVER_SWALLOW:
            raise
        except Exception:  # extraction reports it, with the reason
            return None
