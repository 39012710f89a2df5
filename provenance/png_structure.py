"""The chunk inventory of a PNG file, read from its bytes without decoding.

What wrote a PNG and what was done to it shows in its chunks: text chunks by keyword (Software,
Creation Time, a caption an editor left), ``eXIf`` (EXIF, which cameras do not write into PNGs),
``iCCP`` (a profile's name), ``tIME`` (when the image was last changed), the order of the chunks,
and bytes after ``IEND``. Every length and CRC is checked against the bytes present; what cannot be
read is a ``problem``, never an exception.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from .containers import PNG_SIGNATURE, Span, iter_png_chunks
from .jpeg_structure import trailing_bytes

#: chunks listed one by one; a file with more has the rest counted
MAX_CHUNKS = 200
#: characters of a text chunk's value kept (a text-chunk bomb is cut here)
MAX_TEXT = 500
#: bytes a compressed text chunk may inflate to before it is cut
MAX_INFLATED = 64 * 1024


@dataclass
class PngStructure:
    """What a PNG's chunks hold: their inventory, its text, its time stamp, what follows IEND."""

    chunks: list[dict[str, Any]] = field(default_factory=list)
    more_chunks: int = 0
    text: list[dict[str, Any]] = field(default_factory=list)
    exif_bytes: int | None = None
    icc_profile: str | None = None
    modified: str | None = None
    after_end: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [c["type"] for c in self.chunks]

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunks": self.chunks,
            "more_chunks": self.more_chunks,
            "text": self.text,
            "exif_bytes": self.exif_bytes,
            "icc_profile": self.icc_profile,
            "modified": self.modified,
            "after_end": self.after_end,
            "problems": self.problems,
        }


def read_png_structure(data: bytes) -> PngStructure | None:
    """The structure of the PNG ``data``; None when it does not start with the PNG signature."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    out = PngStructure()
    last: Span | None = None
    broken = False
    for span in iter_png_chunks(data):
        last = span
        length = int.from_bytes(data[span.start : span.start + 4], "big")
        kind_bytes = bytes(span.kind or b"")
        kind = kind_bytes.decode("latin-1")
        if not kind_bytes.isalpha():
            out.problems.append(f"a chunk type that is not four letters at offset {span.start}")
            broken = True
            break
        if span.end < span.start + 12 + length:
            out.problems.append(f"the {kind} chunk at offset {span.start} runs past the end of the file")
            broken = True
            break
        body = data[span.start + 8 : span.end - 4]
        if zlib.crc32(kind_bytes + body) & 0xFFFFFFFF != int.from_bytes(data[span.end - 4 : span.end], "big"):
            out.problems.append(f"the {kind} chunk at offset {span.start} fails its CRC")
        if len(out.chunks) < MAX_CHUNKS:
            if out.chunks and out.chunks[-1]["type"] == kind == "IDAT":
                out.chunks[-1]["count"] += 1  # image data comes in many chunks: one entry
            else:
                out.chunks.append({"type": kind, "offset": span.start, "length": length, "count": 1})
        else:
            out.more_chunks += 1
        _read_chunk(out, kind, body)
    if last is not None and last.kind == b"IEND" and not broken:
        if last.end < len(data):
            out.after_end = trailing_bytes(data[last.end :])
    elif not broken:
        stopped = last.end if last is not None else len(PNG_SIGNATURE)
        out.problems.append(f"a truncated chunk header at offset {stopped}" if stopped < len(data) else "no IEND chunk")
    return out


def _read_chunk(out: PngStructure, kind: str, body: bytes) -> None:
    try:
        if kind == "tEXt":
            keyword, _, value = body.partition(b"\x00")
            _text(out, keyword, value.decode("latin-1"), kind)
        elif kind == "zTXt":
            keyword, _, rest = body.partition(b"\x00")
            _text(out, keyword, _inflate(rest[1:]).decode("latin-1"), kind)
        elif kind == "iTXt":
            keyword, _, rest = body.partition(b"\x00")
            compressed, rest = rest[:1] == b"\x01", rest[2:]
            _language, _, rest = rest.partition(b"\x00")
            _translated, _, value = rest.partition(b"\x00")
            raw = _inflate(value) if compressed else value
            _text(out, keyword, raw.decode("utf-8", "replace"), kind)
        elif kind == "eXIf":
            out.exif_bytes = len(body)
        elif kind == "iCCP":
            out.icc_profile = body.partition(b"\x00")[0].decode("latin-1")[:80]
        elif kind == "tIME" and len(body) == 7:
            year, month, day, hour, minute, second = struct.unpack(">HBBBBB", body)
            out.modified = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"
    except (zlib.error, ValueError, struct.error) as exc:
        out.problems.append(f"the {kind} chunk cannot be read: {exc}")


def _inflate(data: bytes) -> bytes:
    """A compressed text chunk, inflated to at most ``MAX_INFLATED`` bytes (a text bomb is cut)."""
    return zlib.decompressobj().decompress(data, MAX_INFLATED)


def _text(out: PngStructure, keyword: bytes, value: str, kind: str) -> None:
    if len(out.text) >= MAX_CHUNKS:
        return
    cut = value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    out.text.append({"keyword": keyword.decode("latin-1")[:79], "value": cut, "chunk": kind})
