"""Whether a PDF is safe to give pdfium, which has no decompression limits of its own.

PDFium inflates a stream (or an inline image, to find where it ends) up to 1 GiB and aborts the
whole process when an allocation fails: a decompression bomb would kill the worker's pool
process, where pypdf raises LimitReachedError for that page. So before pdfium reads a file,
each Flate stream's inflated size is counted (output discarded) against pypdf's limit; what
cannot be counted this cheaply (other expanding filters, a Flate layer behind another filter,
a compressed inline image, encryption) sends the file to pypdf.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from pathlib import Path

# The filters that expand their input, by full and abbreviated name; the others are image
# codecs pdfium does not decode to read text, or ASCII layers that only shrink.
_EXPANDING = {b"FlateDecode", b"Fl", b"LZWDecode", b"LZW", b"RunLengthDecode", b"RL"}
_FLATE = {b"FlateDecode", b"Fl"}
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[^\s/\[\]<>()]+|\d+\s+\d+\s+R)")
# An inline image's filter (/F or /Filter), between "BI" and "ID" in a content stream.
_INLINE_FILTER = re.compile(rb"/F(?:ilter)?\s*(\[[^\]]*\]|/[^\s/\[\]<>()]+)")
_WHITE = b" \t\r\n\x0c\x00"
_DELIMITERS = _WHITE + b"()<>[]{}/%"
_NAME = re.compile(rb"/([^\s/\[\]<>()]+)")
_OBJECT_HEADER = re.compile(rb"\d+\s+\d+\s+$")
_DICT_WINDOW = 8192  # bytes looked back from "stream" for its object's header
_INPUT_CHUNK = 16384
_OUTPUT_CHUNK = 1 << 20
_MAX_INLINE_DICT = 65536  # an inline image's dictionary is a few dozen bytes


class _Unsafe(Exception):
    """Why pdfium must not read the file."""


def unsafe_for_pdfium(path: Path, *, max_stream_bytes: int, max_total_bytes: int) -> str | None:
    """Why pdfium must not read this file (pypdf should), or None if every stream that expands
    stays within `max_stream_bytes`, and within `max_total_bytes` together."""
    data = path.read_bytes()
    try:
        _check(data, max_stream_bytes, max_total_bytes)
    except _Unsafe as exc:
        return str(exc)
    return None


def _check(data: bytes, max_stream_bytes: int, max_total_bytes: int) -> None:
    if b"/Encrypt" in data:
        raise _Unsafe("encrypted: its streams cannot be checked")
    _inline_images(data)  # in content streams stored uncompressed
    view = memoryview(data)
    total = 0
    for keyword, body in _streams(data):
        names = _filters(data, keyword)
        expanding = [name for name in names if name in _EXPANDING]
        if not expanding:
            continue
        if len(expanding) > 1 or names[0] not in _FLATE:
            shown = b" ".join(names).decode(errors="replace")
            raise _Unsafe(f"a stream's filters ({shown}) are not checked")
        size = _inflated_size(view, body, max_stream_bytes)
        if size > max_stream_bytes:
            raise _Unsafe(f"a stream inflates past {max_stream_bytes // 1_000_000} MB")
        total += size
        if total > max_total_bytes:
            raise _Unsafe(f"its streams inflate past {max_total_bytes // 1_000_000} MB together")


def _streams(data: bytes) -> Iterator[tuple[int, int]]:
    """Where each "stream" keyword is, and where its data starts: on the next line, as pdfium
    reads it (a plain search: a regular expression is several times slower over binary data)."""
    at = data.find(b"stream")
    while at >= 0:
        after = at + 6
        if data[max(at - 3, 0) : at] != b"end":
            ends = [
                i
                for i in (data.find(b"\r", after, after + 64), data.find(b"\n", after, after + 64))
                if i >= 0
            ]
            if not ends:
                raise _Unsafe("a stream's data does not start on the next line")
            eol = min(ends)
            yield at, eol + (2 if data[eol : eol + 2] == b"\r\n" else 1)
        at = data.find(b"stream", after)


def _filters(data: bytes, keyword: int) -> list[bytes]:
    """The filter names in the dictionary of the stream whose keyword is at `keyword`."""
    begin = data.rfind(b"obj", max(0, keyword - _DICT_WINDOW), keyword)
    while begin >= 0 and not _OBJECT_HEADER.search(data, max(0, begin - 24), begin):
        begin = data.rfind(b"obj", max(0, keyword - _DICT_WINDOW), begin)
    if begin < 0:
        raise _Unsafe("a stream's dictionary is not where it should be")
    found = list(_FILTER.finditer(data, begin + 3, keyword))
    if not found:
        return []
    if len(found) > 1:
        raise _Unsafe("a stream names its filters more than once")
    value = found[0].group(1)
    if value[:1].isdigit():
        raise _Unsafe("a stream's filter is an indirect object")
    return _NAME.findall(value)


def _inline_images(text: bytes) -> int:
    """Raise _Unsafe for an inline image in `text` whose filters expand; return where the
    dictionary of one that `text` does not finish starts (len(text) if none does)."""
    at = _token(text, b"BI", 0)
    while at >= 0:
        data = _token(text, b"ID", at + 2)
        if data < 0:
            return at
        for found in _INLINE_FILTER.finditer(text, at + 2, data):
            if any(name in _EXPANDING for name in _NAME.findall(found.group(1))):
                raise _Unsafe("a compressed inline image is not checked")
        at = _token(text, b"BI", data + 2)
    return len(text)


def _token(text: bytes, word: bytes, start: int) -> int:
    """Where `word` next stands alone in content-stream text, or -1."""
    at = text.find(word, start)
    while at >= 0:
        before, after = text[at - 1 : at], text[at + 2 : at + 3]
        if (at == 0 or before in _DELIMITERS) and after in _DELIMITERS:
            return at
        at = text.find(word, at + 1)
    return -1


def _inflated_size(data: memoryview, start: int, limit: int) -> int:
    """The bytes a zlib stream at `start` inflates to, counted up to just past `limit` (and
    searched for compressed inline images); a corrupt stream counts what came out before the
    damage. Data without a zlib header is counted as raw deflate, as lenient decoders read it."""
    size, readable = _inflate(data, start, limit, zlib.MAX_WBITS)
    return size if readable else _inflate(data, start, limit, -zlib.MAX_WBITS)[0]


def _inflate(data: memoryview, start: int, limit: int, wbits: int) -> tuple[int, bool]:
    inflater = zlib.decompressobj(wbits)
    size, carry = 0, b""
    for offset in range(start, len(data), _INPUT_CHUNK):
        pending: bytes | memoryview = data[offset : offset + _INPUT_CHUNK]
        try:
            while pending and not inflater.eof:
                out = inflater.decompress(pending, _OUTPUT_CHUNK)
                size += len(out)
                if size > limit:
                    return size, True
                text = carry + out
                unfinished = _inline_images(text)  # searched on with the next output
                carry = text[unfinished:] if unfinished < len(text) else text[-3:]
                if len(carry) > _MAX_INLINE_DICT:
                    raise _Unsafe("an inline image's dictionary does not end")
                pending = inflater.unconsumed_tail
        except zlib.error:
            return size, offset > start or size > 0
        if inflater.eof:
            break
    return size, True
