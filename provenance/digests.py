"""Cryptographic digests: of the file bytes, of the image data alone, and of hex file names."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import PurePath
from typing import TYPE_CHECKING

from .containers import (
    PNG_IMAGE_CHUNKS,
    PNG_SIGNATURE,
    is_jpeg_metadata,
    iter_jpeg_segments,
    iter_png_chunks,
)

if TYPE_CHECKING:
    from PIL import Image

ALGORITHMS = ("md5", "sha1", "sha256")

#: hex length of a file name stem → the digest it would be
NAME_DIGEST_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256"}

_HEX = re.compile(r"[0-9a-fA-F]+")


def file_digests(data: bytes) -> dict[str, str]:
    """MD5, SHA-1 and SHA-256 of ``data`` as lowercase hex."""
    return {name: hashlib.new(name, data).hexdigest() for name in ALGORITHMS}


class StreamingDigests:
    """The same three digests, fed chunk by chunk (for files too large to hold)."""

    def __init__(self) -> None:
        self._hashers = [hashlib.new(name) for name in ALGORITHMS]

    def update(self, chunk: bytes) -> None:
        for hasher in self._hashers:
            hasher.update(chunk)

    def hexdigests(self) -> dict[str, str]:
        return {name: h.hexdigest() for name, h in zip(ALGORITHMS, self._hashers)}


def name_digest_algorithm(stem: str) -> str | None:
    """The digest a file name stem looks like (32, 40 or 64 hex digits), or None."""
    algorithm = NAME_DIGEST_LENGTHS.get(len(stem))
    return algorithm if algorithm is not None and _HEX.fullmatch(stem) else None


def name_digest(name: str | None, digests: dict[str, str]) -> dict | None:
    """If the file name's stem is 32, 40 or 64 hex digits, which digest it claims and whether it holds.

    The stem is the name up to its first dot, so ``<md5>.jpg`` and ``<md5>.jpg.part`` both count.
    """
    if not name:
        return None
    base = PurePath(name).name
    stem = base.split(".", 1)[0]
    algorithm = name_digest_algorithm(stem)
    if algorithm is None:
        return None
    return {"algorithm": algorithm, "matches": stem.lower() == digests[algorithm]}


def encoded_image_data_sha256(data: bytes) -> str | None:
    """SHA-256 of a JPEG's or PNG's image data with the metadata left out; None for other formats.

    JPEG: every segment of every stream except APP1–APP15 and COM (APP0/JFIF is kept);
    bytes after the last EOI are left out. PNG: the signature and the chunks in
    ``PNG_IMAGE_CHUNKS``; text, time, EXIF, ICC, gamma and other ancillary chunks are left out.
    """
    view = memoryview(data)
    if data[:2] == b"\xff\xd8":
        hasher = hashlib.sha256()
        for span in iter_jpeg_segments(data):
            if not is_jpeg_metadata(span.kind):
                hasher.update(view[span.start : span.end])
        return hasher.hexdigest()
    if data.startswith(PNG_SIGNATURE):
        hasher = hashlib.sha256(PNG_SIGNATURE)
        for span in iter_png_chunks(data):
            if span.kind in PNG_IMAGE_CHUNKS:
                hasher.update(view[span.start : span.end])
        return hasher.hexdigest()
    return None


_BAND_PIXELS = 4 * 1024 * 1024


def pixel_data_sha256(frames: Iterable[Image.Image]) -> str:
    """SHA-256 of decoded pixels, frame by frame, each prefixed with its width, height and mode."""
    hasher = hashlib.sha256(b"provenance-pixels-1\0")
    for frame in frames:
        width, height = frame.size
        hasher.update(f"{width}x{height}:{frame.mode}\0".encode("ascii"))
        rows = max(1, _BAND_PIXELS // max(1, width))
        for top in range(0, height, rows):  # in bands, so a huge frame is never copied whole
            hasher.update(frame.crop((0, top, width, min(height, top + rows))).tobytes())
    return hasher.hexdigest()
