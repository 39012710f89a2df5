"""Confirmation at thumbnail scale: a copy too small for keypoints (about 100–200 px on its longest
side) is checked pixel by pixel at its own resolution.

The hash candidate says how the query sits on the reference: the whole picture, in the variant
(rotation or flip) its hashes were closest on. The reference is reduced to the query's size in that
placement, the alignment is refined by OpenCV's ECC (an affine warp maximising the correlation of
the two images: it absorbs the rounding of a resize, a few pixels of crop or a slight turn), and
the aligned pair goes through the same block comparison as a keypoint confirmation
(``geometry._block_agreement``): most blocks with detail must agree, and no region large in both
directions may differ (another person on the same backdrop is as visible at 128 px as at 640).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..features import Features
from . import geometry

#: queries at most this long on their longest side are small enough to need this rule (pixels)
SMALL_SIDE = 200
#: and at least this long: below it there are too few blocks to judge
TINY_SIDE = 48
#: the ECC correlation of the aligned pair must reach this (measured: resized copies 0.98–1.00,
#: sharpened 0.987+, burst frames of one sitting 0.80–0.999)
MIN_CORRELATION = 0.98
#: and, once aligned, the detail may not have moved locally by more than this (pixels at the
#: thumbnail's scale, 90th percentile of the optical flow over edges): a second frame of a burst
#: aligns as a whole but its subject has moved (measured: copies 0.07–0.52, burst frames 0.67–3.3)
MAX_LOCAL_MOTION = 0.6
#: the ECC warp may not move the reference by more than this share of the query's size, nor scale
#: it by more than this factor: it refines the hash's placement, it does not find a new one
MAX_DRIFT = 0.08
MAX_STRETCH = 1.12


def _orientation(variant: str, width: int, height: int) -> np.ndarray | None:
    """The 3x3 map from query pixels to the pixels of the query turned as ``variant`` names
    (the rotations and flips of ``hashes.DIHEDRAL``); None for a variant that is no such turn."""
    w, h = float(width), float(height)
    maps = {
        "as is": [[1, 0, 0], [0, 1, 0]],
        "mirrored": [[-1, 0, w], [0, 1, 0]],
        "rotated 90°": [[0, -1, h], [1, 0, 0]],
        "rotated 180°": [[-1, 0, w], [0, -1, h]],
        "rotated 270°": [[0, 1, 0], [-1, 0, w]],
        "flipped vertically": [[1, 0, 0], [0, -1, h]],
        "transposed": [[0, 1, 0], [1, 0, 0]],
        "transversed": [[0, -1, h], [-1, 0, w]],
    }
    if variant not in maps:
        return None
    return np.vstack([np.array(maps[variant], np.float64), [0, 0, 1]])


def reflects(variant: str) -> bool:
    """Whether the hash ``variant`` is a mirror image of the picture (a flip, turned or not)."""
    turn = _orientation(variant, 1, 1)
    return turn is not None and bool(np.linalg.det(turn[:2, :2]) < 0)


def local_motion(query: np.ndarray, aligned: np.ndarray, inside: np.ndarray) -> float:
    """How far the detail of ``aligned`` must still move to land on ``query``: the 90th percentile of
    the dense optical flow (Farnebäck) over the query's edges inside the overlap, in pixels."""
    flow = cv2.calcOpticalFlowFarneback(aligned, query, None, 0.5, 2, 7, 3, 5, 1.1, 0)
    magnitude = np.hypot(flow[..., 0], flow[..., 1])
    gradient = np.hypot(cv2.Sobel(query, cv2.CV_32F, 1, 0), cv2.Sobel(query, cv2.CV_32F, 0, 1))
    edges = (gradient > 40) & (cv2.erode(inside, np.ones((9, 9), np.uint8)) > 0)
    edges[:4], edges[-4:], edges[:, :4], edges[:, -4:] = False, False, False, False
    if edges.sum() < 20:
        return 0.0
    return float(np.percentile(magnitude[edges], 90))


def is_small(query: Features) -> bool:
    """Whether ``query`` is a thumbnail-sized whole image, the case this rule is for."""
    return query.region is None and TINY_SIDE <= max(query.size) <= SMALL_SIDE


