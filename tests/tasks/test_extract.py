"""Text extraction on generated PDFs: page by page, failures classified, one bad page not fatal."""

from __future__ import annotations

from pathlib import Path

import pypdf
import pytest
from billiard.exceptions import SoftTimeLimitExceeded
from pypdf.errors import (
    DependencyError,
    DeprecationError,
    EmptyFileError,
    FileNotDecryptedError,
    LimitReachedError,
    PdfReadError,
    PdfStreamError,
    WrongPasswordError,
)

from docjobs.jobs.errors import (
    Cancelled,
    CorruptPdf,
    PasswordProtected,
    TooLarge,
    UnsupportedPdf,
)
from docjobs.tasks.extract import classify, extract_pages
from tests.support.pdfs import (
    page_words,
    write_encrypted_pdf,
    write_image_pdf,
    write_pages_pdf,
    write_pdf_with_broken_pages,
    write_text_pdf,
)

ENGINES = ["pypdf", "pdfium", "auto"]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_page_is_read_in_order_with_progress(tmp_path: Path, engine: str) -> None:
    path = write_pages_pdf(tmp_path / "five.pdf", 5)
    calls: list[tuple[int, int]] = []

    result = extract_pages(
        path, max_pages=100, on_page=lambda d, t: calls.append((d, t)), engine=engine
    )

    assert result.pages == 5
    assert [page.number for page in result.page_texts] == [1, 2, 3, 4, 5]
    for page in result.page_texts:
        assert f"marker{page.number}x" in page.text
        assert f"marker{page.number + 1}x" not in page.text
    assert calls == [(n, 5) for n in range(1, 6)]
    assert result.words == sum(len(p.text.split()) for p in result.page_texts) >= 5 * 60
    assert result.chars == sum(len(p.text) for p in result.page_texts)
    assert result.failed_pages == [] and not result.low_text and not result.no_text_layer


def test_too_many_pages_is_refused_before_reading_any(tmp_path: Path) -> None:
    path = write_pages_pdf(tmp_path / "six.pdf", 6, words_per_page=5)
    calls: list[tuple[int, int]] = []
    with pytest.raises(TooLarge) as caught:
        extract_pages(path, max_pages=5, on_page=lambda d, t: calls.append((d, t)))
    assert "6 pages" in caught.value.detail and "5" in caught.value.detail
    assert calls == []


