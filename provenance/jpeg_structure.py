"""The structure of a JPEG file, read from its bytes without decoding: what wrote it leaves traces here.

The markers are walked as ITU-T T.81 (Annex B) lays them out: each segment's kind (APPn by its
identifier: JFIF, EXIF, XMP, ICC, Photoshop, Adobe, Ducky, MPF; comments with their text), the
frame type and its components' sampling, the restart interval, whether the Huffman tables are the
standard ones of Annex K or optimised for the file, the quantisation tables, and what follows the
end-of-image marker. Every length is checked against the bytes present; what cannot be read is a
``problem`` of the structure, never an exception, so a hostile file costs only its own findings.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .exif_layout import ExifLayout, read_layout

#: segments listed one by one; a file with more (a hostile one) has the rest counted
MAX_SEGMENTS = 200
#: characters of a comment (COM) kept
MAX_COMMENT = 500

_FRAMES = {
    0xC0: "baseline",
    0xC1: "extended sequential",
    0xC2: "progressive",
    0xC3: "lossless",
    0xC5: "differential sequential",
    0xC6: "differential progressive",
    0xC7: "differential lossless",
    0xC9: "extended sequential, arithmetic",
    0xCA: "progressive, arithmetic",
    0xCB: "lossless, arithmetic",
    0xCD: "differential sequential, arithmetic",
    0xCE: "differential progressive, arithmetic",
    0xCF: "differential lossless, arithmetic",
}

#: (marker, identifier prefix) → the kind of an application segment
_APP_KINDS = (
    (0xE0, b"JFIF\x00", "JFIF"),
    (0xE0, b"JFXX\x00", "JFIF extension"),
    (0xE1, b"Exif\x00", "EXIF"),
    (0xE1, b"http://ns.adobe.com/xap/1.0/\x00", "XMP"),
    (0xE1, b"http://ns.adobe.com/xmp/extension/\x00", "XMP extension"),
    (0xE2, b"ICC_PROFILE\x00", "ICC"),
    (0xE2, b"MPF\x00", "MPF"),
    (0xEB, b"JP", "JUMBF"),  # C2PA manifests travel in APP11 JUMBF boxes
    (0xEC, b"Ducky", "Ducky"),
    (0xED, b"Photoshop 3.0\x00", "Photoshop IRB"),
    (0xEE, b"Adobe", "Adobe"),
)

#: Photoshop 4.0's thumbnail resource, whose JPEG holds the channels in BGR order (Photoshop 5.0 and
#: later write 0x040C, in RGB)
PHOTOSHOP_4_THUMBNAIL = 0x0409

# the next marker after entropy-coded data: 0xFF followed by neither a stuffed 0x00 nor a restart marker
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


@dataclass
class JpegStructure:
    """What the markers of one JPEG file say; ``to_dict`` is the record's ``forensics.jpeg``."""

    segments: list[dict[str, Any]] = field(default_factory=list)
    #: segments beyond MAX_SEGMENTS, counted only
    more_segments: int = 0
    frame: str | None = None
    precision: int | None = None
    #: the frame's dimensions as its header declares them
    width: int | None = None
    height: int | None = None
    components: list[dict[str, int]] = field(default_factory=list)
    subsampling: str | None = None
    restart_interval: int | None = None
    #: "standard" (Annex K's tables), "optimised" (made for this file), "mixed", or None without tables
    huffman: str | None = None
    #: table id → its 64 values in natural (row by row) order, as Pillow's ``quantization`` gives them
    quantization: dict[int, list[int]] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)
    #: images the MPF index declares (the primary one included), None without a readable MPF segment
    mpf_images: int | None = None
    #: the thumbnail a Photoshop resource block carries (resource 0x0409 or 0x040C): its size, None without one
    photoshop_thumbnail: dict[str, Any] | None = None
    #: that thumbnail's JPEG data (compared with the image in extraction.py; not in the record)
    photoshop_thumbnail_jpeg: bytes | None = field(default=None, repr=False)
    #: where the first EXIF segment's writer put its directories and values (exif_layout.py)
    exif_layout: ExifLayout | None = None
    scans: int = 0
    #: bytes after the end-of-image marker, and what they look like
    after_end: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    #: (class and id, code-length counts, symbols) of every Huffman table, for the standard-table test
    huffman_tables: list[tuple[int, bytes, bytes]] = field(default_factory=list, repr=False)

    def kinds(self) -> list[str]:
        """The kinds of the segments, in file order (APP segments by identifier)."""
        return [s["kind"] for s in self.segments]

    def quantization_sha256(self) -> str | None:
        """A digest of the quantisation tables (ids and values, in id order): one encoder setting's name."""
        if not self.quantization:
            return None
        text = ";".join(f"{k}:" + ",".join(map(str, v)) for k, v in sorted(self.quantization.items()))
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "segments": self.segments,
            "more_segments": self.more_segments,
            "frame": self.frame,
            "precision": self.precision,
            "width": self.width,
            "height": self.height,
            "components": self.components,
            "subsampling": self.subsampling,
            "restart_interval": self.restart_interval,
            "huffman": self.huffman,
            "quantization": {str(k): v for k, v in sorted(self.quantization.items())},
            "quantization_sha256": self.quantization_sha256(),
            "comments": self.comments,
            "mpf_images": self.mpf_images,
            "photoshop_thumbnail": self.photoshop_thumbnail,
            "exif_layout": self.exif_layout.to_dict() if self.exif_layout else None,
            "scans": self.scans,
            "after_end": self.after_end,
            "problems": self.problems,
        }


