"""The embedded EXIF thumbnail, compared with the main image.

A camera writes the thumbnail when it writes the photo; editors often change the
photo and leave the old thumbnail behind, so a large pHash distance between the
two is a classic sign of editing after capture.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import imagehash_fast
from .decode import check_size
from .hashes import distance

# Thumbnails of non-4:3 photos are often padded to 160x120 with black bars; those bars
# are trimmed before hashing, or every widescreen photo would look edited.
_BAR_LEVEL = 24
_ASPECT_TOLERANCE = 0.04


def thumbnail_record(
    jpeg: bytes,
    orientation: int | None,
    main_phash: str | None,
    main_size: tuple[int, int] | None,
    max_pixels: int,
    *,
    swapped: bool = False,
) -> dict:
    """``width``, ``height``, ``phash`` and ``phash_distance`` (to the main image) of an embedded JPEG thumbnail.

    ``orientation`` is applied as it is to the main image; ``main_size`` is the main image's
    displayed size, used to decide whether black letterbox bars should be trimmed. ``swapped``:
    the JPEG holds blue where red belongs (Photoshop 4.0's thumbnail resource).
    """
    try:
        raw = Image.open(io.BytesIO(jpeg))
    except UnidentifiedImageError as exc:
        raise ValueError("the embedded thumbnail is not an image Pillow can read") from exc
    with raw:
        check_size(raw.size, max_pixels)
        raw.load()
        width, height = raw.size
        thumb = _orient(raw, orientation)
    if swapped and thumb.mode == "RGB":
        red, green, blue = thumb.split()
        thumb = Image.merge("RGB", (blue, green, red))
    letterbox_trimmed = False
    if main_size:
        trimmed = _trim_bars(thumb, main_size)
        if trimmed is not None:
            thumb, letterbox_trimmed = trimmed, True
    phash = imagehash_fast.phash(thumb)  # imagehash's value without importing SciPy
    return {
        "width": width,
        "height": height,
        "phash": phash,
        "phash_distance": distance(phash, main_phash) if main_phash else None,
        "letterbox_trimmed": letterbox_trimmed,
    }


def _orient(im: Image.Image, orientation: int | None) -> Image.Image:
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation or 1)
    return im.transpose(method) if method is not None else im.copy()


def _trim_bars(thumb: Image.Image, main_size: tuple[int, int]) -> Image.Image | None:
    """The thumbnail without black bars, when its shape differs from the main image's and bars explain it."""
    main_aspect = main_size[0] / main_size[1]
    if abs(thumb.width / thumb.height - main_aspect) / main_aspect <= _ASPECT_TOLERANCE:
        return None
    luma = np.asarray(ImageOps.grayscale(thumb))
    rows = np.flatnonzero(luma.max(axis=1) > _BAR_LEVEL)
    cols = np.flatnonzero(luma.max(axis=0) > _BAR_LEVEL)
    if rows.size == 0 or cols.size == 0:
        return None
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    width, height = box[2] - box[0], box[3] - box[1]
    if (width, height) == thumb.size or abs(width / height - main_aspect) / main_aspect > 2 * _ASPECT_TOLERANCE:
        return None
    return thumb.crop(box)
