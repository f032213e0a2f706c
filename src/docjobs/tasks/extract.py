"""Extract step: text page by page, with every failure turned into a JobError a person can read.

A bad page costs that page, not the document. The engine is pluggable: "pypdf" (default, pure
Python, the most forgiving), "pdfium" (pypdfium2, 10-20x faster; pypdf reads whatever pdfium
cannot open) and "auto" (pdfium, with a second opinion from pypdf when pdfium's result is poor).
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pypdf
from pypdf.errors import (
    DependencyError,
    DeprecationError,
    FileNotDecryptedError,
    LimitReachedError,
    PyPdfError,
)

from docjobs.jobs.errors import (
    Cancelled,
    CorruptPdf,
    JobError,
    PasswordProtected,
    TooLarge,
    UnsupportedPdf,
)
from docjobs.tasks.progress import CancelFn

logger = logging.getLogger(__name__)

try:  # Celery's soft time limit is an Exception: it must stop the job, not fail one page.
    from billiard.exceptions import SoftTimeLimitExceeded

    NEVER_SWALLOW: tuple[type[BaseException], ...] = (JobError, SoftTimeLimitExceeded)
except ImportError:  # pragma: no cover - billiard comes with celery
    NEVER_SWALLOW = (JobError,)

PageFn = Callable[[int, int], None]
ENGINES = ("pypdf", "pdfium", "auto")

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


class PageText(NamedTuple):
    number: int  # 1-based
    text: str


@dataclass
class Extraction:
    """What came out of one PDF: the text of every page ("" for pages that failed)."""

    page_texts: list[PageText]
    failed_pages: list[int] = field(default_factory=list)
    image_pages: int = 0
    min_chars_per_page: int = 20
    engine: str = "pypdf"

    @property
    def pages(self) -> int:
        return len(self.page_texts)

    @property
    def chars(self) -> int:
        return sum(len(page.text) for page in self.page_texts)

    @property
    def words(self) -> int:
        return sum(len(page.text.split()) for page in self.page_texts)

    @property
    def low_text(self) -> bool:
        """Fewer than `min_chars_per_page` characters per readable page on average."""
        readable = self.pages - len(self.failed_pages)
        return self.chars < self.min_chars_per_page * max(readable, 1)

    @property
    def no_text_layer(self) -> bool:
        """Little text but pictures of pages: a scan that needs OCR."""
        return self.low_text and self.image_pages > 0


def classify(exc: BaseException) -> type[JobError]:
    """The JobError class for an exception raised while reading a PDF."""
    if isinstance(exc, FileNotDecryptedError):  # includes WrongPasswordError
        return PasswordProtected
    if isinstance(exc, LimitReachedError | MemoryError):
        return TooLarge
    # DependencyError and DeprecationError are not PyPdfErrors: a missing codec, a removed filter.
    if isinstance(exc, DependencyError | DeprecationError | NotImplementedError):
        return UnsupportedPdf
    return CorruptPdf  # PdfReadError, PdfStreamError, EmptyFileError, and whatever else breaks


def error_for(exc: BaseException, context: str = "") -> JobError:
    cls = classify(exc)
    if cls is PasswordProtected:
        return PasswordProtected()
    reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
    prefix = f"{context}; " if context else ""
    return cls(f"{cls.user_message.rstrip('.')} ({prefix}{reason}).")


# What broken files make pypdf raise besides its own errors (a85decode's ValueError, ...).
_EXPECTED = (
    PyPdfError,
    DependencyError,
    DeprecationError,
    MemoryError,
    RecursionError,
    ValueError,
    KeyError,
    IndexError,
    NotImplementedError,
    zlib.error,
    struct.error,
)


def log_failure(path: Path, what: str, exc: BaseException) -> None:
    """Log a failure; called from inside the except block that caught `exc`."""
    if isinstance(exc, _EXPECTED):
        logger.warning("%s: %s: %s: %s", path.name, what, type(exc).__name__, exc)
    else:  # keep the traceback: this may be a pypdf bug worth reporting
        logger.error("%s: %s", path.name, what, exc_info=exc)


def extract_pages(
    path: Path,
    *,
    max_pages: int,
    on_page: PageFn | None = None,
    should_cancel: CancelFn | None = None,
    min_chars_per_page: int = 20,
    engine: str = "pypdf",
) -> Extraction:
    """Read the text of every page; raise a JobError if the document as a whole cannot be read."""
    if engine not in ENGINES:
        raise ValueError(f"unknown extraction engine {engine!r}; expected one of {ENGINES}")
    path = Path(path)
    kwargs: dict[str, Any] = {
        "max_pages": max_pages,
        "on_page": on_page,
        "should_cancel": should_cancel,
        "min_chars_per_page": min_chars_per_page,
    }
    if engine == "pypdf":
        return _extract_pypdf(path, **kwargs)
    return _extract_pdfium_first(path, auto=engine == "auto", **kwargs)


def finish(path: Path, extraction: Extraction, failures: list[tuple[int, BaseException]]) -> None:
    """Fail the document if every page failed, with the commonest failure's class."""
    if not failures or len(failures) < extraction.pages:
        return
    classes = Counter(classify(exc) for _, exc in failures)
    cls = classes.most_common(1)[0][0]
    first = next(exc for _, exc in failures if classify(exc) is cls)
    n = extraction.pages
    context = (
        "the only page could not be read" if n == 1 else f"none of the {n} pages could be read"
    )
    raise error_for(first, context) from first


