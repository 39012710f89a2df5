"""File-level helpers for tests and benchmarks, written independently of ``provenance.containers``
(they are oracles for it): metadata stripped byte for byte, a JPEG comment added."""

from __future__ import annotations

import struct


def strip_metadata(data: bytes) -> bytes:
    """The file without its metadata, byte for byte otherwise: JPEG APP1-APP15 and COM segments,
    PNG text, time, EXIF and ICC chunks. Other formats are returned unchanged."""
    if data[:2] == b"\xff\xd8":
        out, i = bytearray(data[:2]), 2
        while i + 4 <= len(data) and data[i] == 0xFF:
            marker = data[i + 1]
            if marker == 0xDA:  # start of scan: the rest is image data
                break
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if not (0xE1 <= marker <= 0xEF or marker == 0xFE):
                out += data[i : i + 2 + length]
            i += 2 + length
        return bytes(out + data[i:])
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        out, i = bytearray(data[:8]), 8
        while i + 8 <= len(data):
            length = int.from_bytes(data[i : i + 4], "big")
            kind = data[i + 4 : i + 8]
            if kind not in (b"tEXt", b"iTXt", b"zTXt", b"tIME", b"eXIf", b"iCCP"):
                out += data[i : i + 12 + length]
            i += 12 + length
        return bytes(out)
    return data


def add_jpeg_comment(data: bytes, text: bytes) -> bytes:
    """A JPEG with a COM segment holding ``text`` right after its SOI marker."""
    segment = b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text
    return data[:2] + segment + data[2:]
