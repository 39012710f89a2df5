"""The loops of deduplication that NumPy cannot express without per-element Python, compiled with Numba.

``self_join``: the all-pairs self-join of multi-index hashing. For each block, every bucket of rows
sharing a block value is compared with every bucket whose value is within the probing radius of
it, bucket against bucket: both sit in cache, so a candidate costs about a nanosecond (NumPy's
version spends about 9 ns on each, in temporaries, and probing row by row leaves most reads to
main memory). Each pair is found
exactly once: from the lower of its two bucket values, and only in the first block in which
it is within the radius; no de-duplication pass follows.

``complete_link``: clusters in which every member is linked to every other member, merged
closest link first.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _popcount(x: np.uint64) -> np.int64:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


# fmt: off
@njit(cache=True, nogil=True)
def self_join(hashes, sorted_hashes, keys, orders, offsets, widths, masks, mask_counts, radius, max_distance,
              block, value, out_i, out_j, out_d):  # pragma: no cover - compiled; tested through MultiIndexHash.pairs
    # fmt: on
    """Pairs (i < j) within ``max_distance``, from bucket ``value`` of block ``block`` on.

    ``hashes`` (n, words) uint64; ``sorted_hashes`` (blocks, n) one-word hashes in each block's
    order, or an empty (blocks, 0) array for longer hashes; ``keys`` (n, blocks) block values;
    ``orders`` (blocks, n) rows sorted by block value; ``offsets`` (blocks, table) where each
    value's rows start; ``widths`` each block's bits; ``masks`` (blocks, k) the flips within
    ``radius`` of each block's width, ``mask_counts`` how many. Writes into ``out_*`` and returns
    (pairs written, block, value) to resume from; the block equals the number of blocks when done.
    """
    words = hashes.shape[1]
    in_order = sorted_hashes.shape[1] == hashes.shape[0]
    blocks = keys.shape[1]
    capacity = out_i.shape[0]
    count = 0
    while block < blocks:
        values = 1 << widths[block]
        while value < values:
            a_start, a_stop = offsets[block, value], offsets[block, value + 1]
            bucket_start = count
            for m in range(mask_counts[block]):
                other = value ^ masks[block, m]
                if other < value:  # met from the other bucket
                    continue
                b_stop = offsets[block, other + 1]
                for pa in range(a_start, a_stop):
                    b_start = pa + 1 if other == value else offsets[block, other]
                    for pb in range(b_start, b_stop):
                        if in_order:
                            distance = _popcount(sorted_hashes[block, pa] ^ sorted_hashes[block, pb])
                        else:
                            distance = 0
                            ra, rb = orders[block, pa], orders[block, pb]
                            for w in range(words):
                                distance += _popcount(hashes[ra, w] ^ hashes[rb, w])
                        if distance > max_distance:
                            continue
                        i, j = orders[block, pa], orders[block, pb]
                        earlier = False  # within the radius in an earlier block: found there
                        for e in range(block):
                            if _popcount(np.uint64(keys[i, e] ^ keys[j, e])) <= radius:
                                earlier = True
                                break
                        if earlier:
                            continue
                        if count == capacity:  # full: this bucket again, with more room
                            return bucket_start, block, value
                        out_i[count] = min(i, j)
                        out_j[count] = max(i, j)
                        out_d[count] = distance
                        count += 1
            value += 1
        block += 1
        value = 0
    return count, block, value


@njit(cache=True, nogil=True)
def _linked(neighbours, starts, x, y):
    """Whether ``y`` is among ``x``'s neighbours (each row of the CSR lists is sorted)."""
    lo, hi = starts[x], starts[x + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if neighbours[mid] < y:
            lo = mid + 1
        else:
            hi = mid
    return lo < starts[x + 1] and neighbours[lo] == y


@njit(cache=True, nogil=True)
def complete_link(count, i, j):  # pragma: no cover - compiled; tested through dedup
    """Complete-link clusters of ``count`` items from links (``i[k]``, ``j[k]``) given closest first.

    Two clusters merge on a link only when every member of one is linked to every member of the
    other. Returns each item's cluster label (the label of an unlinked item is itself).
    """
    # links as sorted neighbour lists (CSR)
    degree = np.zeros(count + 1, np.int64)
    for k in range(len(i)):
        degree[i[k] + 1] += 1
        degree[j[k] + 1] += 1
    starts = np.cumsum(degree)
    fill = starts[:-1].copy()
    neighbours = np.empty(2 * len(i), np.int64)
    for k in range(len(i)):
        neighbours[fill[i[k]]] = j[k]
        fill[i[k]] += 1
        neighbours[fill[j[k]]] = i[k]
        fill[j[k]] += 1
    for x in range(count):
        neighbours[starts[x] : starts[x + 1]].sort()
    # clusters as linked lists of members
    label = np.arange(count)
    following = np.full(count, -1, np.int64)
    last = np.arange(count)
    size = np.ones(count, np.int64)
    for k in range(len(i)):
        ca, cb = label[i[k]], label[j[k]]
        if ca == cb:
            continue
        complete = True
        x = ca
        while x != -1 and complete:
            y = cb
            while y != -1:
                if not _linked(neighbours, starts, x, y):
                    complete = False
                    break
                y = following[y]
            x = following[x]
        if not complete:
            continue
        if size[ca] < size[cb]:
            ca, cb = cb, ca
        y = cb
        while y != -1:
            label[y] = ca
            y = following[y]
        following[last[ca]] = cb
        last[ca] = last[cb]
        size[ca] += size[cb]
    return label
