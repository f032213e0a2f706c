"""Extract step: text page by page, with every failure turned into a JobError a person can read.

A bad page costs that page, not the document. The engine is pluggable: "auto" (the worker's
default: pypdfium2, 10-20x faster than pypdf, with pypdf reading what pdfium cannot open and
giving a second opinion where pdfium reads little), "pypdf" (pure Python, the most forgiving)
and "pdfium" (pdfium alone, pypdf only where it cannot open the file: for comparisons, as it
takes some damaged files for empty ones).
"""

from __future__ import annotations

import logging
import re
import struct
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from pypdf.errors import (
    DependencyError,
    DeprecationError,
    FileNotDecryptedError,
    LimitReachedError,
    PyPdfError,
)

from docjobs.jobs.errors import (
    CorruptPdf,
    JobError,
    PasswordProtected,
    TooLarge,
    UnsupportedPdf,
)
from docjobs.tasks.progress import CancelFn

if TYPE_CHECKING:
    from docjobs.tasks.extract_pypdf import ReaderCache

logger = logging.getLogger(__name__)

try:  # Celery's soft time limit is an Exception: it must stop the job, not fail one page.
    from billiard.exceptions import SoftTimeLimitExceeded

    NEVER_SWALLOW: tuple[type[BaseException], ...] = (JobError, SoftTimeLimitExceeded)
except ImportError:  # pragma: no cover - billiard comes with celery
    NEVER_SWALLOW = (JobError,)

PageFn = Callable[[int, int], None]
ENGINES = ("pypdf", "pdfium", "auto")


# A lone surrogate (a ToUnicode map can yield one) cannot be encoded as UTF-8: the store, the
# embedder and Slack would all refuse the page. NUL is dropped: SQLite and JSON consumers trip.
_UNENCODABLE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """A page's text as every later step can take it: lone surrogates become U+FFFD."""
    text = text.replace("\x00", "")
    return _UNENCODABLE.sub("\ufffd", text) if _UNENCODABLE.search(text) else text


class TextBudget:
    """The most text one read may hold. A small file can draw millions of characters on each
    page (one compressed stream shared by every page): unchecked, that is gigabytes in the
    worker, hours of chunking and a paid embedding bill."""

    def __init__(self, max_chars: int | None) -> None:
        self.max_chars = max_chars
        self.used = 0

    def spend(self, text: str) -> None:
        self.used += len(text)
        if self.max_chars is not None and self.used > self.max_chars:
            raise TooLarge(
                f"Its text runs past {self.max_chars:,} characters, the most one job may hold "
                "(DOCJOBS_MAX_TEXT_CHARS)."
            )


class PageText(NamedTuple):
    number: int  # 1-based
    text: str


class PageRange(NamedTuple):
    """The pages to read: `first` to `last` (1-based, inclusive; None: to the end)."""

    first: int = 1
    last: int | None = None

    def numbers(self, total: int) -> range:
        return range(self.first, min(self.last or total, total) + 1)

    def is_whole(self, total: int) -> bool:
        return self.first == 1 and (self.last is None or self.last >= total)


@dataclass
class Extraction:
    """What came out of one PDF: the text of every page ("" for pages that failed)."""

    page_texts: list[PageText]
    failed_pages: list[int] = field(default_factory=list)
    # Pictures of pages: pages with under `min_chars_per_page` characters that paint an image.
    image_pages: int = 0
    min_chars_per_page: int = 20
    engine: str = "pypdf"
    # For a page range only: what the whole document fails with if all its pages fail like
    # these did (a range cannot tell alone; the job's joiner decides).
    unreadable: JobError | None = None

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
        return is_low_text(self)

    @property
    def no_text_layer(self) -> bool:
        return is_low_text(self) and self.image_pages > 0


class _Counted(Protocol):
    @property
    def pages(self) -> int: ...
    @property
    def chars(self) -> int: ...
    @property
    def failed_pages(self) -> list[int]: ...
    @property
    def min_chars_per_page(self) -> int: ...


def is_low_text(counted: _Counted) -> bool:
    """Fewer than `min_chars_per_page` characters per readable page on average; with pictures
    of pages (`no_text_layer`), a scan that needs OCR."""
    readable = counted.pages - len(counted.failed_pages)
    return counted.chars < counted.min_chars_per_page * max(readable, 1)


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
    # The sentence (JobError.sentence) leads with the kind of failure in plain words; the
    # reader's own message follows as labelled detail, for whoever has to look into it.
    return cls(f"Details: {prefix}{reason.rstrip('.')}.")


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


