"""Differing regions: where a query and the aligned reference differ, how far each region extends,
and whether it shows the reference's own detail moved (another frame) or new content (another
subject, or something drawn over the picture).

The block comparison (``geometry._block_agreement``) flags the blocks that differ; gaps of one
block are closed and each connected region is judged here. Its size is measured two ways, because
two kinds of look-alike differ in two shapes:

- **another frame of the same sitting** (a burst, a second exposure): the subject moved a little,
  so the pictures differ along its outlines, a ring or a band whose filled area is small but
  whose extent is the subject's. A region where most differing blocks find their query detail in
  the reference a few pixels away (``MOVED_CORRELATION``) is *moved*, and measured by its
  bounding box: it rejects when it spans ``MAX_DIFFERENT_REGION`` of the overlap in both
  directions, as every region did before this distinction.
- **new content** (another person on the backdrop, a sticker, a caption): the pictures differ
  over the whole region. It is measured by what it fills: the side of the largest square of
  differing blocks, against the overlap's longer side. Another person fills a square of 0.35 or
  more of a mugshot; stickers of 5–15% of the picture, even two touching, fill at most 0.26
  (measured, docs/matching.md); so a new-content region rejects from ``MAX_FILLED_REGION``.
  Bounding boxes could not tell these apart: three stickers a block or two apart merge, after the
  gap closing, into one region whose box is as wide as a person.

A second frame whose subject moved too little to leave a large region is told by how its detail
moved (``Motion``): in a copy, the few blocks that differ because the mapping fits them a little
off all move one way; in a second frame the subject moved and posed again, so five or more
differing blocks find their detail a few pixels away in directions that disagree.

Failure modes: a burst of a smooth subject (little detail to move) on a featureless backdrop
differs in too few blocks to tell, and is claimed as the same picture; a solid sticker over about
9–12% of the picture (square to 4:3) that is not recognised as drawn (``overlays.py``) is as
large as a subject and rejects the copy; a second subject smaller than a third of the picture's
side is not told from an overlay by size (the agreement rule still needs 80% of the rest to agree, or 60% when that
rest agrees to the pixel, and the claim says what share differs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

#: a moved region spanning this share of the overlap in both directions rejects (another frame)
MAX_DIFFERENT_REGION = 0.25
#: a new-content region filling a square of this share of the overlap's longer side rejects (another subject)
MAX_FILLED_REGION = 0.30
#: regions smaller than this share of the compared blocks are not judged
MIN_REGION = 0.04
#: not-compared cells (clipped to black or white) may fill at most this share of a region's square
WILDCARDS = 0.25
#: a differing block has moved when its query detail correlates this well with the reference
#: within one block's distance, by this much more than in place, at least MIN_SHIFT pixels away
MOVED_CORRELATION = 0.8
MOVED_GAIN = 0.3
MIN_SHIFT = 2
#: a region is moved when at least this share of its differing blocks with detail moved
MOVED_SHARE = 0.5
#: this many differing blocks moved by at most half a block, in directions this far from one
#: (mean move over mean length), mark another frame: copies' misfits move one way (0.99)
MIN_MOVES = 5
MAX_COHERENCE = 0.95


@dataclass
class Region:
    """The largest differing region of an aligned pair, as the rejecting rule measures it."""

    #: "moved" (the reference's detail displaced: another frame) or "new" (content the reference lacks)
    kind: str
    #: share of the overlap across: the bounding box's smaller side (moved) or the filled square's side (new)
    extent: float
    #: median displacement of the moved blocks, work pixels (0 for new content)
    shift: float = 0.0

    @property
    def limit(self) -> float:
        """The extent from which a region of this kind rejects."""
        return MAX_DIFFERENT_REGION if self.kind == "moved" else MAX_FILLED_REGION

    @property
    def rejects(self) -> bool:
        return self.extent >= self.limit

    def explain(self) -> str:
        """Why this region rejects, in words a reader can check."""
        if self.kind == "moved":
            return (
                f"a region {self.extent:.0%} of the overlap across differs, and there the reference's own detail "
                f"has moved by about {self.shift:.0f} px: another frame of the same scene"
            )
        return f"a region filling {self.extent:.0%} of the overlap's side differs: another subject in the same scene"


def difference_grid(inside: np.ndarray, differs: np.ndarray) -> np.ndarray:
    """The grid of blocks where the pictures differ (``differs``: one flag per compared block of
    ``inside``), gaps of one block closed: the regions both this module and ``overlays.py`` judge."""
    grid = np.zeros(inside.shape, np.uint8)
    grid[inside] = differs.astype(np.uint8)
    closed = np.asarray(cv2.morphologyEx(grid, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)), np.uint8)
    closed[~inside] = 0
    return closed


def _filled_side(region: np.ndarray, wild: np.ndarray) -> int:
    """Side, in blocks, of the largest square inside ``region | wild`` at most ``WILDCARDS`` of which is ``wild``."""
    allowed = region | wild

    def integral(a: np.ndarray) -> np.ndarray:
        return np.pad(a.astype(np.int32).cumsum(0).cumsum(1), ((1, 0), (1, 0)))

    def window_sums(table: np.ndarray, s: int) -> np.ndarray:
        return table[s:, s:] - table[:-s, s:] - table[s:, :-s] + table[:-s, :-s]

    ok, real = integral(allowed), integral(region)
    for side in range(min(region.shape), 0, -1):
        fits = (window_sums(ok, side) == side * side) & (window_sums(real, side) >= (1 - WILDCARDS) * side * side)
        if fits.any():
            return side
    return 0


def moved_blocks(query: np.ndarray, reference: np.ndarray, block: int) -> Callable[[int, int], tuple[int, int] | None]:
    """A test of one block (row, column): how far (dx, dy, work pixels) its query detail moved against
    ``reference`` (both work images, aligned), or None when it did not move or has no detail to tell.
    Each block is tested once, however often it is asked about."""
    seen: dict[tuple[int, int], tuple[int, int] | None] = {}

    def measure(row: int, col: int) -> tuple[int, int] | None:
        y, x = row * block, col * block
        template = query[y : y + block, x : x + block]
        here = reference[y : y + block, x : x + block]
        if template.std() < 4:
            return None
        y0, x0 = max(0, y - block), max(0, x - block)
        window = reference[y0 : y + 2 * block, x0 : x + 2 * block]
        scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        in_place = cv2.matchTemplate(here, template, cv2.TM_CCOEFF_NORMED)[0, 0] if here.std() > 0 else 0.0
        dx, dy = bx + x0 - x, by + y0 - y
        if best >= MOVED_CORRELATION and best - in_place >= MOVED_GAIN and max(abs(dx), abs(dy)) >= MIN_SHIFT:
            return dx, dy
        return None

    def test(row: int, col: int) -> tuple[int, int] | None:
        if (row, col) not in seen:
            seen[(row, col)] = measure(row, col)
        return seen[(row, col)]

    return test


@dataclass
class Motion:
    """How the differing blocks of an aligned pair moved: a copy's rare misfits move together (one
    residual of the mapping), a second frame's subject moves a little, differently in places."""

    #: differing blocks with detail, and those whose detail moved by at most half a block
    differing: int
    small_moves: int
    #: length of the mean move over the mean length (1: all one way; near 0: every way)
    coherence: float
    #: median length of the small moves, work pixels
    median: float

    @property
    def another_frame(self) -> bool:
        """Several differing blocks moved a little, not all one way: a subject that moved or posed
        again between two frames, not a copy's misfit (measured, docs/matching.md)."""
        return self.small_moves >= MIN_MOVES and self.coherence < MAX_COHERENCE

    def explain(self) -> str:
        return (
            f"in {self.small_moves} places the reference's detail has moved by about {self.median:.0f} px, "
            "not all one way: another frame of the same scene"
        )


