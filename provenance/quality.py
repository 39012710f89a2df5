"""Estimating a JPEG's quality setting from its quantisation tables, on libjpeg's 1–100 scale."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# ITU-T T.81 Annex K tables, as libjpeg's jcparam.c scales them (natural order).
_STD_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
_STD_CHROMINANCE = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
) + (99,) * 32  # fmt: skip


def scaled_table(base: Sequence[int], quality: int) -> list[int]:
    """The table libjpeg's ``jpeg_set_quality(quality, force_baseline=TRUE)`` writes."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(255, max(1, (q * scale + 50) // 100)) for q in base]


# rows: quality 1..100; columns: the 64 luminance then the 64 chrominance entries
_CANDIDATES = np.array(
    [scaled_table(_STD_LUMINANCE, q) + scaled_table(_STD_CHROMINANCE, q) for q in range(1, 101)], dtype=np.int32
)


def estimate_quality(tables: Mapping[int, Sequence[int]] | None) -> int | None:
    """The libjpeg quality whose standard tables are closest to ``tables`` (Pillow's ``quantization``).

    Exact for files written by libjpeg and its descendants; for cameras and editors with
    their own tables it is the nearest equivalent setting. None when there are no tables.
    """
    if not tables:
        return None
    luma = list(tables.get(0) or next(iter(tables.values())))
    chroma = list(tables[1]) if 1 in tables else None
    if len(luma) != 64 or (chroma is not None and len(chroma) != 64):
        return None
    actual = np.array(luma + (chroma or []), dtype=np.int32)
    errors = np.abs(_CANDIDATES[:, : actual.size] - actual).sum(axis=1)
    return int(np.argmin(errors)) + 1  # ties go to the lower quality, as the first minimum


def ijg_quality(tables: Mapping[int, Sequence[int]] | None) -> int | None:
    """The quality N at which the file's tables are exactly the IJG standard tables libjpeg scales
    (``jpeg_set_quality(N)``), or None when they are not, at any quality. Many programs and some
    cameras write these tables, so a match names a family of encoders, not one."""
    if not tables or 0 not in tables:
        return None
    luma = list(tables[0])
    chroma = list(tables[1]) if 1 in tables else None
    if len(luma) != 64 or (chroma is not None and len(chroma) != 64) or len(tables) > 2:
        return None
    actual = np.array(luma + (chroma or []), dtype=np.int32)
    same = np.flatnonzero((_CANDIDATES[:, : actual.size] == actual).all(axis=1))
    return int(same[0]) + 1 if same.size else None