def _app_kind(marker: int, body: bytes) -> str:
    for app, prefix, kind in _APP_KINDS:
        if marker == app and body.startswith(prefix):
            return kind
    return f"APP{marker - 0xE0}"


def _marker_name(marker: int) -> str:
    if 0xE0 <= marker <= 0xEF:
        return f"APP{marker - 0xE0}"
    if marker in _FRAMES:
        return f"SOF{marker - 0xC0}"
    return {0xC4: "DHT", 0xCC: "DAC", 0xDA: "SOS", 0xDB: "DQT", 0xDC: "DNL", 0xDD: "DRI", 0xFE: "COM"}.get(
        marker, f"0x{marker:02X}"
    )


def _subsampling(components: list[dict[str, int]]) -> str | None:
    """The chroma subsampling in J:a:b notation, from the luma and chroma sampling factors."""
    if len(components) == 1:
        return "grayscale"
    if len(components) < 3:
        return None
    luma, chroma = components[0], components[1:3]
    if any(c["h"] != chroma[0]["h"] or c["v"] != chroma[0]["v"] for c in chroma) or not chroma[0]["h"]:
        return "unusual"
    if luma["h"] % chroma[0]["h"] or not chroma[0]["v"] or luma["v"] % chroma[0]["v"]:
        return "unusual"
    ratio = (luma["h"] // chroma[0]["h"], luma["v"] // chroma[0]["v"])
    names: dict[tuple[int, int], str] = {
        (1, 1): "4:4:4",
        (2, 1): "4:2:2",
        (2, 2): "4:2:0",
        (1, 2): "4:4:0",
        (4, 1): "4:1:1",
        (4, 2): "4:1:0",
    }
    return names.get(ratio, "unusual")


_ZIGZAG = (
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
)  # fmt: skip  # the n-th coefficient in the file is the _ZIGZAG[n]-th in natural order (T.81 Figure A.6)


def _read_dqt(body: bytes, out: JpegStructure) -> None:
    pos = 0
    while pos < len(body):
        precision, table = body[pos] >> 4, body[pos] & 0x0F
        size = 128 if precision else 64
        values = body[pos + 1 : pos + 1 + size]
        if len(values) < size or precision > 1 or table > 3:
            out.problems.append("a quantisation table (DQT) is malformed")
            return
        zigzag = struct.unpack(f">{64}H", values) if precision else tuple(values)
        natural = [0] * 64
        for n, value in enumerate(zigzag):
            natural[_ZIGZAG[n]] = value
        out.quantization[table] = natural
        pos += 1 + size


def _mpf_images(tiff: bytes, out: JpegStructure) -> int | None:
    """NumberOfImages (tag 0xB001) of an MPF segment's index (CIPA DC-007), or None with a problem."""
    order = {b"II*\x00": "<", b"MM\x00*": ">"}.get(tiff[:4])
    if order is None:
        out.problems.append("the MPF segment's header is malformed")
        return None
    try:
        (offset,) = struct.unpack(order + "I", tiff[4:8])
        (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
        for n in range(min(count, 64)):
            entry = tiff[offset + 2 + 12 * n : offset + 14 + 12 * n]
            tag, _type, _count, value = struct.unpack(order + "HHII", entry)
            if tag == 0xB001:
                return int(value)
    except struct.error:
        pass
    out.problems.append("the MPF segment's index cannot be read")
    return None


def _read_dht(body: bytes) -> list[tuple[int, bytes, bytes]] | None:
    """(class and id, the 16 code-length counts, the symbols) of each table, or None when malformed."""
    tables = []
    pos = 0
    while pos < len(body):
        if pos + 17 > len(body):
            return None
        which, counts = body[pos], body[pos + 1 : pos + 17]
        total = sum(counts)
        symbols = body[pos + 17 : pos + 17 + total]
        if len(symbols) < total or total > 256:
            return None
        tables.append((which, bytes(counts), bytes(symbols)))
        pos += 17 + total
    return tables


@lru_cache(maxsize=1)
def standard_huffman_tables() -> frozenset[tuple[bytes, bytes]]:
    """The four tables of T.81 Annex K.3, as libjpeg writes them when it does not optimise (read back
    from a small JPEG that Pillow's libjpeg encodes without ``optimize``)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (128, 64, 32)).save(buffer, "JPEG", quality=75, optimize=False)
    found = read_structure(buffer.getvalue(), _with_standard=False)
    return frozenset((counts, symbols) for _, counts, symbols in found.huffman_tables)


def trailing_bytes(tail: bytes) -> dict[str, Any]:
    """How many bytes follow the end of the image, and what they look like."""
    looks = "data"
    stripped = tail.lstrip(b"\x00")
    if not stripped:
        looks = "zeros"
    elif stripped.startswith(b"\xff\xd8\xff"):
        looks = "another JPEG"
    elif stripped.startswith(b"PK\x03\x04"):
        looks = "a ZIP archive"
    elif stripped.startswith((b"Rar!", b"7z\xbc\xaf")):
        looks = "an archive"
    elif stripped.startswith(b"\x89PNG"):
        looks = "a PNG image"
    else:
        sample = stripped[:256]
        if sum(32 <= b < 127 or b in (9, 10, 13) for b in sample) >= 0.95 * len(sample):
            looks = "text"
    return {"bytes": len(tail), "looks_like": looks}


def read_structure(data: bytes, *, _with_standard: bool = True) -> JpegStructure:
    """The structure of the JPEG in ``data`` (which must start with the SOI marker)."""
    out = JpegStructure()
    if not data.startswith(b"\xff\xd8"):
        out.problems.append("the file does not start with a JPEG start-of-image marker")
        return out
    pos = 2
    ended = False
    n = len(data)
    while pos < n:
        if data[pos] != 0xFF:  # junk between segments: skipped to the next marker, as libjpeg does
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                out.problems.append(f"bytes that are not a marker at offset {pos}, and no marker after them")
                break
            out.problems.append(f"{found.start() - pos} extraneous bytes before the marker at offset {found.start()}")
            pos = found.start()
        while pos < n and data[pos] == 0xFF:  # fill bytes before a marker are allowed (T.81 B.1.1.2)
            pos += 1
        if pos >= n:
            break
        marker = data[pos]
        start = pos - 1
        pos += 1
        if marker == 0xD9:  # end of image
            ended = True
            break
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:  # no length: TEM, a stray restart marker
            continue
        if pos + 2 > n:
            out.problems.append(f"the file ends inside the {_marker_name(marker)} marker at offset {start}")
            break
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        body = data[pos + 2 : pos + length]
        if length < 2 or pos + length > n:
            out.problems.append(f"the {_marker_name(marker)} segment at offset {start} runs past the end of the file")
            break
        _note_segment(out, marker, start, length, body)
        pos += length
        if marker == 0xDA:  # entropy-coded data follows, up to the next real marker
            out.scans += 1
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                out.problems.append("the file ends inside the image data (truncated: no end-of-image marker)")
                pos = n
                break
            pos = found.start()
    if not ended and not out.problems:
        out.problems.append("no end-of-image marker")
    if ended and pos < n:
        out.after_end = trailing_bytes(data[pos:])
    out.subsampling = _subsampling(out.components)
    if out.huffman_tables and _with_standard:
        standard = standard_huffman_tables()
        is_standard = [(counts, symbols) in standard for _, counts, symbols in out.huffman_tables]
        out.huffman = "standard" if all(is_standard) else "optimised" if not any(is_standard) else "mixed"
    return out


def _note_segment(out: JpegStructure, marker: int, start: int, length: int, body: bytes) -> None:
    kind = _app_kind(marker, body) if 0xE0 <= marker <= 0xEF else _marker_name(marker)
    if len(out.segments) < MAX_SEGMENTS:
        out.segments.append({"marker": _marker_name(marker), "kind": kind, "offset": start, "length": length})
    else:
        out.more_segments += 1
    if marker in _FRAMES:
        if out.frame is not None:
            out.problems.append("more than one frame header (SOF)")
            return
        out.frame = _FRAMES[marker]
        if len(body) >= 6:
            out.precision = body[0]
            out.height, out.width = struct.unpack(">HH", body[1:5])
            count = body[5]
            for c in range(count):
                entry = body[6 + 3 * c : 9 + 3 * c]
                if len(entry) < 3:
                    out.problems.append("the frame header (SOF) is shorter than its components")
                    break
                out.components.append({"id": entry[0], "h": entry[1] >> 4, "v": entry[1] & 0x0F, "table": entry[2]})
    elif marker == 0xDB:
        _read_dqt(body, out)
    elif marker == 0xC4:
        tables = _read_dht(body)
        if tables is None:
            out.problems.append("a Huffman table (DHT) is malformed")
        else:
            out.huffman_tables.extend(tables)
    elif marker == 0xDD and len(body) >= 2:
        (out.restart_interval,) = struct.unpack(">H", body[:2])
    elif marker == 0xFE and len(out.comments) < 20:
        text = body[:MAX_COMMENT]
        try:
            out.comments.append(text.decode("utf-8"))
        except UnicodeDecodeError:  # older software wrote Latin-1 (a "©" in "Photoshop © 4.0")
            out.comments.append(text.decode("latin-1"))
    elif kind == "EXIF" and out.exif_layout is None:
        out.exif_layout = read_layout(body[len(b"Exif\x00\x00") :])
    elif kind == "MPF":
        out.mpf_images = _mpf_images(body[4:], out)
    elif kind == "Photoshop IRB" and out.photoshop_thumbnail is None:
        out.photoshop_thumbnail = _irb_thumbnail(body[len(b"Photoshop 3.0\x00") :], out)


def _irb_thumbnail(irb: bytes, out: JpegStructure) -> dict[str, Any] | None:
    """The thumbnail resource of a Photoshop image resource block (Adobe's "8BIM" resources), if any."""
    at = 0
    while at + 12 <= len(irb):
        if irb[at : at + 4] != b"8BIM":
            out.problems.append("a Photoshop resource block that does not follow the 8BIM layout")
            return None
        resource = int.from_bytes(irb[at + 4 : at + 6], "big")
        name_length = irb[at + 6]
        at += 6 + 1 + name_length + ((1 + name_length) % 2)  # the Pascal name is padded to an even length
        if at + 4 > len(irb):
            break
        size = int.from_bytes(irb[at : at + 4], "big")
        data = irb[at + 4 : at + 4 + size]
        if resource in (PHOTOSHOP_4_THUMBNAIL, 0x040C) and len(data) >= 28:
            width, height = struct.unpack(">II", data[4:12])
            (kind,) = struct.unpack(">I", data[:4])
            if kind == 1:  # kJpegRGB: JFIF data follows the 28-byte header (kRawRGB is not read)
                out.photoshop_thumbnail_jpeg = bytes(data[28:])
            return {"resource": resource, "width": width, "height": height, "bytes": max(0, len(data) - 28)}
        at += 4 + size + (size % 2)
    return None
