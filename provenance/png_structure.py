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

from .jpeg_structure import trailing_bytes

SIGNATURE = b"\x89PNG\r\n\x1a\n"
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
    if not data.startswith(SIGNATURE):
        return None
    out = PngStructure()
    at = len(SIGNATURE)
    while at < len(data):
        if at + 8 > len(data):
            out.problems.append(f"a truncated chunk header at offset {at}")
            break
        length, kind_bytes = struct.unpack(">I4s", data[at : at + 8])
        kind = kind_bytes.decode("latin-1")
        body_end = at + 8 + length
        if not kind_bytes.isalpha():
            out.problems.append(f"a chunk type that is not four letters at offset {at}")
            break
        if body_end + 4 > len(data):
            out.problems.append(f"the {kind} chunk at offset {at} runs past the end of the file")
            break
        body = data[at + 8 : body_end]
        crc_ok = zlib.crc32(kind_bytes + body) & 0xFFFFFFFF == struct.unpack(">I", data[body_end : body_end + 4])[0]
        if not crc_ok:
            out.problems.append(f"the {kind} chunk at offset {at} fails its CRC")
        if len(out.chunks) < MAX_CHUNKS:
            if out.chunks and out.chunks[-1]["type"] == kind == "IDAT":
                out.chunks[-1]["count"] += 1  # image data comes in many chunks: one entry
            else:
                out.chunks.append({"type": kind, "offset": at, "length": length, "count": 1})
        else:
            out.more_chunks += 1
        _read_chunk(out, kind, body)
        at = body_end + 4
        if kind == "IEND":
            break
    else:
        out.problems.append("no IEND chunk")
    if at < len(data) and "IEND" in out.kinds():
        out.after_end = trailing_bytes(data[at:])
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