def confirm_small(query: Features, reference: Features, variant: str) -> geometry.Confirmation:
    """Check a thumbnail-sized query against ``reference`` placed as the hash ``variant`` says."""
    turn = _orientation(variant, query.gray.shape[1], query.gray.shape[0])
    if turn is None:
        return geometry.Confirmation(False, reason=f"no thumbnail-scale check for the '{variant}' variant")
    mirrored = reflects(variant)
    qh, qw = query.gray.shape
    turned_size = (qh, qw) if abs(turn[0, 0]) < 0.5 else (qw, qh)  # (width, height) after the turn
    # the query as the reference is oriented, and the reference reduced to that size
    turned = cv2.warpAffine(query.gray, turn[:2], turned_size, flags=cv2.INTER_NEAREST)
    small_ref = cv2.resize(reference.gray, turned_size, interpolation=cv2.INTER_AREA)
    warp = np.eye(2, 3, dtype=np.float32)
    try:
        correlation, warp = cv2.findTransformECC(  # type: ignore[call-overload]
            turned.astype(np.float32),
            small_ref.astype(np.float32),
            warp,
            cv2.MOTION_AFFINE,
            (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5),
            None,
            3,
        )
    except cv2.error:  # no convergence: the pictures do not correlate at all
        return geometry.Confirmation(False, reason="at the thumbnail's scale the pictures do not align")
    stretch = float(np.sqrt(abs(np.linalg.det(warp[:, :2].astype(np.float64)))))
    drift = float(np.abs(warp[:, 2]).max()) / max(turned_size)
    aligned = cv2.warpAffine(
        small_ref, warp, turned_size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    inside = cv2.warpAffine(
        np.full(small_ref.shape, 255, np.uint8), warp, turned_size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8))
    # at this scale the optical flow (local_motion) tells a second frame, not the blocks' moves
    compared = geometry._block_agreement(turned, aligned, inside, motion=False)
    motion = local_motion(turned, aligned, inside)
    blocks, agreement, region, _, _ = geometry._take_results(compared)
    # query work pixels → reference work pixels: turn, ECC warp, then up to the reference's work size
    up = np.diag([reference.gray.shape[1] / turned_size[0], reference.gray.shape[0] / turned_size[1], 1.0])
    h = up @ np.vstack([warp.astype(np.float64), [0, 0, 1]]) @ turn
    if mirrored:  # express it on the mirrored query, as geometry.Transform expects
        h = h @ np.array([[-1.0, 0, qw], [0, 1, 0], [0, 0, 1]])
    result = geometry.Confirmation(
        False,
        blocks=blocks,
        agreement=agreement,
        transform=geometry._transform(h, query, reference, mirrored),
        extra={
            **compared,
            "rule": "thumbnail-scale",
            "ecc_correlation": float(correlation),
            "compared_at": list(turned_size),
            "local_motion": motion,
        },
    )
    if drift > MAX_DRIFT or not 1 / MAX_STRETCH < stretch < MAX_STRETCH:
        result.reason = "at the thumbnail's scale the pictures align only far from where the hashes place them"
    elif correlation < MIN_CORRELATION:
        result.reason = f"at the thumbnail's scale the aligned pictures correlate only {correlation:.2f}"
    elif motion > MAX_LOCAL_MOTION:
        result.reason = (
            f"aligned at the thumbnail's scale, but its detail has moved by {motion:.1f} px in places: "
            "another frame of the same scene"
        )
    elif blocks < geometry.MIN_BLOCKS:
        result.reason = f"the thumbnail has too little detail to compare ({blocks} blocks)"
    elif compared["overlay_share"] > geometry.MAX_OVERLAY_SHARE:
        result.reason = f"aligned at the thumbnail's scale, but {compared['overlay_share']:.0%} of it is under overlays"
    elif region is not None and region.rejects:
        result.reason = f"aligned at the thumbnail's scale, but {region.explain()}"
    elif agreement < geometry.MIN_AGREEMENT:
        result.reason = f"aligned at the thumbnail's scale, but only {agreement:.0%} of it agrees"
    else:
        result.confirmed = True
    return result
