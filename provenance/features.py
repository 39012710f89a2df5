"""Local features of an image: ORB keypoints and descriptors on a reduced, upright, grayscale working copy.

They serve the matcher twice: as the evidence of geometric confirmation (``matching/geometry.py``)
and, the strongest of them, as the keys of the keypoint search over references (``keypoints.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .decode import oriented_image, to_rgb

#: longest side of the images keypoints are found on (pixels)
WORK_SIDE = 640
#: ORB keypoints per image
FEATURES = 1500


@dataclass
class Features:
    """ORB keypoints of one image (oriented for display), on a reduced working copy."""

    #: the work image (grayscale, uint8), longest side <= WORK_SIDE
    gray: np.ndarray
    #: keypoint positions in work pixels, float32 (n, 2)
    points: np.ndarray
    #: ORB descriptors, uint8 (n, 32)
    descriptors: np.ndarray
    #: the full image's size (width, height)
    size: tuple[int, int]
    #: where the work image starts in the full image, and the size it covers there (a zoomed-in region)
    origin: tuple[int, int] = (0, 0)
    region: tuple[int, int] | None = None

    @property
    def scale(self) -> float:
        """Full-image pixels per work pixel."""
        return (self.region or self.size)[0] / self.gray.shape[1]

    def to_full(self, points: np.ndarray) -> np.ndarray:
        """Work-pixel points in full-image pixels."""
        return points * self.scale + np.asarray(self.origin, dtype=np.float32)

    def mirrored(self) -> Features:
        """The features of this image flipped left to right (whole images only)."""
        return extract(self.gray[:, ::-1], self.size)


def work_image(image: Image.Image) -> np.ndarray:
    """A grayscale uint8 copy of ``image`` with its longest side at most WORK_SIDE."""
    im = image if image.mode == "L" else to_rgb(image).convert("L")
    longest = max(im.size)
    if longest > WORK_SIDE:
        factor = WORK_SIDE / longest
        im = im.resize(
            (max(1, round(im.width * factor)), max(1, round(im.height * factor))),
            Image.Resampling.BOX if factor < 0.5 else Image.Resampling.BILINEAR,
        )
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def extract(gray: np.ndarray, size: tuple[int, int], count: int = FEATURES) -> Features:
    """ORB keypoints and descriptors of a work image, the ``count`` strongest."""
    import cv2  # loaded with the first image (OpenCV takes a tenth of a second to import)

    cv2.setNumThreads(1)  # the worker processes already use every core
    gray = np.ascontiguousarray(gray)
    orb = cv2.ORB_create(nfeatures=count, fastThreshold=10, edgeThreshold=15, patchSize=31)  # type: ignore[attr-defined]
    keypoints, descriptors = orb.detectAndCompute(gray, None)
    if descriptors is None:
        return Features(
            gray=gray, points=np.zeros((0, 2), np.float32), descriptors=np.zeros((0, 32), np.uint8), size=size
        )
    order = np.argsort([-k.response for k in keypoints], kind="stable")  # strongest first
    points = np.array([keypoints[i].pt for i in order], dtype=np.float32).reshape(-1, 2)
    descriptors = descriptors[order]
    return Features(gray=gray, points=points, descriptors=descriptors, size=size)


def features_of(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> Features:
    """The features of a decoded, display-oriented image, or of the region ``box`` of it seen up close."""
    if box is None:
        return extract(work_image(image), image.size)
    region = image.crop(box)
    features = extract(work_image(region), image.size)
    features.origin, features.region = (box[0], box[1]), region.size
    return features


def reference_features(source: str | bytes, name: str, max_pixels: int) -> Features:
    """The features of a reference image (a path, or its bytes), decoded upright at the working size.

    Raises a ``ProvenanceError`` when it cannot be decoded."""
    image, full = oriented_image(source, name, max_pixels, side=WORK_SIDE)
    return extract(work_image(image), full)
