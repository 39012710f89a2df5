"""imagehash's perceptual, wavelet and colour hashes, bit for bit, without their costliest steps.

imagehash computes ``whash`` with three full wavelet transforms of a 256x256 image, ``colorhash``
with sorting histograms, and ``phash`` with SciPy's DCT (importing SciPy costs a worker process a
tenth of a second). The values here are the same strings imagehash gives for the same image
(tests/test_hashes.py checks them against imagehash itself); where that cannot be guaranteed
cheaply (a value at the median), imagehash itself computes the value.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image

_HASH_SIZE = 8
_PHASH_SIDE = 32
#: a DCT coefficient this close to the median may compare differently with another DCT algorithm's
#: rounding (a matrix product's error is about 1e-9 here): such images are left to imagehash
_PHASH_MARGIN = 1e-6


@cache
def _dct_matrix(n: int) -> np.ndarray:
    """SciPy's unnormalised DCT-II as a matrix: ``dct(x) == M @ x``."""
    k, i = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * n))


def phash_coefficients(image: Image.Image) -> np.ndarray:
    """The 8x8 lowest frequencies of the two-axis DCT of ``image`` at 32x32 grey, as imagehash's pHash keeps them."""
    pixels = np.asarray(image.convert("L").resize((_PHASH_SIDE, _PHASH_SIDE), Image.Resampling.LANCZOS), dtype=float)
    m = _dct_matrix(_PHASH_SIDE)[:_HASH_SIZE]
    return m @ pixels @ m.T


def phash_bits(image: Image.Image) -> np.ndarray | None:
    """imagehash's pHash bits (8x8, row by row) of ``image``, or None when a coefficient sits at the median."""
    low = phash_coefficients(image)
    median = np.median(low)
    if np.abs(low - median).min() < _PHASH_MARGIN:
        return None
    return low > median


def phash(image: Image.Image) -> str:
    """``str(imagehash.phash(image))``."""
    bits = phash_bits(image)
    if bits is None:
        import imagehash

        return str(imagehash.phash(image))
    return _hex(bits)


def whash(image: Image.Image) -> str:
    """``str(imagehash.whash(image))``: Haar wavelet hash, 64 bits, with the image's mean removed."""
    luma = image.convert("L")
    scale = max(2 ** int(np.log2(min(luma.size))), _HASH_SIZE)
    pixels = np.asarray(luma.resize((scale, scale), Image.Resampling.LANCZOS), dtype=np.int64)
    block = scale // _HASH_SIZE
    # With Haar wavelets, removing the coarsest LL coefficient subtracts the image mean, and the
    # LL band at the hash's level is each block's sum scaled: both keep the order of the block
    # sums, so comparing exact integer sums with their median gives imagehash's bits.
    sums = pixels.reshape(_HASH_SIZE, block, _HASH_SIZE, block).sum(axis=(1, 3))
    ordered = np.sort(sums, axis=None)
    middle = ordered.size // 2
    if ordered[middle - 1] == ordered[middle]:
        # a block equals the median: imagehash's bit there depends on its floating-point rounding
        import imagehash

        return str(imagehash.whash(image))
    return _hex(sums > (ordered[middle - 1] + ordered[middle]) / 2)


_HUE_EDGES = np.linspace(0, 255, 6 + 1)
#: the hue bin np.histogram puts each 8-bit hue in (bins half-open, the last one closed)
_HUE_BIN = np.minimum(np.searchsorted(_HUE_EDGES, np.arange(256), side="right") - 1, 5)

# colorhash's pixel classes as one 8-bit code, counted by one Pillow histogram: 6 x the saturation
# class (0 grey, 1 faint, 2 neither: exactly 2/3 saturated, 3 bright) + the hue bin; 255 black
_BLACK = 255
_SATURATION_CODE = [
    6 * (0 if s < 256 // 3 else 1 if s < 256 * 2 // 3 else 2 if s == 256 * 2 // 3 else 3) for s in range(256)
]
_BLACK_CODE = [_BLACK if v < 256 // 8 else 0 for v in range(256)]


def colorhash(image: Image.Image, binbits: int = 3) -> str:
    """``str(imagehash.colorhash(image, binbits))``: fractions of black, grey and 12 hue/saturation bins.

    The classes are counted in Pillow (lookup tables and one histogram) instead of boolean arrays:
    the same integer counts, a third of the time.
    """
    from PIL import ImageChops

    intensity = image.convert("L")
    hue, saturation, _ = image.convert("HSV").split()
    code = ImageChops.lighter(
        ImageChops.add(saturation.point(_SATURATION_CODE), hue.point(_HUE_BIN.tolist())),
        intensity.point(_BLACK_CODE),
    )
    counts = code.histogram()
    count = intensity.width * intensity.height
    black = counts[_BLACK]
    gray = sum(counts[0:6])
    coloured = max(1, sum(counts[6:24]))
    faint_counts, bright_counts = counts[6:12], counts[18:24]

    top = 2**binbits
    values = [min(top - 1, int(black / count * top)), min(top - 1, int(gray / count * top))]
    values += [min(top - 1, int(n * top / coloured)) for n in [*faint_counts, *bright_counts]]
    bits = [v // 2 ** (binbits - i - 1) % 2 ** (binbits - i) > 0 for v in values for i in range(binbits)]
    return _hex(np.asarray(bits))


def _hex(bits: np.ndarray) -> str:
    """imagehash's hex form of a boolean array (row by row, padded to whole hex digits)."""
    flat = bits.ravel()
    value = int("".join("1" if b else "0" for b in flat), 2)
    return f"{value:0{-(-flat.size // 4)}x}"
