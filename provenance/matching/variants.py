"""Query variants: the eight rotations and flips of a query and its border-trimmed copy, hashed by
every kind that finds candidates, so a mirrored, turned or framed copy still finds its reference."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .. import hashes as hash_kinds

#: the longest side of the copy the variants are hashed on (the hashes reduce further themselves)
VARIANT_SIDE = 512


def trim_borders(im: Image.Image, tolerance: float = 10.0) -> Image.Image | None:
    """``im`` without uniform borders and letterbox bars, or None when it has none worth trimming."""
    gray = np.asarray(im.convert("L"), dtype=np.float32)
    height, width = gray.shape

    def uniform(lines: np.ndarray, level: float) -> np.ndarray:
        return (np.abs(lines - level).mean(axis=1) < tolerance) & (lines.std(axis=1) < tolerance)

    def run(flags: np.ndarray) -> int:
        stop = np.argmin(flags) if not flags.all() else len(flags)
        return int(stop)

    top = run(uniform(gray, gray[0].mean()))
    bottom = run(uniform(gray[::-1], gray[-1].mean()))
    left = run(uniform(gray.T, gray[:, 0].mean()))
    right = run(uniform(gray.T[::-1], gray[:, -1].mean()))
    box = (left, top, width - right, height - bottom)
    if box[2] - box[0] < width * 0.2 or box[3] - box[1] < height * 0.2:
        return None
    if max(top, bottom) < height * 0.02 and max(left, right) < width * 0.02:
        return None
    return im.crop(box)


def variant_hashes(image: Image.Image) -> list[tuple[str, dict[str, str]]]:
    """(variant name, {kind: hex}) for the eight rotations and flips of ``image`` and its border-trimmed
    copy, in the kinds that find match candidates (``HashKind.candidates``)."""
    small = image.copy()
    small.thumbnail((VARIANT_SIDE, VARIANT_SIDE), Image.Resampling.BOX)
    kinds = [k for k in hash_kinds.kinds() if k.candidates]
    variants: list[tuple[str, dict[str, str]]] = [(name, {}) for name in hash_kinds.VARIANT_NAMES]
    for kind in kinds:
        for (_, hashes), (_, value) in zip(variants, kind.variants(small)):
            hashes[kind.name] = value
    trimmed = trim_borders(small)
    if trimmed is not None:
        hashes = {}
        for kind in kinds:
            hashes[kind.name] = kind.hash_image(hash_kinds.prepare(trimmed, kind.pixels))[kind.name]
        variants.append(("borders trimmed", hashes))
    return variants
