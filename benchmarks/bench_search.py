"""Near-duplicate search: multi-index hashing against numpy brute force, in the same run.

    python benchmarks/bench_search.py [--sizes 1e4,1e5,1e6,1e7] [--queries 200] [--pairs 1e6]

Hashes are generated to look like a leak's, not uniformly random: groups of four
near-duplicates (a centre and copies 0-8 bits away), and (--lookalikes) a third of them "same backdrop"
look-alikes within 10-20 bits of one shared centre, the worst case for any index because
their blocks collide. For each size: build time, query time (median and p95) at pHash
distance 10 and PDQ distance 31, the memory of the structure, and the speed-up over brute
force. Then all-against-all pairs within distance 10 (what dedup needs), timed on the
multi-index hash, against brute force timed on a sample of rows and scaled up.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from provenance.search import BruteForceIndex, MultiIndexHash


def leak_like(count: int, words: int, lookalikes: float = 1 / 3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2**63, size=(-(-count // 4), words), dtype=np.uint64)
    centres[:, 0] |= rng.integers(0, 2, len(centres), dtype=np.uint64) << np.uint64(63)
    backdrop = rng.integers(0, 2**63, size=words, dtype=np.uint64)
    lookalike = rng.random(len(centres)) < lookalikes
    centres[lookalike] = backdrop
    hashes = np.repeat(centres, 4, axis=0)[:count]
    lookalike = np.repeat(lookalike, 4)[:count]
    flips = np.where(lookalike, rng.integers(10, 21, count), 0) + rng.integers(0, 9, count)
    for k in range(int(flips.max())):
        word = rng.integers(0, words, count)
        bit = rng.integers(0, 64, count).astype(np.uint64)
        hashes[np.arange(count), word] ^= np.where(flips > k, np.uint64(1) << bit, np.uint64(0))
    return hashes


def nbytes(index: MultiIndexHash) -> int:
    own = index._keys.nbytes + sum(a.nbytes for a in index._order + index._offsets + index._sorted)
    return own + index.hashes.nbytes


def timed_queries(index, queries: np.ndarray, distance: int) -> tuple[float, float]:
    times = []
    for query in queries:
        start = time.perf_counter()
        index.search(query, distance)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), float(np.percentile(times, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e4,1e5,1e6,1e7")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--pairs", type=float, default=1e6, help="size of the all-against-all run (0: skip)")
    parser.add_argument("--lookalikes", type=float, default=1 / 3, help="share of same-backdrop look-alikes")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]

    for label, words, distance in (
        ("pHash (64 bits), distance <= 10", 1, 10),
        ("PDQ (256 bits), distance <= 31", 4, 31),
    ):
        print(f"\n{label}; {args.queries} queries drawn from the set; median / p95")
        header = (
            f"{'references':>11} {'blocks':>6} {'build':>8} {'memory':>9} {'brute':>17} "
            f"{'multi-index':>17} {'speed-up':>9}"
        )
        print(header)
        for size in sizes:
            if words == 4 and size > 1_000_000:
                continue  # 10M PDQ hashes: 320 MB of hashes and brute force at 0.25 s a query
            hashes = leak_like(size, words, args.lookalikes)
            queries = hashes[np.random.default_rng(2).integers(0, size, args.queries)]
            start = time.perf_counter()
            index = MultiIndexHash(hashes, distance=distance)
            build = time.perf_counter() - start
            brute = BruteForceIndex(hashes)
            b_med, b_p95 = timed_queries(brute, queries[: max(20, args.queries // 10)], distance)
            m_med, m_p95 = timed_queries(index, queries, distance)
            print(
                f"{size:>11,} {index.blocks:>6} {build:>7.2f}s {nbytes(index) / 2**20:>7.0f}MB "
                f"{b_med * 1e3:>7.3f}/{b_p95 * 1e3:<7.3f}ms {m_med * 1e3:>7.3f}/{m_p95 * 1e3:<7.3f}ms "
                f"{b_med / m_med:>8.1f}x"
            )

    if args.pairs:
        size = int(args.pairs)
        hashes = leak_like(size, 1, args.lookalikes)
        index = MultiIndexHash(hashes, distance=10)
        MultiIndexHash(hashes[:5000], distance=10).pairs(10)  # Numba compiles (or loads its cache) untimed
        start = time.perf_counter()
        i, _, _ = index.pairs(10)
        mih = time.perf_counter() - start
        sample = 2000
        brute = BruteForceIndex(hashes)
        start = time.perf_counter()
        for row in range(sample):
            brute.search(hashes[row], 10)
        brute_total = (time.perf_counter() - start) / sample * size / 2  # each pair once
        print(f"\nall pairs within distance 10 among {size:,} pHashes ({len(i):,} pairs), one core:")
        print(f"  brute force (scaled from {sample} rows)  {brute_total:8.1f} s   1.00x")
        print(f"  multi-index hash, compiled (Numba) {mih:8.1f} s   {brute_total / mih:.1f}x faster")


if __name__ == "__main__":
    main()
