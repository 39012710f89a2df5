"""Byte-level walking of JPEG segments and PNG chunks.

Tolerant by design: damaged or truncated input ends the walk early; it never
raises and never loops forever (every step advances).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Generator, Iterator
from typing import NamedTuple

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The end of a JPEG scan's entropy-coded data: 0xFF followed by anything but a
# stuffed zero or a restart marker (those belong to the scan).
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")

_STANDALONE = {0x01, 0xD8, 0xD9} | set(range(0xD0, 0xD8))


class Span(NamedTuple):
    """A segment or chunk: its type and its byte range ``[start, end)`` in the file."""

    kind: int | bytes | None  # JPEG marker, PNG chunk type, or None for stray bytes
    start: int
    end: int


def iter_jpeg_segments(data: bytes) -> Iterator[Span]:
    """Yield the segments of every JPEG stream in ``data`` (several for MPO files).

    The SOS span includes its entropy-coded data. Bytes after the last stream's EOI
    (trailers, appended files) are not yielded.
    """
    n = len(data)
    pos = 0
    while pos + 2 <= n and data[pos] == 0xFF and data[pos + 1] == 0xD8:
        yield Span(0xD8, pos, pos + 2)
        pos = yield from _iter_one_stream(data, pos + 2)
        if pos < 0:
            return


def _iter_one_stream(data: bytes, pos: int) -> Generator[Span, None, int]:
    """Walk from after SOI to after EOI; return the position after EOI or -1 if truncated."""
    n = len(data)
    while pos < n:
        start = pos
        if data[pos] != 0xFF or (pos + 1 < n and (data[pos + 1] == 0x00 or 0xD0 <= data[pos + 1] <= 0xD7)):
            # entropy-coded bytes outside a proper scan (damaged files): keep them as data, up to the next marker
            found = _SCAN_END.search(data, pos)
            end = found.start() if found else n
            yield Span(None, start, end)
            pos = end
            continue
        while pos + 1 < n and data[pos + 1] == 0xFF:  # fill bytes belong to the next marker
            pos += 1
        if pos + 1 >= n:
            yield Span(None, start, n)
            return -1
        marker = data[pos + 1]
        if marker == 0xD9:
            yield Span(marker, start, pos + 2)
            return pos + 2
        if marker in _STANDALONE:
            yield Span(marker, start, pos + 2)
            pos += 2
            continue
        if pos + 4 > n:
            yield Span(marker, start, n)
            return -1
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > n:
            yield Span(marker, start, n)
            return -1
        if marker == 0xDA:
            found = _SCAN_END.search(data, end)
            end = found.start() if found else n
        yield Span(marker, start, end)
        pos = end
    return -1


def is_jpeg_metadata(marker: int | bytes | None) -> bool:
    """APP1–APP15 and COM carry metadata; everything else describes or holds the image."""
    return isinstance(marker, int) and (0xE1 <= marker <= 0xEF or marker == 0xFE)


def iter_png_chunks(data: bytes) -> Iterator[Span]:
    """Yield every chunk of a PNG file, up to IEND or the first damaged length."""
    if not data.startswith(PNG_SIGNATURE):
        return
    n = len(data)
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= n:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = min(n, pos + 12 + length)
        yield Span(kind, pos, end)
        if kind == b"IEND" or end == n:
            return
        pos = end


#: PNG chunks that define the pixels (the critical chunks, transparency, APNG frames)
PNG_IMAGE_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"acTL", b"fcTL", b"fdAT"})


#: PNG chunks holding text (metadata, never pixels)
PNG_TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})


def oversized_png_text(data: bytes, limit: int) -> list[Span]:
    """The text chunks of a PNG whose text is longer than ``limit`` bytes once decompressed (decompressing
    at most ``limit + 1`` bytes of each: a zTXt bomb is measured, never inflated)."""
    found = []
    for span in iter_png_chunks(data):
        if span.kind not in PNG_TEXT_CHUNKS:
            continue
        body = data[span.start + 8 : max(span.start + 8, span.end - 4)]
        if len(body) > limit:
            found.append(span)
            continue
        compressed = None
        if span.kind == b"zTXt":
            keyword_end = body.find(b"\x00")
            compressed = body[keyword_end + 2 :] if keyword_end >= 0 else b""
        elif span.kind == b"iTXt":
            keyword_end = body.find(b"\x00")
            if keyword_end >= 0 and body[keyword_end + 1 : keyword_end + 2] == b"\x01":
                rest = body[keyword_end + 3 :]
                language_end = rest.find(b"\x00")
                translated_end = rest.find(b"\x00", language_end + 1) if language_end >= 0 else -1
                compressed = rest[translated_end + 1 :] if translated_end >= 0 else b""
        if compressed:
            try:
                inflated = zlib.decompressobj().decompress(compressed, limit + 1)
            except zlib.error:
                continue  # damaged text: Pillow skips it itself
            if len(inflated) > limit:
                found.append(span)
    return found


def without_spans(data: bytes, spans: list[Span]) -> bytes:
    """``data`` with the byte ranges of ``spans`` left out."""
    out = bytearray()
    position = 0
    for span in sorted(spans, key=lambda s: s.start):
        out += data[position : span.start]
        position = span.end
    return bytes(out + data[position:])
