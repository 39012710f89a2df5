"""Geometric confirmation of a candidate: local features, a RANSAC homography, and an aligned pixel check.

A query confirms a reference when enough ORB keypoints agree on one plane-to-plane mapping
(this accepts crops, rescales, rotations, mirrors, screenshots and collages) *and* the
reference, warped onto the query through that mapping, agrees with the query block by block
over the overlap. The second test is what keeps look-alikes apart: two mugshots on the same
backdrop share many keypoints on the wall, but the blocks where the people differ do not agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from ..features import Features
from . import overlays, regions

#: Lowe's ratio test
RATIO = 0.8
#: fewest RANSAC inliers that may confirm
MIN_INLIERS = 12
#: below this share of matches agreeing, a few dozen inliers are not enough (different frames of one sitting)
MIN_INLIER_RATIO = 0.5
CONVINCING_INLIERS = 60
#: fewest aligned blocks that may confirm (the overlap must be big enough to judge)
MIN_BLOCKS = 12
#: fraction of the overlap's blocks that must agree once aligned
MIN_AGREEMENT = 0.8
#: fewer may agree when those that agree do so to the pixel (median correlation EXACT): new content
#: over an exact copy (an unrecognised watermark or text), not a different picture of the scene
MIN_AGREEMENT_EXACT = 0.6
EXACT = 0.97
#: a block agrees when its correlation with the aligned reference reaches this
BLOCK_CORRELATION = 0.6
#: a block is flat below this standard deviation (grey levels)
FLAT = 4.0
#: flat blocks agree when their levels differ by less than this
FLAT_LEVEL = 16.0
#: any block agrees when it differs from the aligned reference by less than this on average
CLOSE_LEVEL = 6.0
#: above this share of the overlap under overlays (``overlays.py``), too little is left to judge
MAX_OVERLAY_SHARE = 0.35


@dataclass
class Transform:
    """How the query was made from the reference, in the reference's full-size pixel coordinates."""

    #: query pixels per reference pixel (0.5: the query is half the size)
    scale: float
    #: the reference's region the query shows: [left, top, right, bottom], clipped to the reference
    crop: list[int]
    #: share of the reference's area the query shows (0–1)
    crop_fraction: float
    #: rotation of the query against the reference, degrees, counter-clockwise (after the flip, if any)
    rotation: float
    #: "horizontal" when the query is the reference mirrored left to right (then rotated), else None
    flip: str | None
    #: 3x3 homography from query pixels to reference pixels (full sizes)
    homography: list[list[float]]
    #: share of the query's area that the reference fills (below 1: borders, banners, a page or collage around it)
    query_fraction: float
    #: where the reference lands in the query: [left, top, right, bottom] in query pixels
    query_box: list[int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scale": round(self.scale, 4), "crop": self.crop, "crop_fraction": round(self.crop_fraction, 4),
            "rotation": round(self.rotation, 2), "flip": self.flip,
            "query_fraction": round(self.query_fraction, 4), "query_box": self.query_box,
            "homography": [[round(v, 6) for v in row] for row in self.homography],
        }  # fmt: skip


@dataclass
class Confirmation:
    """The outcome of checking one query against one reference."""

    confirmed: bool
    #: keypoint pairs that passed the ratio test, and those consistent with the homography
    matches: int = 0
    inliers: int = 0
    #: textured blocks compared after alignment, and the share of them that agree
    blocks: int = 0
    agreement: float = 0.0
    transform: Transform | None = None
    #: why it was not confirmed (None when confirmed)
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "confirmed": self.confirmed, "matches": self.matches, "inliers": self.inliers,
            "blocks": self.blocks, "agreement": round(self.agreement, 4),
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in self.extra.items()},
            "reason": self.reason,
        }  # fmt: skip


