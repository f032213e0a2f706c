"""Whether a PDF is safe to give pdfium, which has no decompression limits of its own.

PDFium inflates a stream (or an inline image, to find where it ends) up to 1 GiB and aborts the
whole process when an allocation fails: a decompression bomb would kill the worker's pool
process, where pypdf raises LimitReachedError for that page. So before pdfium reads a file,
what its streams inflate to is counted (output discarded) against pypdf's limit; what cannot be
counted this cheaply (other expanding filters, a Flate layer behind another filter, a compressed
inline image, encryption) sends the file to pypdf.

The check does not trust its own reading of stream dictionaries: a name can be spelled with
#-escapes, a comment can sit between a key and its value, a string can hold what looks like an
object header, and pdfium reads them all as the file means them. So every stream whose data is
zlib data is counted whatever its dictionary says (pdfium's Flate decoder reads nothing else),
and the file-wide rules refuse what could hide another expanding filter: an escaped name for a
filter or for /Encrypt, and any /Filter value that is not plain names.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from pathlib import Path

# The filters that expand their input, by full and abbreviated name; the others are image
# codecs pdfium does not decode to read text, or ASCII layers that only shrink.
_FLATE = {b"FlateDecode", b"Fl"}
_EXPANDING = _FLATE | {b"LZWDecode", b"LZW", b"RunLengthDecode", b"RL"}
# Names no producer escapes; an escaped one can only mean to get past this check.
_GUARDED = _EXPANDING | {b"Filter", b"F", b"Encrypt"}
_WHITE = b" \t\r\n\x0c\x00"
_DELIMITERS = _WHITE + b"()<>[]{}/%"
_NAME_CHARS = rb"[^ \t\r\n\x0c\x00()<>\[\]{}/%]"
_NAME = re.compile(rb"/(" + _NAME_CHARS + rb"+)")
_ESCAPED_NAME = re.compile(rb"/(" + _NAME_CHARS + rb"*#" + _NAME_CHARS + rb"*)")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_FILTER_KEY = re.compile(rb"/Filter(?!" + _NAME_CHARS + rb")")
_SPACE = rb"[ \t\r\n\x0c\x00]*"
# A /Filter value pdfium and this check read alike: a name, an array of names, or null.
_PLAIN_FILTER = re.compile(
    _SPACE
    + rb"(/"
    + _NAME_CHARS
    + rb"+|\[(?:"
    + _SPACE
    + rb"/"
    + _NAME_CHARS
    + rb"+)*"
    + _SPACE
    + rb"\]|null(?!"
    + _NAME_CHARS
    + rb"))"
)
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
    _escaped_names(data)
    _filter_values(data)
    _inline_images(data)  # in content streams stored uncompressed
    view = memoryview(data)
    total = 0
    for body in _streams(data):
        size = _inflated_size(view, body, max_stream_bytes)
        if size > max_stream_bytes:
            raise _Unsafe(f"a stream inflates past {max_stream_bytes // 1_000_000} MB")
        total += size
        if total > max_total_bytes:
            raise _Unsafe(f"its streams inflate past {max_total_bytes // 1_000_000} MB together")


def _unescape(name: bytes) -> bytes:
    return _ESCAPE.sub(lambda found: bytes([int(found.group(1), 16)]), name)


def _escaped_names(data: bytes) -> None:
    for found in _ESCAPED_NAME.finditer(data):
        if _unescape(found.group(1)) in _GUARDED:
            raise _Unsafe("a filter or /Encrypt is named with #-escapes")


def _filter_values(data: bytes) -> None:
    """Every /Filter in the file, in a stream's dictionary or not: a plain name or array of
    names, with at most one expanding filter, and that one Flate and first."""
    for key in _FILTER_KEY.finditer(data):
        value = _PLAIN_FILTER.match(data, key.end())
        if value is None:
            raise _Unsafe("a stream's filters are not plain names")
        names = _NAME.findall(value.group(1))
        expanding = [name for name in names if name in _EXPANDING]
        if expanding and (len(expanding) > 1 or names[0] not in _FLATE):
            shown = b" ".join(names).decode(errors="replace")
            raise _Unsafe(f"a stream's filters ({shown}) are not checked")


def _streams(data: bytes) -> Iterator[int]:
    """Where each stream's data starts: on the line after its "stream" keyword, as pdfium
    reads it (a plain search: a regular expression is several times slower over binary data).
    Any "stream" counts, in a string or not: reading too many is only slower."""
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
            yield eol + (2 if data[eol : eol + 2] == b"\r\n" else 1)
        at = data.find(b"stream", after)


def _inline_images(text: bytes) -> int:
    """Raise _Unsafe for an inline image in `text` that pdfium would have to inflate or expand
    to find its end; return where the dictionary of one that `text` does not finish starts
    (len(text) if none does). Its data is judged by what it is, its dictionary by every name
    in it, whatever key a name stands under."""
    at = _token(text, b"BI", 0)
    while at >= 0:
        data = _token(text, b"ID", at + 2)
        if data < 0:
            return at
        names = {_unescape(name) for name in _NAME.findall(text, at + 2, data)}
        after = data + 2
        while after < len(text) and after < data + 4 and text[after] in _WHITE:
            after += 1
        if names & _EXPANDING or _is_zlib(text[after : after + 2]):
            raise _Unsafe("a compressed inline image is not checked")
        at = _token(text, b"BI", data + 2)
    return len(text)


def _is_zlib(head: bytes | memoryview) -> bool:
    """Whether data starting with `head` has a zlib header (RFC 1950: deflate, no preset
    dictionary), as pdfium's Flate decoder needs."""
    if len(head) < 2:
        return False
    first, second = head[0], head[1]
    deflate = first & 0x0F == 8 and first >> 4 <= 7
    return deflate and not second & 0x20 and (first << 8 | second) % 31 == 0


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
    """The bytes the zlib data at `start` inflates to, counted up to just past `limit` (and
    searched for compressed inline images), or 0 if no zlib data starts there: pdfium leaves
    data without a zlib header (raw deflate included) uninflated. A corrupt stream counts what
    came out before the damage."""
    if not _is_zlib(data[start : start + 2]):
        return 0
    inflater = zlib.decompressobj()
    size, carry = 0, b""
    for offset in range(start, len(data), _INPUT_CHUNK):
        pending: bytes | memoryview = data[offset : offset + _INPUT_CHUNK]
        try:
            while pending and not inflater.eof:
                out = inflater.decompress(pending, _OUTPUT_CHUNK)
                size += len(out)
                if size > limit:
                    return size
                text = carry + out
                unfinished = _inline_images(text)  # searched on with the next output
                carry = text[unfinished:] if unfinished < len(text) else text[-3:]
                if len(carry) > _MAX_INLINE_DICT:
                    raise _Unsafe("an inline image's dictionary does not end")
                pending = inflater.unconsumed_tail
        except zlib.error:
            return size
        if inflater.eof:
            break
    return size
