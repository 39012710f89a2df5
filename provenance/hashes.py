"""The perceptual hash registry: each kind names itself, its bit length, how to compute it and compare it.

Values are hex strings interoperable with imagehash (``str(imagehash.phash(im))``)
and, for PDQ, with python-threatexchange (bits in order, as 64 hex digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import imagehash
from PIL import Image

from . import imagehash_fast
from .decode import to_rgb

try:  # optional extra: pip install 'provenance[pdq]'
    import pdqhash
except ImportError:  # pragma: no cover - exercised where the extra is absent
    pdqhash = None


@dataclass(frozen=True)
class HashKind:
    """One kind of perceptual hash."""

    name: str
    bits: int
    #: image → the fields this kind adds to ``hashes`` (its hex, and for PDQ its quality)
    compute: Callable[[Image.Image], dict[str, object]]
    #: whether it is computed from luminance only (so a grayscale copy can be shared)
    luma: bool
    #: the default "near" radius in bits for searches (pHash 10 is imagehash's customary cut; PDQ 31 is Meta's)
    near_distance: int


def _imagehash(name: str, function: Callable[[Image.Image], imagehash.ImageHash]):
    return lambda image: {name: str(function(image))}


def _pdq(image: Image.Image) -> dict[str, object]:
    import numpy as np

    rgb = np.ascontiguousarray(np.asarray(image if image.mode == "RGB" else image.convert("RGB")))
    vector, quality = pdqhash.compute(rgb)
    bits = "".join("1" if b else "0" for b in vector)
    return {"pdq": f"{int(bits, 2):064x}", "pdq_quality": int(quality)}


HASH_KINDS: dict[str, HashKind] = {
    "phash": HashKind("phash", 64, _imagehash("phash", imagehash.phash), luma=True, near_distance=10),
    "dhash": HashKind("dhash", 64, _imagehash("dhash", imagehash.dhash), luma=True, near_distance=10),
    "ahash": HashKind("ahash", 64, _imagehash("ahash", imagehash.average_hash), luma=True,
                      near_distance=10),
    "whash": HashKind("whash", 64, lambda image: {"whash": imagehash_fast.whash(image)}, luma=True,
                      near_distance=10),
    "colorhash": HashKind("colorhash", 42, lambda image: {"colorhash": imagehash_fast.colorhash(image)},
                          luma=False, near_distance=4),
}
if pdqhash is not None:
    HASH_KINDS["pdq"] = HashKind("pdq", 256, _pdq, luma=False, near_distance=31)


def pdq_available() -> bool:
    """Whether the optional PDQ hash is installed."""
    return "pdq" in HASH_KINDS


def distance(a: str, b: str) -> int:
    """Hamming distance between two hashes of the same kind, given as hex."""
    if len(a) != len(b):
        raise ValueError(f"hashes of different lengths: {len(a)} and {len(b)} hex digits")
    return (int(a, 16) ^ int(b, 16)).bit_count()


#: PDQ's own quality score below which a hash says little about the picture (Meta's guidance)
MIN_PDQ_QUALITY = 50


def low_information(hashes: dict[str, Any], min_pdq_quality: int = MIN_PDQ_QUALITY) -> bool:
    """Whether a record's hashes describe a flat or near-uniform image, which hashes alone cannot tell apart."""
    quality = hashes.get("pdq_quality")
    if quality is not None:
        return quality < min_pdq_quality
    # without PDQ: a (near) uniform image has almost no horizontal gradients
    bits = bin(int(hashes.get("dhash") or "0", 16)).count("1")
    return bits <= 2 or bits >= 62


def compute_hashes(
    image: Image.Image,
    *,
    kinds: list[str] | None = None,
    on_error: Callable[[str, Exception], None] | None = None,
) -> dict[str, object]:
    """Compute the named hash kinds (all by default) on ``image``; a kind that fails is left out."""
    results: dict[str, object] = {}
    luma: Image.Image | None = None
    for name in kinds or list(HASH_KINDS):
        kind = HASH_KINDS[name]
        try:
            if kind.luma:
                # imagehash converts to L first; converting once and sharing it gives the same bits
                if luma is None:
                    luma = _luma(image)
                results.update(kind.compute(luma))
            else:
                results.update(_compute_colour(kind, image))
        except Exception as exc:  # noqa: BLE001 - a broken hash must not lose the record
            if on_error is not None:
                on_error(name, exc)
    return results


def _luma(image: Image.Image) -> Image.Image:
    try:
        return image.convert("L")
    except ValueError:  # modes Pillow cannot convert to L directly (CIELAB)
        return to_rgb(image).convert("L")


def _compute_colour(kind: HashKind, image: Image.Image) -> dict[str, object]:
    try:
        return kind.compute(image)
    except (ValueError, OSError):  # modes some conversions refuse (I;16, LAB, ...)
        return kind.compute(to_rgb(image))
