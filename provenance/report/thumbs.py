"""Small JPEG thumbnails as data URIs, for reports that must work offline and travel by email."""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass

from PIL import Image

from ..decode import decode_upright, open_image, pixel_limit, to_rgb
from ..defaults import DEFAULT_MAX_PIXELS

#: the longer side of a thumbnail, in pixels
THUMBNAIL_SIDE = 280
THUMBNAIL_QUALITY = 70


@dataclass(frozen=True)
class Thumbnail:
    """A data URI of a reduced, upright JPEG and the sizes needed to draw on it."""

    data_uri: str
    width: int
    height: int
    #: the upright size of the full image: the coordinates transforms are given in
    full_width: int
    full_height: int


class Thumbnails:
    """Thumbnails of files by path, each made once; ``None`` for a file that is gone or unreadable."""

    def __init__(
        self, side: int = THUMBNAIL_SIDE, max_pixels: int = DEFAULT_MAX_PIXELS, base: str | None = None
    ) -> None:
        self.side = side
        self.max_pixels = max_pixels
        #: relative paths are tried against the current folder, then ``base`` (where a saved report lies)
        self.base = base
        self._made: dict[str, Thumbnail | None] = {}

    def get(self, path: str | None) -> Thumbnail | None:
        if not path:
            return None
        if path not in self._made:
            self._made[path] = self._make(path)
        return self._made[path]

    def _locate(self, path: str) -> str | None:
        if os.path.isfile(path):
            return path
        if self.base and not os.path.isabs(path):
            candidate = os.path.join(self.base, path)
            if os.path.isfile(candidate):
                return candidate
        return None

    def _make(self, path: str) -> Thumbnail | None:
        found = self._locate(path)
        if found is None:
            return None
        try:
            with pixel_limit(self.max_pixels):
                with open_image(found, os.path.basename(found), self.max_pixels) as im:
                    upright, (full_w, full_h) = decode_upright(im, self.side)
                    small = _flatten(upright)
                    small.thumbnail((self.side, self.side), Image.Resampling.LANCZOS)
        except Exception:  # noqa: BLE001 - a report still renders when one picture cannot: the card says so
            return None
        buffer = io.BytesIO()
        small.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
        uri = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        return Thumbnail(uri, small.width, small.height, full_w, full_h)


def _flatten(im: Image.Image) -> Image.Image:
    """RGB on white: transparency and odd modes as a viewer would show them."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return to_rgb(im)