def log_failure(
    path: Path, what: str, exc: BaseException, *, expected: tuple[type[BaseException], ...] = ()
) -> None:
    """Log a failure; called from inside the except block that caught `exc`. `expected`: the
    calling engine's own errors for a broken file (no traceback needed)."""
    if isinstance(exc, _EXPECTED + expected):
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
    first_page: int = 1,
    last_page: int | None = None,
    readers: ReaderCache | None = None,
    max_chars: int | None = None,
) -> Extraction:
    """Read the text of every page; raise a JobError if the document as a whole cannot be read,
    or if its text runs past `max_chars`.

    With `first_page`/`last_page` (1-based, inclusive; clipped to the document) only that range
    is read, `on_page` counts within it, and a range whose every page fails is not an error by
    itself: the error the document would fail with is left in `Extraction.unreadable`.
    `readers` keeps pypdf's reader of the file for the next range read from it.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown extraction engine {engine!r}; expected one of {ENGINES}")
    path = Path(path)
    kwargs: dict[str, Any] = {
        "max_pages": max_pages,
        "on_page": on_page,
        "should_cancel": should_cancel,
        "min_chars_per_page": min_chars_per_page,
        "pages": PageRange(max(first_page, 1), last_page),
        "max_chars": max_chars,
    }
    if engine == "pypdf":
        from docjobs.tasks.extract_pypdf import extract_with_pypdf

        return extract_with_pypdf(path, readers=readers, **kwargs)
    return _extract_pdfium_first(path, auto=engine == "auto", readers=readers, **kwargs)


def finish(
    path: Path,
    extraction: Extraction,
    failures: list[tuple[int, BaseException]],
    *,
    total: int,
    whole: bool = True,
) -> None:
    """Fail the document if every page failed, with the commonest failure's class (for a page
    range, keep that error in `extraction.unreadable` instead)."""
    if not failures or len(failures) < extraction.pages:
        return
    classes = Counter(classify(exc) for _, exc in failures)
    cls = classes.most_common(1)[0][0]
    first = next(exc for _, exc in failures if classify(exc) is cls)
    if total == 1:
        context = "the only page could not be read"
    else:
        context = f"none of the {total} pages could be read"
    error = error_for(first, context)
    if not whole:
        extraction.unreadable = error
        return
    raise error from first


def file_identity(path: Path) -> tuple[str, int, int]:
    """What the engines' one-file caches know a file by (a split job's parts read one file a
    range at a time): its path, size and modification time."""
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


class PageCount(NamedTuple):
    pages: int
    reader: str  # the engine that will read the pages: "pdfium" or "pypdf"


def count_pages(path: Path, *, engine: str = "pypdf") -> PageCount | None:
    """The document's page count, as `engine` will see it, and which engine will read it,
    without reading any page; None if it cannot be opened (extraction then says why)."""
    from docjobs.tasks.extract_pypdf import count_with_pypdf

    if engine != "pypdf":
        from docjobs.tasks.extract_pdfium import count_with_pdfium

        count = count_with_pdfium(path)
        if count:
            return PageCount(count, "pdfium")
    count = count_with_pypdf(path)
    return None if count is None else PageCount(count, "pypdf")


def check_page_count(total: int, max_pages: int) -> None:
    if total > max_pages:
        raise TooLarge(f"This PDF has {total} pages; the limit is {max_pages}.")
    if total == 0:
        raise CorruptPdf("This PDF has no pages.")


def _extract_pdfium_first(
    path: Path, *, auto: bool, readers: ReaderCache | None, **kwargs: Any
) -> Extraction:
    from docjobs.tasks.extract_pdfium import PdfiumCannotRead, extract_with_pdfium
    from docjobs.tasks.extract_pypdf import extract_with_pypdf

    try:
        extraction = extract_with_pdfium(path, **kwargs)
    except PdfiumCannotRead as exc:
        logger.info("%s: pdfium cannot read it (%s); reading with pypdf", path.name, exc)
        return extract_with_pypdf(path, readers=readers, **kwargs)
    if auto and (extraction.failed_pages or extraction.low_text):
        return _second_opinion(path, extraction, **kwargs)
    return extraction


def _second_opinion(path: Path, first: Extraction, **kwargs: Any) -> Extraction:
    """pypdf's read of what pdfium read poorly: the better of the two, or pypdf's error where it
    cannot read the file at all and pdfium's read is not worth keeping either."""
    from docjobs.tasks.extract_pypdf import extract_with_pypdf

    # pdfium has closed the document by now, and pypdf's reader is not cached (no `readers`):
    # the two engines never hold the file at once. No progress: it would run backwards.
    try:
        second = extract_with_pypdf(path, **{**kwargs, "on_page": None})
    except (CorruptPdf, UnsupportedPdf, TooLarge) as exc:
        if not _worth_keeping(first):
            logger.info("%s: pdfium read little and pypdf cannot read it: %s", path.name, exc.code)
            raise
        return first
    if (len(second.failed_pages), -second.chars) < (len(first.failed_pages), -first.chars):
        return second
    return first


def _worth_keeping(extraction: Extraction) -> bool:
    """Whether pdfium's read stands although pypdf cannot open the file: it found text, and
    most pages opened. An empty read of such a file is a damaged file, not an empty one."""
    return extraction.chars > 0 and 2 * len(extraction.failed_pages) < extraction.pages
