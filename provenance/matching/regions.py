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

A frame of a smooth subject on a featureless backdrop leaves neither: the mapping fits the subject,
and its blur keeps every block agreeing. What is left is how the agreeing blocks' detail drifts
(``Drift``): where a copy's sits where the mapping puts it (or all of it off by one correction of
the mapping), a subject that swayed holds its detail a few pixels away in a pattern no single
mapping explains.

Failure modes: a burst of a smooth subject (little detail to move) on a featureless backdrop
that swayed too little for half its agreeing blocks to drift is claimed as the same picture; a solid sticker over about
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
#: the agreeing blocks drift when at least MAX_DRIFTING of them (of MIN_DRIFT_BLOCKS or more) hold their
#: detail DRIFT_SHIFT px or more from where an affine correction of the mapping puts it, a move
#: counted when it correlates DRIFT_GAIN better than in place (copies: at most 19%, docs/matching.md)
MAX_DRIFTING = 0.5
MIN_DRIFT_BLOCKS = 12
DRIFT_SHIFT = 2
DRIFT_GAIN = 0.05
DRIFT_SAMPLE = 96


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


#: one block's measurement: where its query detail correlates best within one block (dx, dy, work
#: pixels), that correlation, and the correlation in place
Measurement = tuple[int, int, float, float]


def displacements(
    query: np.ndarray, reference: np.ndarray, block: int, reach: int | None = None
) -> Callable[[int, int], Measurement | None]:
    """A measurement of one block (row, column) of ``query`` against ``reference`` (both work images,
    aligned): where within ``reach`` pixels (one block unless said) its detail correlates best, or
    None when the block has no detail to tell. Each block is measured once, however often it is
    asked about."""
    seen: dict[tuple[int, int], Measurement | None] = {}
    reach = block if reach is None else reach

    def measure(row: int, col: int) -> Measurement | None:
        y, x = row * block, col * block
        template = query[y : y + block, x : x + block]
        here = reference[y : y + block, x : x + block]
        if template.std() < 4:
            return None
        y0, x0 = max(0, y - reach), max(0, x - reach)
        window = reference[y0 : y + block + reach, x0 : x + block + reach]
        scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        in_place = cv2.matchTemplate(here, template, cv2.TM_CCOEFF_NORMED)[0, 0] if here.std() > 0 else 0.0
        return bx + x0 - x, by + y0 - y, float(best), float(in_place)

    def get(row: int, col: int) -> Measurement | None:
        if (row, col) not in seen:
            seen[(row, col)] = measure(row, col)
        return seen[(row, col)]

    return get


def moved_blocks(query: np.ndarray, reference: np.ndarray, block: int) -> Callable[[int, int], tuple[int, int] | None]:
    """A test of one block (row, column): how far (dx, dy, work pixels) its query detail moved against
    ``reference`` (``displacements`` within one block), or None when it did not move
    (``MOVED_CORRELATION``, ``MOVED_GAIN``, ``MIN_SHIFT``) or has no detail to tell."""
    measured = displacements(query, reference, block)

    def test(row: int, col: int) -> tuple[int, int] | None:
        m = measured(row, col)
        if m is None:
            return None
        dx, dy, best, in_place = m
        if best >= MOVED_CORRELATION and best - in_place >= MOVED_GAIN and max(abs(dx), abs(dy)) >= MIN_SHIFT:
            return dx, dy
        return None

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


@dataclass
class Drift:
    """Where the detail of the blocks that agree lies: in a copy, where the mapping puts it (or all
    of it off by one correction of the mapping); in another frame of a smooth subject that moved and
    changed pose, a few pixels away in a pattern no single mapping explains. Such blocks still
    correlate well in place (a blurred subject, a featureless wall), so the other rules pass them."""

    #: agreeing blocks with detail that were measured
    blocks: int
    #: share of them whose detail lies DRIFT_SHIFT or more from where the best affine correction of
    #: the mapping puts it
    share: float

    @property
    def another_frame(self) -> bool:
        return self.blocks >= MIN_DRIFT_BLOCKS and self.share >= MAX_DRIFTING

    def explain(self) -> str:
        return (
            f"in {self.share:.0%} of the blocks that agree the detail lies {DRIFT_SHIFT} px or more from where "
            "the mapping puts it, in a pattern no single mapping explains: another frame of the same scene "
            "(the subject moved or changed pose)"
        )


def drift(cells: np.ndarray, measured: Callable[[int, int], Measurement | None]) -> Drift | None:
    """The drift of the agreeing blocks with detail at grid ``cells`` (rows of (row, column)), from
    at most ``DRIFT_SAMPLE`` of them spread evenly (the share is what is judged; measuring every
    block doubled the cost of a confirmation).

    A block's detail has moved when its best place (``displacements``, within half a block: a sway
    is a few pixels) correlates ``DRIFT_GAIN`` better than in place; otherwise it is where the
    mapping puts it. An affine correction of those moves (block position to move, least squares,
    refitted once on the 80% it fits best) takes out what a slightly wrong mapping would leave;
    what is left is the drift."""
    if len(cells) > DRIFT_SAMPLE:
        cells = cells[np.linspace(0, len(cells) - 1, DRIFT_SAMPLE).round().astype(int)]
    found = [(int(r), int(c), m) for r, c in cells if (m := measured(int(r), int(c))) is not None]
    if len(found) < MIN_DRIFT_BLOCKS:
        return None
    at = np.array([(c, r, 1.0) for r, c, _ in found], float)
    moves = np.array([(m[0], m[1]) if m[2] - m[3] >= DRIFT_GAIN else (0, 0) for _, _, m in found], float)
    fits = np.ones(len(at), bool)
    for _ in range(2):
        correction, *_ = np.linalg.lstsq(at[fits], moves[fits], rcond=None)
        left = np.hypot(*(moves - at @ correction).T)
        fits = left <= max(float(np.percentile(left, 80)), 1e-9)
    return Drift(len(found), float((left >= DRIFT_SHIFT).mean()))


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
