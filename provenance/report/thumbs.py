"""Small JPEG thumbnails as data URIs, for reports that must work offline and travel by email.

The pictures a report shows come from leaks and web pages, so they are decoded as fingerprints
are: in worker processes (``worker.TASKS["thumbnail"]``), under the pixel limit and the per-file
time limit, a crashing or hanging decoder costing that one picture (the card shows a note).
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from PIL import Image

from ..decode import decode_upright, open_image, pixel_limit, to_rgb
from ..defaults import DEFAULT_MAX_PIXELS, DEFAULT_TIMEOUT

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


def make_thumbnail(path: str, side: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> Thumbnail | None:
    """The thumbnail of the picture at ``path``, or None when it cannot be read (safe decoding)."""
    try:
        with pixel_limit(max_pixels), open_image(path, os.path.basename(path), max_pixels) as im:
            upright, (full_w, full_h) = decode_upright(im, side)
            small = _flatten(upright)
            small.thumbnail((side, side), Image.Resampling.LANCZOS)
    except Exception:  # noqa: BLE001 - a report still renders when one picture cannot: the card says so
        return None
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    uri = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return Thumbnail(uri, small.width, small.height, full_w, full_h)


def thumbnail_task(config: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The worker task: ``payload["path"]`` → its thumbnail (``{"thumbnail": None}`` when unreadable)."""
    side, max_pixels = int(config.get("side", THUMBNAIL_SIDE)), int(config.get("max_pixels", DEFAULT_MAX_PIXELS))

    def handle(payload: dict[str, Any]) -> dict[str, Any]:
        made = make_thumbnail(payload["path"], side, max_pixels)
        return {"thumbnail": asdict(made) if made else None}

    return handle


class Thumbnails:
    """Thumbnails of files by path, each made once; ``None`` for a file that is gone or unreadable.

    With ``jobs`` (the default: one worker) they are made in worker processes; ``prefetch`` with the
    paths in the order they will be asked for lets several workers make them ahead of the page.
    ``jobs=0`` decodes in this process (tests).
    """

    def __init__(
        self,
        side: int = THUMBNAIL_SIDE,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        base: str | None = None,
        *,
        jobs: int = 1,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        self.side = side
        self.max_pixels = max_pixels
        #: relative paths are tried against the current folder, then ``base`` (where a saved report lies)
        self.base = base
        self.jobs = jobs
        self.timeout = timeout
        self._made: dict[str, Thumbnail | None] = {}
        self._pool: Any = None
        self._ahead: Iterator[tuple[str, dict[str, Any]]] | None = None

    def __enter__(self) -> Thumbnails:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def prefetch(self, paths: Iterable[str | None]) -> None:
        """Make the thumbnails of ``paths`` in worker processes, ahead of ``get`` asking for them in that order."""
        if self.jobs <= 0:
            return
        located: list[tuple[str, str]] = []
        queued: set[str] = set()
        for path in paths:
            if not path or path in self._made or path in queued:
                continue
            found = self._locate(path)
            if found is None:
                self._made[path] = None  # gone: the card says so
            else:
                located.append((path, found))
                queued.add(path)
        pool = self._workers()
        replies = pool.map({"path": found} for _, found in located)
        self._ahead = ((path, reply) for (path, _), reply in zip(located, replies))

    def get(self, path: str | None) -> Thumbnail | None:
        if not path:
            return None
        while path not in self._made and self._ahead is not None:
            try:
                made, reply = next(self._ahead)
            except StopIteration:
                self._ahead = None
                break
            self._made[made] = Thumbnail(**reply["thumbnail"]) if reply.get("thumbnail") else None
        if path not in self._made:
            self._made[path] = self._make(path)
        return self._made[path]

    def _workers(self) -> Any:
        from ..workers import WorkerPool

        if self._pool is None:
            self._pool = WorkerPool(
                "thumbnail",
                {"side": self.side, "max_pixels": self.max_pixels},
                self.jobs,
                failed=lambda payload, kind, message: {"thumbnail": None},
                timeout=self.timeout,
            )
        return self._pool

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
        if self.jobs <= 0:
            return make_thumbnail(found, self.side, self.max_pixels)
        reply = next(iter(self._workers().map([{"path": found}])))
        return Thumbnail(**reply["thumbnail"]) if reply.get("thumbnail") else None


def _flatten(im: Image.Image) -> Image.Image:
    """RGB on white: transparency and odd modes as a viewer would show them."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return to_rgb(im)
