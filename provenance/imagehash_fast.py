"""imagehash's wavelet hash and colour hash, bit for bit, without their costliest steps.

imagehash computes ``whash`` with three full wavelet transforms of a 256x256 image and
``colorhash`` with sorting histograms; together they cost more than every other hash of a
fingerprint. The values here are the same strings imagehash gives for the same image
(tests/test_hashes.py checks them against imagehash itself); where that cannot be
guaranteed cheaply (a tie at the median), imagehash computes the value.
"""

from __future__ import annotations

import imagehash
import numpy as np
from PIL import Image

_HASH_SIZE = 8


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
        return str(imagehash.whash(image))
    return str(imagehash.ImageHash(sums > (ordered[middle - 1] + ordered[middle]) / 2))


_HUE_EDGES = np.linspace(0, 255, 6 + 1)
#: the hue bin np.histogram puts each 8-bit hue in (bins half-open, the last one closed)
_HUE_BIN = np.minimum(np.searchsorted(_HUE_EDGES, np.arange(256), side="right") - 1, 5)


def colorhash(image: Image.Image, binbits: int = 3) -> str:
    """``str(imagehash.colorhash(image, binbits))``: fractions of black, grey and 12 hue/saturation bins."""
    intensity = np.asarray(image.convert("L")).ravel()
    hsv = np.asarray(image.convert("HSV"))
    hue, saturation = hsv[..., 0].ravel(), hsv[..., 1].ravel()
    count = intensity.size
    black = intensity < 256 // 8
    gray = saturation < 256 // 3
    colours = ~black & ~gray
    faint = colours & (saturation < 256 * 2 // 3)
    bright = colours & (saturation > 256 * 2 // 3)
    coloured = max(1, int(np.count_nonzero(colours)))
    faint_counts = np.bincount(_HUE_BIN[hue[faint]], minlength=6)
    bright_counts = np.bincount(_HUE_BIN[hue[bright]], minlength=6)

    top = 2**binbits
    values = [
        min(top - 1, int(np.count_nonzero(black) / count * top)),
        min(top - 1, int(np.count_nonzero(~black & gray) / count * top)),
    ]
    values += [min(top - 1, int(n * top / coloured)) for n in [*faint_counts, *bright_counts]]
    bits = [v // 2 ** (binbits - i - 1) % 2 ** (binbits - i) > 0 for v in values for i in range(binbits)]
    return str(imagehash.ImageHash(np.asarray(bits).reshape((-1, binbits))))
