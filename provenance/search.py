"""Hamming-distance search over fixed-length binary hashes, behind one small interface.

Hashes are rows of a ``(n, words)`` ``uint64`` array (a 64-bit pHash is one word, a 256-bit
PDQ four). Two structures answer the same questions:

- ``BruteForceIndex``: XOR and popcount against every row; the baseline and the oracle.
- ``MultiIndexHash``: multi-index hashing (Norouzi, Punjani and Fleet, 2012). The hash is cut
  into blocks of 8 to 24 bits (how many: ``choose_blocks``); if two hashes are within distance
  ``d``, one block is within ``d // blocks`` (pigeonhole), so only the rows whose block value
  is that close to the query's are verified. Measured in ``benchmarks/bench_search.py``.

``build_index`` picks between them; docs/search.md has the figures.
"""

from __future__ import annotations

from functools import cache
from itertools import combinations
from math import comb
from typing import Protocol

import numpy as np


def hex_to_words(hex_hashes: list[str] | tuple[str, ...], bits: int) -> np.ndarray:
    """Hex strings (imagehash / PDQ style, most significant digit first) → ``(n, bits // 64)`` uint64."""
    words = -(-bits // 64)  # a 42-bit colorhash takes one word
    if all(len(text) == 16 * words for text in hex_hashes):  # the common case, without a Python loop per row
        packed = np.frombuffer(bytes.fromhex("".join(hex_hashes)), dtype=">u8")
        return packed.reshape(len(hex_hashes), words).astype(np.uint64)
    out = np.empty((len(hex_hashes), words), dtype=np.uint64)
    for row, text in enumerate(hex_hashes):
        value = int(text, 16)
        for w in range(words):
            out[row, words - 1 - w] = (value >> (64 * w)) & 0xFFFFFFFFFFFFFFFF
    return out


def words_to_hex(row: np.ndarray) -> str:
    """One row of words back to its hex string."""
    return "".join(f"{int(w):016x}" for w in row)


def popcount_distance(hashes: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distance from ``query`` (``(words,)``) to every row of ``hashes``."""
    return np.bitwise_count(hashes ^ query).sum(axis=1, dtype=np.int32)


def _bit_field(hashes: np.ndarray, first: int, size: int) -> np.ndarray:
    """Bits ``first .. first + size - 1`` of every row (bit 0 the most significant) as int64."""
    word, offset = divmod(first, 64)
    mask = np.uint64((1 << size) - 1)
    if offset + size <= 64:
        return ((hashes[:, word] >> np.uint64(64 - offset - size)) & mask).astype(np.int64)
    low = offset + size - 64  # bits taken from the next word
    high = (hashes[:, word] << np.uint64(low)) | (hashes[:, word + 1] >> np.uint64(64 - low))
    return (high & mask).astype(np.int64)


class HammingIndex(Protocol):
    """What the index, dedup and matching need from a search structure."""

    bits: int

    def __len__(self) -> int: ...

    def search(self, query: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
        """Row numbers within ``max_distance`` of ``query`` and their distances, nearest first."""
        ...

    def pairs(self, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair of rows ``i < j`` within ``max_distance``: ``(i, j, distance)``."""
        ...


def _sorted_result(rows: np.ndarray, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((rows, distances))
    return rows[order].astype(np.int64), distances[order]


class BruteForceIndex:
    """Linear scan: exact, simple, and the faster structure below ``BRUTE_FORCE_BELOW`` hashes."""

    def __init__(self, hashes: np.ndarray) -> None:
        self.hashes = np.ascontiguousarray(hashes, dtype=np.uint64).reshape(len(hashes), -1)
        self.bits = 64 * self.hashes.shape[1]

    def __len__(self) -> int:
        return len(self.hashes)

    def search(self, query: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
        distances = popcount_distance(self.hashes, np.asarray(query, dtype=np.uint64))
        rows = np.flatnonzero(distances <= max_distance)
        return _sorted_result(rows, distances[rows])

    def pairs(self, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        found_i, found_j, found_d = [], [], []
        for i in range(len(self.hashes) - 1):
            distances = popcount_distance(self.hashes[i + 1 :], self.hashes[i])
            js = np.flatnonzero(distances <= max_distance)
            found_i.append(np.full(len(js), i, dtype=np.int64))
            found_j.append(js + i + 1)
            found_d.append(distances[js])
        return _concat_pairs(found_i, found_j, found_d)


def _concat_pairs(
    found_i: list[np.ndarray], found_j: list[np.ndarray], found_d: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not found_i:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)
    return (
        np.concatenate(found_i).astype(np.int64),
        np.concatenate(found_j).astype(np.int64),
        np.concatenate(found_d).astype(np.int32),
    )


@cache
def _flip_masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit value with at most ``radius`` bits set."""
    masks = [0]
    for r in range(1, radius + 1):
        for bits in combinations(range(width), r):
            masks.append(sum(1 << b for b in bits))
    return np.array(masks, dtype=np.int64)


def _mask_count(width: int, radius: int) -> int:
    return sum(comb(width, r) for r in range(radius + 1))


#: the cost of probing one block value, relative to verifying one candidate (measured, numpy)
_LOOKUP_COST = 2.0
#: the per-block tables of row offsets may take at most this many entries in all (so blocks <= 24 bits)
_MAX_TABLE_ENTRIES = 1 << 24


def _layout_fits(bits: int, blocks: int) -> bool:
    wide = -(-bits // blocks)
    return 1 <= blocks <= bits and blocks * (1 << wide) <= _MAX_TABLE_ENTRIES


def choose_blocks(bits: int, count: int, distance: int) -> int:
    """How many blocks to cut a hash into: the fewest lookups plus expected candidates for ``distance``.

    Norouzi et al. suggest blocks of about log2(n) bits; this picks by the same cost model,
    among blocks of 8 to 24 bits, within a memory budget for the offset tables.
    """
    best, best_cost = bits // 8, None
    for blocks in range(1, bits // 8 + 1):
        narrow, wide = bits // blocks, -(-bits // blocks)
        if not _layout_fits(bits, blocks):
            continue
        cost = blocks * _mask_count(wide, distance // blocks) * (_LOOKUP_COST + count / (1 << narrow))
        if best_cost is None or cost < best_cost:
            best, best_cost = blocks, cost
    return best


class MultiIndexHash:
    """Multi-index hashing: exact results from a sublinear set of candidates.

    ``distance`` is the search radius the block width is tuned for; any radius works.
    """

    def __init__(self, hashes: np.ndarray, distance: int = 10, blocks: int | None = None) -> None:
        self.hashes = np.ascontiguousarray(hashes, dtype=np.uint64).reshape(len(hashes), -1)
        self.bits = 64 * self.hashes.shape[1]
        self.blocks = blocks or choose_blocks(self.bits, len(self.hashes), distance)
        if not _layout_fits(self.bits, self.blocks):
            raise ValueError(f"{self.blocks} blocks of a {self.bits}-bit hash need too large offset tables")
        # near-equal blocks covering every bit: (first bit, width), bit 0 the most significant
        sizes = [self.bits // self.blocks + (i < self.bits % self.blocks) for i in range(self.blocks)]
        self._layout = [(sum(sizes[:i]), size) for i, size in enumerate(sizes)]
        self._keys = self._block_values(self.hashes)  # (n, blocks) int64
        index_type = np.int32 if len(self.hashes) < 2**31 else np.int64
        self._order: list[np.ndarray] = []
        self._offsets: list[np.ndarray] = []
        self._sorted: list[np.ndarray] = []
        for b, (_, size) in enumerate(self._layout):  # rows sorted by block value, and where each value starts
            keys = self._keys[:, b]
            order = np.argsort(keys, kind="stable")
            self._order.append(order.astype(index_type))
            if self.hashes.shape[1] == 1:  # a sorted copy per block: 8 bytes a hash, worth it for 64-bit hashes
                self._sorted.append(self.hashes[order, 0])
            counts = np.bincount(keys, minlength=1 << size)
            self._offsets.append(np.concatenate(([0], np.cumsum(counts))).astype(index_type))

    def __len__(self) -> int:
        return len(self.hashes)

    @staticmethod
    def _flat(hashes: np.ndarray) -> np.ndarray:
        """One-word hashes as a 1-D array (cheaper to gather and count), longer ones as they are."""
        return hashes[:, 0] if hashes.shape[1] == 1 else hashes

    def _block_values(self, hashes: np.ndarray) -> np.ndarray:
        columns = [_bit_field(hashes, first, size) for first, size in self._layout]
        return np.stack(columns, axis=1)

    def _probes(self, query_keys: np.ndarray, radius: int) -> list[tuple]:
        """Per block, the row ranges whose block value is within ``radius`` bits of the queries' (``(q, blocks)``)."""
        probes = []
        for b, (_, size) in enumerate(self._layout):
            masks = _flip_masks(size, radius)
            neighbours = (query_keys[:, b : b + 1] ^ masks[None, :]).ravel()
            starts = self._offsets[b][neighbours].astype(np.int64)
            lengths = self._offsets[b][neighbours + 1] - starts
            probes.append((b, len(masks), starts, lengths))
        return probes

    def _verify(
        self, probes: list[tuple], query_hashes: np.ndarray, max_distance: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(query index, row, distance)`` of the probed rows within ``max_distance``; a row close
        in several blocks comes once per block."""
        q_out, r_out, d_out = [], [], []
        for b, mask_count, starts, lengths in probes:
            total = int(lengths.sum())
            if total == 0:
                continue
            # positions starts[k] .. starts[k] + lengths[k] - 1 for every k, without a Python loop
            ends = np.cumsum(lengths)
            positions = np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - lengths), lengths)
            owners = np.repeat(np.arange(len(starts)) // mask_count, lengths)
            # 64-bit candidates are read from a copy sorted by this block's value: contiguous, cache-friendly
            candidates = self._sorted[b][positions] if self._sorted else self.hashes[self._order[b][positions]]
            distances = np.bitwise_count(candidates ^ query_hashes[owners])
            if distances.ndim == 2:
                distances = distances.sum(axis=1, dtype=np.int32)
            keep = np.flatnonzero(distances <= max_distance)
            q_out.append(owners[keep])
            r_out.append(self._order[b][positions[keep]].astype(np.int64))
            d_out.append(distances[keep].astype(np.int32))
        return _concat_pairs(q_out, r_out, d_out)

    def search(self, query: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
        query = np.asarray(query, dtype=np.uint64).reshape(1, -1)
        probes = self._probes(self._block_values(query), max_distance // self.blocks)
        if sum(int(p[3].sum()) for p in probes) > len(self.hashes):
            # a query in a dense region (look-alikes sharing most blocks): a scan is cheaper
            return BruteForceIndex(self.hashes).search(query[0], max_distance)
        _, rows, distances = self._verify(probes, self._flat(query), max_distance)
        rows, first = np.unique(rows, return_index=True)
        return _sorted_result(rows, distances[first])

    def pairs(self, max_distance: int, capacity: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair (i < j) within ``max_distance``, once, by the compiled self-join (``compiled.py``);
        ``capacity``: the first output buffer's size (it doubles whenever it fills)."""
        from .compiled import self_join

        radius = max_distance // self.blocks
        table = max(len(o) for o in self._offsets)
        offsets = np.zeros((self.blocks, table), dtype=np.int64)
        for b, o in enumerate(self._offsets):
            offsets[b, : len(o)] = o
        flips = [_flip_masks(size, radius) for _, size in self._layout]
        masks = np.zeros((self.blocks, max(len(f) for f in flips)), dtype=np.int64)
        for b, f in enumerate(flips):
            masks[b, : len(f)] = f
        mask_counts = np.array([len(f) for f in flips], dtype=np.int64)
        orders = np.stack(self._order).astype(np.int64)
        in_order = np.stack(self._sorted) if self._sorted else np.empty((self.blocks, 0), np.uint64)
        widths = np.array([size for _, size in self._layout], dtype=np.int64)
        capacity = capacity or max(1 << 16, 4 * len(self.hashes))
        found_i, found_j, found_d = [], [], []
        block = value = 0
        while block < self.blocks:
            out_i = np.empty(capacity, np.int64)
            out_j = np.empty(capacity, np.int64)
            out_d = np.empty(capacity, np.int32)
            # fmt: off
            count, block, value = self_join(self.hashes, in_order, self._keys, orders, offsets, widths, masks,
                                            mask_counts, radius, max_distance, block, value, out_i, out_j, out_d)
            # fmt: on
            found_i.append(out_i[:count])
            found_j.append(out_j[:count])
            found_d.append(out_d[:count])
            capacity *= 2  # the set is denser than guessed: larger steps from here on
        return _concat_pairs(found_i, found_j, found_d)


#: below this many hashes a linear scan beats multi-index hashing (benchmarks/bench_search.py)
BRUTE_FORCE_BELOW = 200_000


def build_index(hashes: np.ndarray, distance: int) -> HammingIndex:
    """The faster structure for this many hashes and this search radius."""
    if len(hashes) < BRUTE_FORCE_BELOW:
        return BruteForceIndex(hashes)
    return MultiIndexHash(hashes, distance=distance)