def check_page_count(total: int, max_pages: int) -> None:
    if total > max_pages:
        raise TooLarge(f"This PDF has {total} pages; the limit is {max_pages}.")
    if total == 0:
        raise CorruptPdf("This PDF has no pages.")


def _extract_pypdf(
    path: Path,
    *,
    max_pages: int,
    on_page: PageFn | None,
    should_cancel: CancelFn | None,
    min_chars_per_page: int,
) -> Extraction:
    with pypdf.apply_configuration(**PYPDF_LIMITS):
        try:
            reader = pypdf.PdfReader(path, strict=False)
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
        failures: list[tuple[int, BaseException]] = []
        image_pages = 0
        for number in range(1, total + 1):
            if should_cancel is not None and should_cancel():
                raise Cancelled(f"Cancelled at page {number} of {total}.")
            text = ""
            try:
                page = reader.pages[number - 1]
                text = page.extract_text() or ""
                image_pages += _has_images(page)
            except NEVER_SWALLOW:
                raise
            except Exception as exc:
                log_failure(path, f"page {number} of {total} could not be read", exc)
                failures.append((number, exc))
            texts.append(PageText(number, text))
            if on_page is not None:
                on_page(number, total)
    failed = [n for n, _ in failures]
    extraction = Extraction(texts, failed, image_pages, min_chars_per_page, engine="pypdf")
    finish(path, extraction, failures)
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


def _extract_pdfium_first(path: Path, *, auto: bool, **kwargs: Any) -> Extraction:
    from docjobs.tasks.extract_pdfium import PdfiumCannotRead, extract_with_pdfium

    try:
        extraction = extract_with_pdfium(path, **kwargs)
    except PdfiumCannotRead as exc:
        logger.info("%s: pdfium cannot read it (%s); reading with pypdf", path.name, exc)
        return _extract_pypdf(path, **kwargs)
    if auto and (extraction.failed_pages or extraction.low_text):
        # A second opinion, without progress (it would run backwards); keep the better read.
        try:
            second = _extract_pypdf(path, **{**kwargs, "on_page": None})
        except (CorruptPdf, UnsupportedPdf, TooLarge):
            return extraction
        worse = (len(extraction.failed_pages), -extraction.chars)
        if (len(second.failed_pages), -second.chars) < worse:
            return second
    return extraction