def _ratio_matches(query: Features, reference: Features) -> tuple[np.ndarray, np.ndarray]:
    if len(query.descriptors) < 2 or len(reference.descriptors) < 2:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(query.descriptors, reference.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    q = np.array([query.points[m.queryIdx] for m in good], dtype=np.float32).reshape(-1, 2)
    r = np.array([reference.points[m.trainIdx] for m in good], dtype=np.float32).reshape(-1, 2)
    return q, r


def _plausible(h: np.ndarray, query_shape: tuple[int, int]) -> bool:
    """A homography a copy could have: orientation kept, no wild perspective, scale in reason."""
    if not np.all(np.isfinite(h)):
        return False
    det = np.linalg.det(h[:2, :2])
    if det <= 0:  # mirrored mappings are handled by mirroring the query first
        return False
    scale = math.sqrt(det)
    if not 1 / 16 < scale < 16:
        return False
    height, width = query_shape
    if abs(h[2, 0]) * width + abs(h[2, 1]) * height > 0.3:  # strong perspective: another view, not a copy
        return False
    return True


def _block_agreement(query: np.ndarray, warped: np.ndarray, mask: np.ndarray, *, motion: bool = True) -> dict[str, Any]:
    """Compare the query with the aligned reference block by block over the overlap (``motion``:
    also measure how the differing blocks moved, ``regions.Motion``, and give a way to measure how
    the agreeing ones drift, ``regions.Drift``).

    The reference is first matched to the query's levels (one gain and offset over the whole
    overlap: grayscale, brightness and contrast changes). A block with detail on either side
    agrees when the details correlate; blocks flat on both sides carry no evidence and are
    only counted apart.
    """
    block = max(8, round(max(query.shape) / 24))
    sigma = block / 20
    q = cv2.GaussianBlur(query.astype(np.float32), (0, 0), sigma)
    w = cv2.GaussianBlur(warped.astype(np.float32), (0, 0), sigma)
    rows, cols = q.shape[0] // block, q.shape[1] // block
    out: dict[str, Any] = {
        "compared": 0, "textured": 0, "agreement": 0.0, "flat_agreement": 0.0, "largest_difference": 0.0,
        "overlay_share": 0.0, "region": None, "motion": None, "drift": None,
    }  # fmt: skip
    if rows == 0 or cols == 0:
        return out

    def blocks(a: np.ndarray) -> np.ndarray:
        return (
            a[: rows * block, : cols * block]
            .reshape(rows, block, cols, block)
            .swapaxes(1, 2)
            .reshape(rows * cols, block * block)
        )

    inside = blocks(mask).min(axis=1) > 0
    qb, wb = blocks(q), blocks(w)
    # blocks clipped to black or white on either side (over-exposure, a brightened copy) say nothing
    clipped = np.zeros(len(qb), bool)
    for b in (qb, wb):
        level, spread = b.mean(axis=1), b.std(axis=1)
        clipped |= (spread < FLAT) & ((level > 240) | (level < 15))
    inside &= ~clipped
    out["compared"] = int(inside.sum())
    if out["compared"] == 0:
        return out
    qb, wb = qb[inside], wb[inside]
    usable = (qb > 12) & (qb < 243) & (wb > 12) & (wb < 243)
    if usable.sum() > 100 and wb[usable].std() > 1:
        gain, offset = np.polyfit(wb[usable], qb[usable], 1)
    else:
        gain, offset = 1.0, float(qb.mean() - wb.mean())
    wb = wb * gain + offset
    qc = qb - qb.mean(axis=1, keepdims=True)
    wc = wb - wb.mean(axis=1, keepdims=True)
    qs, ws = np.sqrt((qc * qc).mean(axis=1)), np.sqrt((wc * wc).mean(axis=1))
    correlation = (qc * wc).mean(axis=1) / np.maximum(qs * ws, 1e-6)
    difference = np.abs(qb - wb).mean(axis=1)
    flat = (qs < FLAT) & (ws < FLAT)
    agree = np.where(flat, difference < FLAT_LEVEL, (correlation >= BLOCK_CORRELATION) | (difference < CLOSE_LEVEL))
    grid = inside.reshape(rows, cols)
    cells = np.argwhere(grid)
    moved = regions.moved_blocks(q, w, block)
    # blocks where the query shows an overlay drawn over the reference are left out of the comparison;
    # a block whose detail the reference holds a few pixels away shows the reference's own content
    # moved (a burst frame's wall lines), never something drawn over it
    overlay = np.zeros_like(agree)
    if (~agree).any():
        displaced = np.zeros_like(agree)
        for i in np.flatnonzero(~agree & ~flat):
            displaced[i] = moved(int(cells[i, 0]), int(cells[i, 1])) is not None
        overlay = overlays.overlay_blocks(blocks(query.astype(np.float32))[inside], qb, wb, grid, agree, displaced)
    judged = ~overlay
    textured = ~flat & judged
    out["textured"] = int(textured.sum())
    out["overlay_share"] = float(overlay.mean())
    if textured.any():
        out["agreement"] = float(agree[textured].mean())
    if (textured & agree).any():
        out["agreeing_correlation"] = float(np.median(correlation[textured & agree]))
    if (flat & judged).any():
        out["flat_agreement"] = float(agree[flat & judged].mean())
    differing = ~agree & ~flat & judged
    region = regions.largest(grid, agree | overlay, differing, moved)
    if region is not None:
        out["largest_difference"], out["region"] = region.extent, region
    if motion:
        out["motion"] = regions.motion(grid, differing, moved, block)
        # measured only if the rules before it pass (``_pixel_check``): most rejected candidates never need it
        agreeing = cells[textured & agree]
        out["drift"] = lambda: regions.drift(agreeing, regions.displacements(q, w, block, block // 2))
    return out


def _take_results(
    compared: dict[str, Any],
) -> tuple[int, float, regions.Region | None, regions.Motion | None, Callable[[], regions.Drift | None]]:
    """Split ``_block_agreement``'s output into what the rules read (blocks with detail, their
    agreement, the largest region, the motion, how to measure the drift) and what stays in it for
    the evidence."""
    blocks, agreement = int(compared.pop("textured")), float(compared.pop("agreement"))
    region: regions.Region | None = compared.pop("region")
    motion: regions.Motion | None = compared.pop("motion")
    drift: Callable[[], regions.Drift | None] = compared.pop("drift") or (lambda: None)
    if region is not None:
        compared["difference"] = region.kind
    if motion is not None:
        compared["moved_blocks"] = motion.small_moves
    return blocks, agreement, region, motion, drift


def confirm(query: Features, reference: Features, *, mirrored: bool = False) -> Confirmation:
    """Check whether ``query`` shows (part of) ``reference``; ``mirrored`` says the query features were flipped."""
    q, r = _ratio_matches(query, reference)
    matched = _box(query.to_full(q)) if len(q) >= 4 else None
    if len(q) < MIN_INLIERS:
        return Confirmation(
            False, matches=len(q), reason=f"only {len(q)} keypoint matches", extra={"matched_box": matched}
        )
    h, inlier_mask = cv2.findHomography(q, r, cv2.USAC_MAGSAC, 3.0, maxIters=2000, confidence=0.999)
    inliers = int(inlier_mask.sum()) if inlier_mask is not None else 0
    if h is None or inliers < MIN_INLIERS:
        return Confirmation(
            False,
            matches=len(q),
            inliers=inliers,
            reason=f"only {inliers} consistent keypoints",
            extra={"matched_box": matched},
        )
    if not _plausible(h, query.gray.shape):
        return Confirmation(
            False,
            matches=len(q),
            inliers=inliers,
            reason="the keypoints fit no plausible copy",
            extra={"matched_box": matched},
        )
    result = _pixel_check(query, reference, h, _transform(h, query, reference, mirrored))
    result.matches, result.inliers = len(q), inliers
    result.extra["inlier_ratio"] = inliers / len(q)
    result.extra["matched_box"] = _box(query.to_full(q[inlier_mask.ravel().astype(bool)]))
    if inliers / len(q) < MIN_INLIER_RATIO and inliers < CONVINCING_INLIERS:
        result.confirmed = False
        result.reason = f"only {inliers} of {len(q)} keypoint matches agree on one mapping"
    return result


def confirm_mapping(query: Features, reference: Features, found: Confirmation) -> Confirmation:
    """Check the whole ``query`` against ``reference`` through the mapping ``found`` on a part of it.

    A part of the query seen up close may confirm a reference that the whole does not: an inset on
    another photo. It may also confirm a look-alike's backdrop (a part showing only the wall). The
    mapping says where the reference lies in the whole query; the claim holds only if the pixels
    agree there, by the same rules, over everything the reference covers."""
    if found.transform is None:
        return found
    to_full = np.array([[query.scale, 0, query.origin[0]], [0, query.scale, query.origin[1]], [0, 0, 1.0]])
    to_reference_work = np.diag([1 / reference.scale, 1 / reference.scale, 1.0])
    h = to_reference_work @ np.array(found.transform.homography) @ to_full
    result = _pixel_check(query, reference, h / h[2, 2], found.transform)
    result.matches, result.inliers = found.matches, found.inliers
    result.extra["matched_box"] = found.extra.get("matched_box")
    return result


def _pixel_check(query: Features, reference: Features, h: np.ndarray, transform: Transform) -> Confirmation:
    """The aligned pixel rules: the reference warped into the query's frame through ``h`` (query work
    pixels to reference work pixels), compared block by block over the overlap."""
    qh, qw = query.gray.shape
    warped = cv2.warpPerspective(reference.gray, h, (qw, qh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    inside = cv2.warpPerspective(
        np.full(reference.gray.shape, 255, np.uint8), h, (qw, qh), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8))
    compared = _block_agreement(query.gray, warped, inside)
    blocks, agreement, region, motion, measure_drift = _take_results(compared)
    result = Confirmation(False, blocks=blocks, agreement=agreement, transform=transform, extra=compared)
    if compared["overlay_share"] > MAX_OVERLAY_SHARE:
        result.reason = f"aligned, but {compared['overlay_share']:.0%} of the overlap is hidden under overlays"
    elif blocks < MIN_BLOCKS:
        result.reason = f"the overlap has too little detail to compare ({blocks} blocks)"
    elif region is not None and region.rejects:
        result.reason = f"aligned, but {region.explain()}"
    elif motion is not None and motion.another_frame:
        result.reason = f"aligned, but {motion.explain()}"
    elif (drift := _drift_of(measure_drift, compared)) is not None and drift.another_frame:
        result.reason = f"aligned, but {drift.explain()}"
    elif agreement < MIN_AGREEMENT and not (
        agreement >= MIN_AGREEMENT_EXACT and compared.get("agreeing_correlation", 0.0) >= EXACT
    ):
        result.reason = (
            f"aligned, but only {agreement:.0%} of the overlap agrees: a different picture of the same scene"
        )
    else:
        result.confirmed = True
    return result


def _drift_of(measure: Callable[[], regions.Drift | None], compared: dict[str, Any]) -> regions.Drift | None:
    """The agreeing blocks' drift, measured now, its share kept in ``compared`` for the evidence."""
    drift = measure()
    if drift is not None:
        compared["drifting_share"] = round(drift.share, 4)
    return drift


def _transform(h_work: np.ndarray, query: Features, reference: Features, mirrored: bool) -> Transform:
    """Express the work-pixel homography in full-size pixels and summarise it."""
    to_query_work = np.diag([1 / query.scale, 1 / query.scale, 1.0]) @ np.array(
        [[1.0, 0, -query.origin[0]], [0, 1, -query.origin[1]], [0, 0, 1]]
    )
    to_ref_full = np.diag([reference.scale, reference.scale, 1.0])
    h = to_ref_full @ h_work @ to_query_work
    qw, qh = query.size
    h = h / h[2, 2]
    # the rotation and scale of the (possibly flipped) query's axes in reference space
    affine = h[:2, :2]
    det = abs(np.linalg.det(affine))
    scale = 1 / math.sqrt(det) if det > 0 else float("nan")
    rotation = math.degrees(math.atan2(affine[1, 0], affine[0, 0]))
    if mirrored:  # the flipped query is the reference turned the other way
        rotation = -rotation
    rotation = (rotation + 180) % 360 - 180
    if mirrored:  # the features were of the flipped query: undo the flip on the query side
        h = h @ np.array([[-1.0, 0, qw], [0, 1, 0], [0, 0, 1]])
    corners = np.array([[0, 0], [qw, 0], [qw, qh], [0, qh]], dtype=np.float64).reshape(-1, 1, 2)
    projected = cv2.perspectiveTransform(corners, h).reshape(-1, 2)
    rw, rh = reference.size
    left, top = np.clip(projected.min(axis=0), 0, [rw, rh])
    right, bottom = np.clip(projected.max(axis=0), 0, [rw, rh])
    crop = [int(round(v)) for v in (left, top, right, bottom)]
    crop_fraction = max(0.0, (right - left) * (bottom - top)) / (rw * rh)
    # where the reference lands in the query
    ref_corners = np.array([[0, 0], [rw, 0], [rw, rh], [0, rh]], dtype=np.float64).reshape(-1, 1, 2)
    footprint = cv2.perspectiveTransform(ref_corners, np.linalg.inv(h)).reshape(-1, 2).astype(np.float32)
    query_rect = np.array([[0, 0], [qw, 0], [qw, qh], [0, qh]], dtype=np.float32)
    try:
        area, polygon = cv2.intersectConvexConvex(footprint, query_rect)
    except cv2.error:  # a degenerate footprint
        area, polygon = 0.0, None
    box = _box(polygon.reshape(-1, 2)) if polygon is not None and len(polygon) else None
    return Transform(
        scale=scale,
        crop=crop,
        crop_fraction=float(crop_fraction),
        rotation=rotation,
        flip="horizontal" if mirrored else None,
        homography=h.tolist(),
        query_fraction=float(area) / (qw * qh),
        query_box=box,
    )


def _box(points: np.ndarray) -> list[int]:
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    return [int(math.floor(x0)), int(math.floor(y0)), int(math.ceil(x1)), int(math.ceil(y1))]


def confirm_any(
    query: Features, reference: Features, query_mirror: Callable[[], Features] | None = None
) -> Confirmation:
    """Confirm as is, then mirrored if that fails; ``query_mirror`` gives the flipped query's keypoints
    (asked for only when needed)."""
    direct = confirm(query, reference)
    if direct.confirmed or query_mirror is None:
        return direct
    flipped = confirm(query_mirror(), reference, mirrored=True)
    if flipped.confirmed or flipped.inliers > direct.inliers:
        return flipped
    return direct
