"""Confirmation glue: a candidate is checked against the whole query, mirrored if need be, and, when
the reference seems to fill only part of the query (a collage cell, a screenshot), that part up close.
The geometry itself is ``geometry.py``; the reference's side is read from its file (``ReferenceFeatures``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from PIL import Image

from ..features import Features, extract, features_of, reference_features
from ..files import is_url, read_file
from . import geometry, small

#: query keypoints of the second try, when a hash candidate's first found too few: large drawn text
#: or a logo holds the strongest corners of the picture and crowds its own detail out of the first
#: 1,500 (measured on a development variant, two outlined lines across the middle of 30 photos:
#: 23 confirmed with 1,500 query keypoints, 30 with 3,000 and with 6,000). Tried on the nearest hash
#: candidate only: on every candidate it cost the accuracy benchmark's median query 1.5x
DENSE_FEATURES = 3000


def denser(features: Features, mirrored: bool = False) -> Features:
    """The keypoints of the same work image, flipped left to right if ``mirrored``, at DENSE_FEATURES
    (whole images only)."""
    return extract(features.gray[:, ::-1] if mirrored else features.gray, features.size, count=DENSE_FEATURES)


class ReferenceFeatures:
    """Keypoints of reference images, read from their files on demand, a few kept in memory."""

    def __init__(self, max_pixels: int, keep: int = 64) -> None:
        self.max_pixels = max_pixels
        self.keep = keep
        self._cache: OrderedDict[str, Features | None] = OrderedDict()

    def get(self, sha256: str, paths: list[str]) -> Features | None:
        """The features of the reference with these bytes, from the first of its paths that decodes."""
        if sha256 in self._cache:
            self._cache.move_to_end(sha256)
            return self._cache[sha256]
        features = None
        for path in paths:
            try:
                source: str | bytes = path
                if is_url(path):  # object storage: fetched whole through fsspec, then decoded
                    data = read_file(path).data
                    if data is None:
                        continue
                    source = data
                features = reference_features(source, path, self.max_pixels)
                break
            except Exception:  # noqa: BLE001 - a missing or damaged reference: try its other paths
                continue
        self._cache[sha256] = features
        if len(self._cache) > self.keep:
            self._cache.popitem(last=False)
        return features


def confirm_candidate(
    image: Image.Image,
    features: Features,
    mirrored: Callable[[], Features],
    reference: Features,
    variant: str | None = None,
    dense: Callable[[bool], Features] | None = None,
) -> geometry.Confirmation:
    """Confirm the whole query, mirrored if need be; then, if the reference seems to fill only part
    of the query (a collage cell, a screenshot), that part seen up close; a thumbnail too small for
    keypoints is checked at its own scale, placed as the hash ``variant`` says (``small.py``).
    ``dense`` gives the query's keypoints at DENSE_FEATURES (mirrored when asked), tried when the
    first keypoints were too few to fit a mapping, in the orientation the hash ``variant`` names."""
    outcome = geometry.confirm_any(features, reference, mirrored)
    if outcome.confirmed:
        return outcome
    if variant is not None and small.is_small(features):
        return small.confirm_small(features, reference, variant)
    if dense is not None and outcome.inliers < geometry.MIN_INLIERS:
        flipped = variant is not None and small.reflects(variant)
        retry = geometry.confirm(dense(flipped), reference, mirrored=flipped)
        if retry.confirmed:
            retry.extra["query_keypoints"] = DENSE_FEATURES
            return retry
    zoom = zoom_box(outcome.extra.get("matched_box"), image.size)
    if zoom is None:
        return outcome
    closer = geometry.confirm(features_of(image, zoom), reference)
    return closer if closer.confirmed or closer.inliers > outcome.inliers else outcome


def zoom_box(box: list[int] | None, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """``box`` with a margin, when it is a small enough part of the image to be worth a closer look."""
    if not box:
        return None
    width, height = size
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * 0.1, (y1 - y0) * 0.1
    x0, y0 = max(0, int(x0 - mx)), max(0, int(y0 - my))
    x1, y1 = min(width, int(x1 + mx)), min(height, int(y1 + my))
    if x1 - x0 < 64 or y1 - y0 < 64 or (x1 - x0) * (y1 - y0) > 0.5 * width * height:
        return None
    return x0, y0, x1, y1
