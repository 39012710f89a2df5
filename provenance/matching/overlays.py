"""Overlays: which differing parts of an aligned query were drawn over the reference (stickers,
emoji, outlined meme text, semi-transparent watermarks) rather than being other content (another
person on the same backdrop, a subject that moved).

The block comparison (``geometry._block_agreement``) finds the blocks where the query and the
aligned reference differ. Each region of such blocks is judged by *what* differs, not only by how
large it is. A block looks drawn when, among its pixels that changed:

- at least ``OUTLINE`` of them are white next to black or black next to white (outlined text,
  a sticker's outline): photographs rarely put pure white against pure black;
- or at least ``BLEND`` of them fit one semi-transparent white or black layer over the
  reference: the same opacity everywhere (within ``ALPHA_SPREAD``), and where the reference has
  detail the query still follows it (correlation ``CONTINUES``): the reference's structure goes on
  under the layer;
- or, a weaker cue, at least ``FLAT_SHARE`` of them sit on a plateau of exactly flat colour (a
  decoded JPEG block of a flat fill is constant; a photographed surface carries noise). Flat
  blocks count only when the whole region's flat pixels use a few levels (``PALETTE``): a sticker
  is filled with two or three colours, a smooth sky or a lit wall runs through many.

A region is an overlay when at least ``VOTE`` of its blocks look drawn; its blocks are then left
out of the comparison, and the claim says what share of the overlap they covered. Failure modes
(docs/matching.md): an overlay drawn exactly over the part where two look-alikes differ hides the
difference (the claim then rests on the rest of the picture, and says how much was hidden); a large
faint watermark over smooth areas (nothing to see the reference continue through) is not
recognised; a photographed flat-colour object can pass the flat cue, so that cue alone never
explains a region whose flat pixels span many levels.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import regions

#: a pixel has changed when it differs from the aligned reference by this many grey levels
CHANGED = 12.0
#: blocks with fewer changed pixels than this share are not judged
MIN_CHANGED = 0.1
OUTLINE = 0.2
BLEND = 0.6
ALPHA_SPREAD = 0.08
CONTINUES = 0.7
FLAT_SHARE = 0.3
PALETTE = 0.8
VOTE = 0.5
#: white and black, for outlines (grey levels)
WHITE, BLACK = 235, 25


def _drawn(raw: np.ndarray, query: np.ndarray, reference: np.ndarray, side: int) -> tuple[str | None, np.ndarray]:
    """How one block looks drawn — "drawn" (outline or layer), "flat" (plateaus), None — and the grey
    levels of its flat changed pixels (for the region's palette test)."""
    residual = query - reference
    changed = np.abs(residual) >= CHANGED
    none = np.zeros(0, np.int64)
    if changed.mean() < MIN_CHANGED:
        return None, none
    tile = raw.reshape(side, side)
    kernel = np.ones((3, 3), np.uint8)
    local_range = (cv2.dilate(tile, kernel) - cv2.erode(tile, kernel)).ravel()
    white, black = raw >= WHITE, raw <= BLACK
    near = np.ones((5, 5), np.uint8)
    near_black = cv2.dilate(black.reshape(side, side).astype(np.uint8), near).ravel() > 0
    near_white = cv2.dilate(white.reshape(side, side).astype(np.uint8), near).ravel() > 0
    outline = ((white & near_black) | (black & near_white))[changed].mean()
    if outline >= OUTLINE or _layer_share(query, reference, changed, residual) >= BLEND:
        return "drawn", none
    flat = (local_range <= 1) & (raw > BLACK - 5) & (raw < WHITE) & changed
    if flat[changed].mean() >= FLAT_SHARE:
        return "flat", raw[flat].astype(np.int64)
    return None, none


def _layer_share(query: np.ndarray, reference: np.ndarray, changed: np.ndarray, residual: np.ndarray) -> float:
    """Share of the changed pixels that fit one semi-transparent white or black layer over the reference."""
    fitting = 0
    towards_white = (changed & (residual > 0), (query - reference) / np.maximum(255 - reference, 8))
    towards_black = (changed & (residual < 0), (reference - query) / np.maximum(reference, 8))
    for group, alpha in (towards_white, towards_black):
        if group.sum() < 15:
            continue
        a = alpha[group]
        opacity = float(np.median(a))
        under, seen = reference[group], query[group]
        # only where the reference has detail can one see it continue under the layer (a query
        # without variance gives NaN, which follows nothing)
        with np.errstate(invalid="ignore", divide="ignore"):
            follows = under.std() >= 5 and seen.std() > 0 and float(np.corrcoef(under, seen)[0, 1]) >= CONTINUES
        if 0.1 <= opacity <= 0.85 and follows:
            fitting += int((np.abs(a - opacity) < ALPHA_SPREAD).sum())
    return fitting / max(1, int(changed.sum()))


def _palette(levels: np.ndarray) -> float:
    """Share of ``levels`` within one grey level of their three most common values."""
    if levels.size == 0:
        return 0.0
    histogram = np.bincount(np.clip(levels, 0, 255), minlength=256).astype(float)
    covered = 0.0
    for _ in range(3):
        peak = int(np.convolve(histogram, np.ones(3), mode="same").argmax())
        covered += histogram[max(0, peak - 1) : peak + 2].sum()
        histogram[max(0, peak - 1) : peak + 2] = 0
    return covered / levels.size


def overlay_blocks(
    raw: np.ndarray,
    query: np.ndarray,
    reference: np.ndarray,
    inside: np.ndarray,
    agree: np.ndarray,
    displaced: np.ndarray | None = None,
) -> np.ndarray:
    """Which compared blocks lie in a region drawn over the reference.

    ``raw``, ``query`` and ``reference`` hold one row of pixels per compared block (the query
    unblurred, then both as compared); ``inside`` is the grid of compared blocks and ``agree``
    says, per compared block, whether it agreed. Blocks ``displaced`` (their detail found in the
    reference a few pixels away: ``regions.moved_blocks``) show the reference's own content and
    never look drawn, however flat or stroked they are."""
    side = int(round(np.sqrt(raw.shape[1])))
    kinds: list[str | None] = [None] * len(agree)
    flats: list[np.ndarray] = [np.zeros(0, np.int64)] * len(agree)
    raw_u8 = np.clip(raw, 0, 255).astype(np.uint8)
    judged = ~agree if displaced is None else ~agree & ~displaced
    for i in np.flatnonzero(judged):
        kinds[i], flats[i] = _drawn(raw_u8[i], query[i], reference[i], side)
    overlay = np.zeros(len(agree), bool)
    if not any(kinds):
        return overlay
    count, labels = cv2.connectedComponents(regions.difference_grid(inside, ~agree), connectivity=4)
    region_of = labels[inside]
    for region in range(1, count):
        members = np.flatnonzero((region_of == region) & ~agree)
        if members.size == 0:
            continue
        levels = [flats[i] for i in members if kinds[i] == "flat"]
        palette_ok = bool(levels) and _palette(np.concatenate(levels)) >= PALETTE
        votes = [kinds[i] == "drawn" or (kinds[i] == "flat" and palette_ok) for i in members]
        if np.mean(votes) >= VOTE:
            overlay[members] = True
    return overlay
