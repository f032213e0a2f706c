"""PDF generators for tests (fpdf2, pypdf): written into tmp_path, never committed as binaries."""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, EncodedStreamObject, NameObject

VOCABULARY = [
    "river",
    "stone",
    "lantern",
    "harbor",
    "meadow",
    "copper",
    "violet",
    "engine",
    "signal",
    "orchard",
    "canyon",
    "ledger",
    "falcon",
    "glacier",
    "needle",
    "pepper",
    "quartz",
    "saddle",
    "timber",
    "walnut",
]


def page_words(page: int, count: int) -> list[str]:
    """Deterministic words for a page; the first names the page ("marker7x" on page 7)."""
    words = [f"marker{page}x"]
    words += [VOCABULARY[(page * 7 + i * 3) % len(VOCABULARY)] for i in range(count - 1)]
    return words


def write_text_pdf(path: Path, pages: Sequence[str]) -> Path:
    """One page per string, in Helvetica (Latin-1 text only)."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    path.write_bytes(bytes(pdf.output()))
    return path


def write_pages_pdf(path: Path, count: int, *, words_per_page: int = 60) -> Path:
    """`count` pages of prose; page N contains the word "markerNx"."""
    texts = [" ".join(page_words(n, words_per_page)) + "." for n in range(1, count + 1)]
    return write_text_pdf(path, texts)


def write_image_pdf(path: Path, pages: int = 1, *, caption: str = "") -> Path:
    """A scan: each page is one picture and has no text at all (or `caption` below it: an
    illustrated page, not a scan)."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for n in range(pages):
        image = Image.new("L", (120, 160), color=255)
        for x in range(10, 110):
            image.putpixel((x, 20 + 10 * n % 120), 0)  # a "line of print"
        pdf.add_page()
        pdf.image(image, x=10, y=10, w=180, h=120)
        if caption:
            pdf.set_y(140)
            pdf.multi_cell(0, 6, caption)
    path.write_bytes(bytes(pdf.output()))
    return path


def write_encrypted_pdf(path: Path, *, user_password: str, owner_password: str = "owner") -> Path:
    """A one-page text PDF encrypted with AES-256; an empty user password opens without one."""
    source = write_text_pdf(path, ["Confidential quarterly figures for the harbor project."])
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password, owner_password, algorithm="AES-256")
    _write(writer, path)
    return path


def write_pdf_with_broken_pages(path: Path, *, pages: int, broken: dict[int, str]) -> Path:
    """A text PDF whose pages in `broken` (1-based) get a bad content stream.

    Kinds: "corrupt" (undecodable ASCIIHex data: PdfStreamError), "unsupported" (an unknown
    filter: NotImplementedError), "bomb" (40 MB of spaces in 40 KB: LimitReachedError).
    """
    write_pages_pdf(path, pages)
    writer = PdfWriter(clone_from=PdfReader(path))
    for number, kind in broken.items():
        writer.pages[number - 1][NameObject("/Contents")] = writer._add_object(_bad_stream(kind))
    _write(writer, path)
    return path


def _bad_stream(kind: str) -> EncodedStreamObject | DecodedStreamObject:
    stream = EncodedStreamObject()
    if kind == "corrupt":
        stream._data = b"zz not hex at all >"
        stream[NameObject("/Filter")] = NameObject("/ASCIIHexDecode")
    elif kind == "unsupported":
        stream._data = b"whatever"
        stream[NameObject("/Filter")] = NameObject("/NoSuchDecode")
    elif kind == "bomb":
        stream._data = zlib.compress(b" " * 40_000_000, 9)
        stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    else:
        raise ValueError(f"unknown kind of broken page: {kind}")
    return stream


def _write(writer: PdfWriter, path: Path) -> None:
    buffer = io.BytesIO()
    writer.write(buffer)
    path.write_bytes(buffer.getvalue())


def write_long_pdf(path: Path, pages: int, *, words_per_page: int = 400) -> Path:
    """A many-page PDF fast: one real page, repeated (pypdf still reads every page)."""
    one = write_pages_pdf(path.with_suffix(".one.pdf"), 1, words_per_page=words_per_page)
    reader, writer = PdfReader(one), PdfWriter()
    for _ in range(pages):
        writer.add_page(reader.pages[0])
    _write(writer, path)
    return path