@pytest.mark.parametrize("engine", ENGINES)
def test_cancel_is_checked_between_pages(tmp_path: Path, engine: str) -> None:
    path = write_pages_pdf(tmp_path / "ten.pdf", 10, words_per_page=5)
    calls: list[tuple[int, int]] = []
    with pytest.raises(Cancelled):
        extract_pages(
            path,
            max_pages=100,
            on_page=lambda d, t: calls.append((d, t)),
            should_cancel=lambda: len(calls) >= 3,
            engine=engine,
        )
    assert calls == [(1, 10), (2, 10), (3, 10)]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_password_protected_pdf_is_reported_as_such(tmp_path: Path, engine: str) -> None:
    path = write_encrypted_pdf(tmp_path / "locked.pdf", user_password="s3cret")
    with pytest.raises(PasswordProtected):
        extract_pages(path, max_pages=100, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_encrypted_with_an_empty_password_opens(tmp_path: Path, engine: str) -> None:
    path = write_encrypted_pdf(tmp_path / "open.pdf", user_password="")
    result = extract_pages(path, max_pages=100, engine=engine)
    assert "quarterly figures" in result.page_texts[0].text


def test_one_broken_page_costs_only_that_page(tmp_path: Path) -> None:
    path = write_pdf_with_broken_pages(tmp_path / "p2.pdf", pages=3, broken={2: "corrupt"})
    calls: list[tuple[int, int]] = []

    result = extract_pages(path, max_pages=100, on_page=lambda d, t: calls.append((d, t)))

    assert result.pages == 3 and result.failed_pages == [2]
    assert "marker1x" in result.page_texts[0].text and "marker3x" in result.page_texts[2].text
    assert result.page_texts[1].text == ""
    assert calls == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize(
    ("kind", "error"),
    [("corrupt", CorruptPdf), ("unsupported", UnsupportedPdf), ("bomb", TooLarge)],
)
def test_when_every_page_fails_the_document_fails_with_their_kind(
    tmp_path: Path, kind: str, error: type
) -> None:
    path = write_pdf_with_broken_pages(tmp_path / f"{kind}.pdf", pages=2, broken={1: kind, 2: kind})
    with pytest.raises(error) as caught:
        extract_pages(path, max_pages=100)
    assert "none of the 2 pages" in caught.value.detail


def test_mixed_failures_take_the_commonest_kind(tmp_path: Path) -> None:
    broken = {1: "unsupported", 2: "corrupt", 3: "unsupported"}
    path = write_pdf_with_broken_pages(tmp_path / "mixed.pdf", pages=3, broken=broken)
    with pytest.raises(UnsupportedPdf):
        extract_pages(path, max_pages=100)


def test_a_decompression_bomb_page_hits_the_lowered_limit(tmp_path: Path) -> None:
    # 40 MB of spaces: under pypdf's own 75 MB default, over the limit we set for the bot.
    path = write_pdf_with_broken_pages(tmp_path / "bomb.pdf", pages=2, broken={2: "bomb"})
    result = extract_pages(path, max_pages=100)
    assert result.failed_pages == [2]
    assert pypdf.get_configuration().zlib_maximum_output_length == 75_000_000  # not leaked


@pytest.mark.parametrize("engine", ENGINES)
def test_a_scan_is_flagged_as_having_no_text_layer(tmp_path: Path, engine: str) -> None:
    path = write_image_pdf(tmp_path / "scan.pdf", pages=3)
    result = extract_pages(path, max_pages=100, engine=engine)
    assert result.pages == 3 and result.chars == 0
    assert result.image_pages == 3 and result.no_text_layer


@pytest.mark.parametrize("engine", ENGINES)
def test_pictures_beside_text_are_not_pictures_of_pages(tmp_path: Path, engine: str) -> None:
    caption = " ".join(page_words(1, 40))
    path = write_image_pdf(tmp_path / "illustrated.pdf", pages=2, caption=caption)
    result = extract_pages(path, max_pages=100, engine=engine)
    assert "marker1x" in result.page_texts[0].text
    assert result.image_pages == 0 and not result.low_text and not result.no_text_layer


def test_a_short_text_without_images_is_little_text_not_a_scan(tmp_path: Path) -> None:
    path = write_text_pdf(tmp_path / "short.pdf", ["Name", "Date"])
    result = extract_pages(path, max_pages=100, min_chars_per_page=20)
    assert result.low_text and not result.no_text_layer
    assert not extract_pages(path, max_pages=100, min_chars_per_page=4).low_text


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("content", [b"", b"%PDF-1.7\n" + bytes(range(256)) * 8, b"%PDF-1.4\n1 0"])
def test_garbage_is_a_damaged_pdf(tmp_path: Path, content: bytes, engine: str) -> None:
    path = tmp_path / "garbage.pdf"
    path.write_bytes(content)
    with pytest.raises(CorruptPdf):
        extract_pages(path, max_pages=100, engine=engine)


def test_the_soft_time_limit_is_not_swallowed_as_a_bad_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_pages_pdf(tmp_path / "slow.pdf", 3, words_per_page=5)

    def out_of_time(self: object, *args: object, **kwargs: object) -> str:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(pypdf.PageObject, "extract_text", out_of_time)
    with pytest.raises(SoftTimeLimitExceeded):
        extract_pages(path, max_pages=100)


def test_unknown_engine_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="engine"):
        extract_pages(write_pages_pdf(tmp_path / "a.pdf", 1), max_pages=9, engine="ocr")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (FileNotDecryptedError("no"), PasswordProtected),
        (WrongPasswordError("no"), PasswordProtected),
        (EmptyFileError("empty"), CorruptPdf),
        (PdfReadError("xref"), CorruptPdf),
        (PdfStreamError("eof"), CorruptPdf),
        (RecursionError(), CorruptPdf),
        (KeyError("/Root"), CorruptPdf),
        (LimitReachedError("big"), TooLarge),
        (MemoryError(), TooLarge),
        (DependencyError("jbig2dec"), UnsupportedPdf),
        (DeprecationError("/A85"), UnsupportedPdf),
        (NotImplementedError("filter"), UnsupportedPdf),
    ],
)
def test_classify_maps_pypdf_failures_to_job_errors(exc: BaseException, expected: type) -> None:
    assert classify(exc) is expected
