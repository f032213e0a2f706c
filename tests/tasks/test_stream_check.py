"""What keeps a decompression bomb away from pdfium (tasks/stream_check.py)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pypdfium2
import pytest

from docjobs.jobs.errors import TooLarge
from docjobs.tasks.extract import extract_pages
from docjobs.tasks.stream_check import unsafe_for_pdfium
from tests.support.hostile import write_deflate_bomb
from tests.support.pdfs import write_encrypted_pdf, write_pages_pdf

MB = 1_000_000


def write_streams(path: Path, *streams: tuple[bytes, bytes]) -> Path:
    """Numbered objects, each a stream with the given filter entry and data (no xref: the
    check reads streams, not the document)."""
    body = b"%PDF-1.7\n"
    for number, (filters, data) in enumerate(streams, 1):
        head = b"%d 0 obj\n<< /Length %d /Filter %s >>\nstream\r\n" % (number, len(data), filters)
        body += head + data + b"\nendstream\nendobj\n"
    path.write_bytes(body)
    return path


def check(path: Path, *, stream_mb: int = 30, total_mb: int = 256) -> str | None:
    return unsafe_for_pdfium(path, max_stream_bytes=stream_mb * MB, max_total_bytes=total_mb * MB)


def spaces(mb: int, wbits: int = zlib.MAX_WBITS) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return compressor.compress(b" " * mb * MB) + compressor.flush()


def test_an_ordinary_text_pdf_is_safe(tmp_path: Path) -> None:
    assert check(write_pages_pdf(tmp_path / "ten.pdf", 10)) is None


def test_a_deflate_bomb_is_caught_without_inflating_it_whole(tmp_path: Path) -> None:
    path = write_deflate_bomb(tmp_path / "bomb.pdf", inflated_mb=40)
    assert check(path) == "a stream inflates past 30 MB"
    assert check(path, stream_mb=50) is None


def test_streams_are_also_counted_together(tmp_path: Path) -> None:
    path = write_streams(tmp_path / "many.pdf", *[(b"/FlateDecode", spaces(20))] * 4)
    assert check(path) is None
    assert check(path, total_mb=70) == "its streams inflate past 70 MB together"


def test_raw_deflate_without_a_zlib_header_is_counted_too(tmp_path: Path) -> None:
    path = write_streams(tmp_path / "raw.pdf", (b"[/Fl]", spaces(40, -zlib.MAX_WBITS)))
    assert check(path) == "a stream inflates past 30 MB"


@pytest.mark.parametrize(
    "filters",
    [b"/LZWDecode", b"[/RL]", b"[/ASCIIHexDecode /FlateDecode]", b"[/Fl /Fl]", b"7 0 R"],
)
def test_filters_that_cannot_be_counted_cheaply_go_to_pypdf(tmp_path: Path, filters: bytes) -> None:
    assert check(write_streams(tmp_path / "odd.pdf", (filters, b"whatever"))) is not None


@pytest.mark.parametrize("filters", [b"/ASCIIHexDecode", b"[/A85]", b"/DCTDecode", b"[/Fl /DCT]"])
def test_filters_that_do_not_expand_are_fine(tmp_path: Path, filters: bytes) -> None:
    assert check(write_streams(tmp_path / "fine.pdf", (filters, zlib.compress(b"q Q")))) is None


INLINE_BOMB = (
    b"BI /W 4000 /H 4000 /BPC 8 /CS /G /F /Fl ID " + zlib.compress(bytes(16 * MB)) + b" EI"
)


def test_a_compressed_inline_image_in_a_content_stream_is_not_given_to_pdfium(
    tmp_path: Path,
) -> None:
    plain = write_streams(tmp_path / "plain.pdf", (b"[]", b"q " + INLINE_BOMB + b" Q"))
    assert check(plain) == "a compressed inline image is not checked"
    packed = write_streams(tmp_path / "packed.pdf", (b"/FlateDecode", zlib.compress(INLINE_BOMB)))
    assert check(packed) == "a compressed inline image is not checked"
    uncompressed = b"BI /W 2 /H 1 /BPC 8 /CS /G ID ab EI BT (BIG ID /F /Fl) Tj ET"
    assert (
        check(write_streams(tmp_path / "fine.pdf", (b"/Fl", zlib.compress(uncompressed)))) is None
    )


def test_an_inline_image_dictionary_split_across_inflated_chunks_is_still_read(
    tmp_path: Path,
) -> None:
    content = b" " * ((1 << 20) - 10) + b"BI /W 9 /H 9 /BPC 8 /CS /G /F /Fl ID x EI"
    path = write_streams(tmp_path / "split.pdf", (b"/Fl", zlib.compress(content)))
    assert check(path) == "a compressed inline image is not checked"


@pytest.mark.parametrize(
    ("layout", "reason"),
    [
        (b"1 0 obj\n<< /Filter /Fl >>\nstream   \n", None),
        (b"1 0 obj\n<< /Filter /Fl >>\nstream" + b" " * 80 + b"\n", "does not start on the next"),
        (b"1 0 obj\n<< /Filter /DCT /Filter /Fl >>\nstream\n", "more than once"),
        (b"<< /Filter /Fl >>\nstream\n", "not where it should be"),
    ],
)
def test_stream_layouts_pdfium_might_read_otherwise_are_refused(
    tmp_path: Path, layout: bytes, reason: str | None
) -> None:
    path = tmp_path / "layout.pdf"
    path.write_bytes(b"%PDF-1.7\n" + layout + zlib.compress(b"q Q") + b"\nendstream\nendobj\n")
    found = check(path)
    assert found is None if reason is None else (found is not None and reason in found)


def test_an_encrypted_pdf_cannot_be_checked(tmp_path: Path) -> None:
    path = write_encrypted_pdf(tmp_path / "locked.pdf", user_password="")
    assert check(path) == "encrypted: its streams cannot be checked"


@pytest.mark.parametrize("engine", ["auto", "pdfium"])
def test_the_fast_engines_leave_a_bomb_to_pypdf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("pdfium was given a decompression bomb")

    monkeypatch.setattr(pypdfium2, "PdfDocument", never)
    path = write_deflate_bomb(tmp_path / "bomb.pdf", inflated_mb=40)
    with pytest.raises(TooLarge):
        extract_pages(path, max_pages=10, engine=engine)
