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


def pdfium_text(path: Path) -> str:
    document = pypdfium2.PdfDocument(path)
    try:
        return str(document[0].get_textpage().get_text_bounded()).strip()
    finally:
        document.close()


def test_raw_deflate_is_left_alone_because_pdfium_does_not_inflate_it(tmp_path: Path) -> None:
    raw = write_deflate_bomb(tmp_path / "raw.pdf", inflated_mb=31, wbits=-zlib.MAX_WBITS, then=SEEN)
    assert check(raw) is None
    assert pdfium_text(raw) == ""
    # The same content with a zlib header is inflated, and refused.
    zlib_data = write_deflate_bomb(tmp_path / "zlib.pdf", inflated_mb=31, then=SEEN)
    assert pdfium_text(zlib_data) == "Inflated"
    assert check(zlib_data) == "a stream inflates past 30 MB"


SEEN = b"BT /F1 24 Tf 72 720 Td (Inflated) Tj ET"


# Stream dictionaries that pdfium reads as Flate while a reading of the bytes by pattern
# would not: each hid a 31 MB stream from an earlier version of the check.
HIDDEN_FLATE = {
    "escaped filter name": (b"/Filter /Fl#61teDecode", (), "named with #-escapes"),
    "escaped /Filter key": (b"/Fi#6Cter /FlateDecode", (), "named with #-escapes"),
    "a comment before the value": (b"/Filter %x\n/FlateDecode", (), "not plain names"),
    "the name behind a reference": (b"/Filter [6 0 R]", (b"/FlateDecode",), "not plain names"),
    "an object header in a string": (b"/Filter /Fl /X (9 0 obj)", (), "inflates past 30 MB"),
    "an object header in bare words": (b"/Filter /Fl /X 1 9 0 obj <<", (), "inflates past 30 MB"),
}


@pytest.mark.parametrize("layout", HIDDEN_FLATE, ids=list(HIDDEN_FLATE))
def test_a_flate_stream_pdfium_reads_is_refused_however_its_dictionary_is_written(
    tmp_path: Path, layout: str
) -> None:
    entry, extra, reason = HIDDEN_FLATE[layout]
    path = write_deflate_bomb(
        tmp_path / "hidden.pdf", inflated_mb=31, filter_entry=entry, extra_objects=extra, then=SEEN
    )
    assert pdfium_text(path) == "Inflated"  # pdfium does inflate it
    assert reason in (check(path) or "")


@pytest.mark.parametrize(
    "filters",
    [
        b"/LZWDecode",
        b"[/RL]",
        b"[/ASCIIHexDecode /FlateDecode]",
        b"[/Fl /Fl]",
        b"7 0 R",
        b"/LZ#57Decode",
        b"[/AHx %c\n/Fl]",
        b"/Encr#79pt 9 0 R /Filter /DCT",
    ],
)
def test_filters_that_cannot_be_counted_cheaply_go_to_pypdf(tmp_path: Path, filters: bytes) -> None:
    assert check(write_streams(tmp_path / "odd.pdf", (filters, b"whatever"))) is not None


@pytest.mark.parametrize(
    "filters",
    [b"/ASCIIHexDecode", b"[/A85]", b"/DCTDecode", b"[/Fl /DCT]", b"null /Name /Im#201"],
)
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
    for disguised in (b"/F /Fl#61teDecode", b"/F %c\n/Fl", b"/Fi#6Cter /FlateDecode"):
        content = zlib.compress(INLINE_BOMB.replace(b"/F /Fl", disguised))
        path = write_streams(tmp_path / "disguised.pdf", (b"/FlateDecode", content))
        assert check(path) == "a compressed inline image is not checked"
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
