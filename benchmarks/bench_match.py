"""The cost of matching against a growing reference set: the hash path against the keypoint search.

    python benchmarks/bench_match.py [--sizes 1000 5000 20000] [--queries 20]

The keypoint search (``provenance/keypoints.py``) is linear in the number of references;
the hash candidates go through the index's near search, which is not. This times both on
synthetic references (random ORB-like descriptors, random 64-bit pHashes), one query at a
time, and prints each size's time and memory as ratios to the smallest size in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from provenance.features import FEATURES, Features
from provenance.keypoints import PER_REFERENCE, KeypointSearch
from provenance.search import build_index


def fake_features(rng: np.random.Generator, count: int) -> Features:
    return Features(
        gray=np.zeros((480, 640), np.uint8),
        points=np.zeros((count, 2), np.float32),
        descriptors=rng.integers(0, 256, (count, 32), dtype=np.uint8),
        size=(640, 480),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--queries", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    queries = [fake_features(rng, FEATURES) for _ in range(args.queries)]
    base: dict[str, float] = {}
    print(
        f"{'references':>10} {'keypoint search':>18} {'ratio':>7} {'memory MB':>10} {'pHash search':>14} {'ratio':>7}"
    )
    for size in args.sizes:
        search = KeypointSearch.build((f"{n:064x}", [], fake_features(rng, PER_REFERENCE)) for n in range(size))
        memory = search._descriptors.nbytes / 1e6
        times = []
        for q in queries:
            started = time.perf_counter()
            search.candidates(q, mirrored=q)
            times.append(time.perf_counter() - started)
        keypoints = statistics.median(times)
        hashes = rng.integers(0, 2**63, size, dtype=np.uint64).reshape(-1, 1)
        index = build_index(hashes, 18)
        hash_times = []
        for q in rng.integers(0, 2**63, 9 * args.queries, dtype=np.uint64).reshape(-1, 1):
            started = time.perf_counter()
            index.search(q, 18)
            hash_times.append(time.perf_counter() - started)
        phash = statistics.median(hash_times) * 9  # nine variants of a query are looked up
        base.setdefault("k", keypoints)
        base.setdefault("h", phash)
        print(
            f"{size:>10} {keypoints * 1000:>15.1f} ms {keypoints / base['k']:>7.2f} {memory:>10.1f} "
            f"{phash * 1000:>11.2f} ms {phash / base['h']:>7.2f}"
        )


if __name__ == "__main__":
    main()