def motion(
    inside: np.ndarray, differing: np.ndarray, moved: Callable[[int, int], tuple[int, int] | None], block: int
) -> Motion:
    """The moves of every differing block with detail (``differing``: per compared block of ``inside``)."""
    cells = np.argwhere(inside)[differing]
    moves = [m for m in (moved(int(r), int(c)) for r, c in cells) if m is not None and max(map(abs, m)) <= block / 2]
    if not moves:
        return Motion(len(cells), 0, 0.0, 0.0)
    vectors = np.array(moves, float)
    lengths = np.hypot(vectors[:, 0], vectors[:, 1])
    coherence = float(np.hypot(*vectors.mean(axis=0)) / lengths.mean())
    return Motion(len(cells), len(moves), coherence, float(np.median(lengths)))


def largest(
    inside: np.ndarray, agree: np.ndarray, differing: np.ndarray, moved: Callable[[int, int], tuple[int, int] | None]
) -> Region | None:
    """The differing region that comes closest to rejecting, or None when nothing differs.

    ``inside`` is the grid of compared blocks; ``agree`` (per compared block: agrees, or lies under
    an overlay) decides the regions; ``differing`` (per compared block) marks the blocks with detail
    that differ, whose displacement ``moved`` tests."""
    grid = difference_grid(inside, ~agree)
    ys, xs = np.nonzero(inside)
    if ys.size == 0:
        return None
    span_h, span_w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    box = np.zeros_like(inside)
    box[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] = True
    wild = box & ~inside
    differs = np.zeros(inside.shape, bool)
    differs[inside] = differing
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grid, connectivity=4)
    worst: Region | None = None
    for label in range(1, count):
        x, y, w, h, area = stats[label]
        if area < MIN_REGION * inside.sum():
            continue
        across = float(min(w / span_w, h / span_h))
        if across < MAX_DIFFERENT_REGION:  # small either way
            region = Region("new", across)
        else:
            member = labels == label
            cells = np.argwhere(member & differs)
            shifts = [float(np.hypot(*m)) for m in (moved(int(r), int(c)) for r, c in cells) if m is not None]
            if cells.size and len(shifts) >= MOVED_SHARE * len(cells):
                region = Region("moved", across, float(np.median(shifts)))
            else:
                region = Region("new", _filled_side(member, wild) / max(span_h, span_w))
        if worst is None or region.extent / region.limit > worst.extent / worst.limit:
            worst = region
    return worst
