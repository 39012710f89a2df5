"""Where an EXIF block's writer put its directories and values: a program that rewrites the block
leaves its own layout, whatever the tags say.

An EXIF block is a small TIFF file: directories (IFDs) of 12-byte entries, each value longer than
four bytes stored elsewhere and pointed to. The format fixes what the entries mean, not where the
values go, so writers differ. libexif (what libvips rewrites a JPEG's EXIF with) and Exiv2 (what
GIMP writes it with) lay it out one way, measured on their output here: each directory where the
previous data ended, its values packed right after it with no gap (each padded to an even
length), the Exif directory after IFD0's values, the Interoperability directory after the Exif
values, the GPS directory next, IFD1 and then its thumbnail last, and nothing after. Cameras
mostly do not: they reserve room, put the MakerNote last or the thumbnail at a fixed offset (the
corpus measure is in docs/forensics.md). The layout is a writer's trace, not a program's name: a
camera can write it too, and only the finding that combines it with other cues (forensics.py)
draws on it.

Only the layout is read here, with every offset checked against the bytes present; the tags'
meanings are metadata.py's business.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

#: bytes per component of each TIFF field type (TIFF 6.0 section 2, and the EXIF types)
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_EXIF_POINTER, _GPS_POINTER, _INTEROP_POINTER = 0x8769, 0x8825, 0xA005
_THUMBNAIL_OFFSET, _THUMBNAIL_LENGTH = 0x0201, 0x0202
_POINTERS = {
    _EXIF_POINTER: "the Exif directory",
    _GPS_POINTER: "the GPS directory",
    _INTEROP_POINTER: "the Interoperability directory",
}
#: the directories each directory points to, in the order libexif writes them (no deeper nesting)
_NESTED = {"IFD0": (_EXIF_POINTER, _GPS_POINTER), "the Exif directory": (_INTEROP_POINTER,)}
#: IFD0's Orientation, XResolution, YResolution and ResolutionUnit: libvips writes all four on every save
ORIENTATION_AND_RESOLUTION = (0x0112, 0x011A, 0x011B, 0x0128)


class _Unpacked(Exception):
    """The layout departs from the packed one here (the message says where)."""


@dataclass
class ExifLayout:
    """The layout of one EXIF block; ``to_dict`` is ``forensics.jpeg.exif_layout`` in the record."""

    byte_order: str | None = None
    #: every directory and value where the packed layout (libexif's, Exiv2's) puts it, and nothing after
    packed: bool = False
    #: the first place the layout departs from the packed one (None when packed)
    departure: str | None = None
    #: the tags of IFD0's entries, in directory order
    ifd0_tags: list[int] = field(default_factory=list)

    def records_orientation_and_resolution(self) -> bool:
        """IFD0 has Orientation, XResolution, YResolution and ResolutionUnit (libvips writes all four)."""
        return all(tag in self.ifd0_tags for tag in ORIENTATION_AND_RESOLUTION)

    def to_dict(self) -> dict[str, Any]:
        return {
            "byte_order": self.byte_order,
            "packed": self.packed,
            "departure": self.departure,
            "orientation_and_resolution": self.records_orientation_and_resolution(),
        }


def read_layout(tiff: bytes) -> ExifLayout:
    """The layout of the TIFF structure ``tiff`` (an APP1 EXIF segment's body after ``Exif\\0\\0``)."""
    out = ExifLayout()
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        out.departure = "no TIFF header"
        return out
    out.byte_order = "little-endian" if order == "<" else "big-endian"
    walker = _Walker(tiff, order)
    (first,) = struct.unpack(order + "I", tiff[4:8])
    try:
        out.ifd0_tags = walker.tags(first)
        walker.packed(first, "IFD0")
        if walker.end != len(tiff):
            raise _Unpacked(f"{len(tiff) - walker.end} bytes follow the last directory's data")
        out.packed = True
    except _Unpacked as why:
        out.departure = str(why)
    return out


class _Walker:
    """Follows libexif's writing order through one TIFF structure, checking each offset against where
    that order would have put it: ``end`` is where the data written so far ends."""

    def __init__(self, tiff: bytes, order: str) -> None:
        self.tiff, self.order, self.end = tiff, order, 8

    def _entries(self, offset: int) -> list[tuple[int, int, int, int]]:
        """(tag, type, count, value or offset) of the directory at ``offset``."""
        if offset + 2 > len(self.tiff):
            raise _Unpacked(f"a directory offset ({offset}) past the end of the block")
        (count,) = struct.unpack(self.order + "H", self.tiff[offset : offset + 2])
        if offset + 2 + 12 * count + 4 > len(self.tiff):
            raise _Unpacked(f"the directory at {offset} runs past the end of the block")
        return [
            struct.unpack(self.order + "HHII", self.tiff[offset + 2 + 12 * n : offset + 14 + 12 * n])
            for n in range(count)
        ]

    def tags(self, offset: int) -> list[int]:
        try:
            return [tag for tag, _, _, _ in self._entries(offset)]
        except _Unpacked:
            return []

    def packed(self, offset: int, name: str) -> None:
        """Check the directory at ``offset``, its values and the directories it points to."""
        if offset != self.end:
            raise _Unpacked(f"{name} is at offset {offset}; packed, it would be at {self.end}")
        entries = self._entries(offset)
        self.end = offset + 2 + 12 * len(entries) + 4
        pointers: dict[int, int] = {}
        thumbnail = length = None
        values: list[tuple[int, int, int]] = []
        for tag, kind, count, value in entries:
            if tag in _POINTERS:
                if tag not in _NESTED.get(name, ()):
                    raise _Unpacked(f"{name} points to {_POINTERS[tag]}, which libexif writes elsewhere")
                pointers[tag] = value
                continue
            if name == "IFD1" and tag in (_THUMBNAIL_OFFSET, _THUMBNAIL_LENGTH):
                thumbnail, length = (value, length) if tag == _THUMBNAIL_OFFSET else (thumbnail, value)
                continue
            if kind not in _TYPE_SIZES:
                raise _Unpacked(f"an entry of {name} has an unknown type ({kind})")
            size = _TYPE_SIZES[kind] * count
            if size > 4:
                values.append((value, size, tag))
        # in libexif's own list order, which need not be the (sorted) directory's: any order, no gap
        for value, size, tag in sorted(values):
            if value != self.end:
                raise _Unpacked(
                    f"the value of tag 0x{tag:04X} in {name} is at {value}; packed, it would be at {self.end}"
                )
            self.end += size + (size & 1)
        for tag in _NESTED.get(name, ()):
            if tag in pointers:
                self.packed(pointers[tag], _POINTERS[tag])
        if thumbnail is not None:
            if thumbnail != self.end:
                raise _Unpacked(f"the thumbnail is at {thumbnail}; packed, it would be at {self.end}")
            self.end += length or 0
        if name == "IFD0":
            at = offset + 2 + 12 * len(entries)
            (following,) = struct.unpack(self.order + "I", self.tiff[at : at + 4])
            if following:
                self.packed(following, "IFD1")
        if self.end > len(self.tiff):
            raise _Unpacked(f"the data of {name} run past the end of the block")
