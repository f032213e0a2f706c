"""Hostile files, made on the spot: a decompression bomb, a lying page count, deep nesting,
an xref loop, and non-PDFs wearing a .pdf name."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path


def _pdf(objects: list[bytes], *, root: int = 1, trailer_extra: bytes = b"") -> bytes:
    """Assemble numbered objects into a PDF with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R %s>>\n" % (len(objects) + 1, root, trailer_extra))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def _page_objects(
    content: bytes, *, filter_flate: bool, count: int = 1, filter_entry: bytes | None = None
) -> list[bytes]:
    if filter_entry is None:
        filter_entry = b"/Filter /FlateDecode" if filter_flate else b""
    stream_dict = b"<< /Length %d %s >>" % (len(content), filter_entry)
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % count,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        stream_dict + b"\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def write_deflate_bomb(
    path: Path,
    *,
    inflated_mb: int = 400,
    filter_entry: bytes = b"/Filter /FlateDecode",
    extra_objects: tuple[bytes, ...] = (),
    wbits: int = zlib.MAX_WBITS,
    then: bytes = b"",
) -> Path:
    """A one-page PDF whose content stream inflates to `inflated_mb` megabytes of spaces and
    then `then`: its stream dictionary's filter entry as given (objects 6 and on are
    `extra_objects`), its data zlib (or raw deflate, with a negative `wbits`)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b" " * (1 << 20)
    data = b"".join(compressor.compress(block) for _ in range(inflated_mb))
    data += compressor.compress(then) + compressor.flush()
    objects = _page_objects(data, filter_flate=True, filter_entry=filter_entry)
    path.write_bytes(_pdf(objects + list(extra_objects)))
    return path


def write_lying_count(path: Path, *, claimed: int = 10_000_000) -> Path:
    text = b"BT /F1 12 Tf 72 720 Td (One real page.) Tj ET"
    path.write_bytes(_pdf(_page_objects(text, filter_flate=False, count=claimed)))
    return path


def write_deep_nesting(path: Path, *, depth: int = 50_000) -> Path:
    """An object nested `depth` arrays deep (parsers that recurse run out of stack)."""
    objects = _page_objects(b"BT /F1 12 Tf 72 720 Td (Nested.) Tj ET", filter_flate=False)
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R /Junk " + b"[" * depth + b"]" * depth + b" >>"
    path.write_bytes(_pdf(objects))
    return path


def write_xref_loop(path: Path) -> Path:
    """A trailer whose /Prev points back at its own xref table."""
    body = _pdf(_page_objects(b"BT /F1 12 Tf 72 720 Td (Loop.) Tj ET", filter_flate=False))
    xref_at = int(body.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    path.write_bytes(body.replace(b"/Root 1 0 R ", b"/Root 1 0 R /Prev %d " % xref_at))
    return path


def write_zip_named_pdf(path: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("report.docx", b"not really a document")
    path.write_bytes(buffer.getvalue())
    return path


def write_mention_filter(path: Path) -> Path:
    """A page whose stream names an unknown filter, escaped so that it reads `<!channel>`: a
    reader's error message quotes it, and a reason passed to Slack unescaped pings everyone."""
    objects = _page_objects(b"garbage", filter_flate=False, filter_entry=b"/Filter /#3C!channel#3E")
    path.write_bytes(_pdf(objects))
    return path


def write_lone_surrogate(path: Path) -> Path:
    """A page whose font's ToUnicode map turns "A" into a lone surrogate (U+D800) and "B" into
    NUL: text no UTF-8 encoder takes."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /X def "
        b"1 begincodespacerange <00> <FF> endcodespacerange "
        b"2 beginbfchar <41> <D800> <42> <0000> endbfchar "
        b"endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    text = b"BT /F1 12 Tf 72 720 Td (" + b"AB hello world " * 5 + b") Tj ET"
    objects = _page_objects(text, filter_flate=False)
    objects[4] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>"
    objects.append(b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream")
    path.write_bytes(_pdf(objects))
    return path


def write_self_drawing_form(path: Path) -> Path:
    """A page that draws a form XObject which draws itself twice: pdfium recurses until it
    runs out of memory and aborts its process (SIGABRT); pypdf reads the page's text."""
    text = b"BT /F1 12 Tf 72 720 Td (A form that draws itself.) Tj ET /X Do"
    objects = _page_objects(text, filter_flate=False)
    objects[2] = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /XObject << /X 6 0 R >> /Font << /F1 5 0 R >> >> >>"
    )
    form = b"/X Do /X Do"
    objects.append(
        b"<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Length %d"
        b" /Resources << /XObject << /X 6 0 R >> >> >>\nstream\n"
        % len(form)
        + form
        + b"\nendstream"
    )
    path.write_bytes(_pdf(objects))
    return path
