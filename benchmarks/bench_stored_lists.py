"""The keypoint search's first hard case against a large index: with the lists `provenance index` stores, and without.

    python benchmarks/bench_stored_lists.py [--references 100000] [--queries 20] [--cache DIR]

Builds an index of ``--references`` image contents whose stored features are real ORB
descriptors (the corpus photos of bench_keypoints.py, topped up with its generated distractors;
no image files: only the search is exercised), then measures, each in a fresh process so its
peak memory is its own:

- ``provenance index``'s lists step (``keypoints.store_lists``): draw the centres, assign every
  stored descriptor, store the numbers; then a rerun with nothing new, and one after 1% more
  references arrive;
- a match worker's first hard case, the old way (the structure built from the features alone)
  and the new way (filled from the stored lists): reading the features from the index, building,
  and the search of 20 hard queries, which must give the same candidates both ways.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_keypoints as kp  # the same references and queries as the structure benchmark

from provenance import Index
from provenance.keypoints import METHOD, KeypointSearch, Lists, store_lists


def make_index(db: Path, descriptors: np.ndarray, start: int = 0) -> None:
    """Store one image content (a minimal record) and its features for each block of descriptors."""
    with Index(db) as index:
        store = index.store
        store.begin()
        roots = store.roots()
        root = next(iter(roots)) if roots else store.add_root("/nowhere")
        for n, block in enumerate(descriptors, start):
            sha = hashlib.sha256(str(n).encode()).hexdigest()
            record = {"sha256": sha, "md5": sha[:32], "sha1": sha[:40], "size": 1, "kind": "image", "hashes": {}}
            store.put(root, f"{n}.jpg", 0, record)
            keys = block[np.any(block != 0, axis=1)]  # the cache pads short sets with zero rows
            store.put_features(METHOD, [(sha, np.ascontiguousarray(keys).tobytes())])
        index.commit()


def _memory_mb(field: str = "VmHWM") -> float:
    """This process's peak (VmHWM: unlike ru_maxrss, not inherited across exec) or current (VmRSS)
    resident memory."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def index_step(db: str) -> tuple[float, int, float]:
    with Index(db) as index:
        started = time.perf_counter()
        count = store_lists(index)
        return time.perf_counter() - started, count, _memory_mb()


def worker(db: str, use_lists: bool, queries: list) -> tuple[float, float, float, list, float, int, float]:
    """(read + build s, the search's median ms, peak MB, candidates, read s, descriptors assigned here,
    MB held once built)."""
    import faiss

    faiss.omp_set_num_threads(1)  # as a match worker runs (OMP_NUM_THREADS=1): one core
    started = time.perf_counter()
    with Index(db, create=False, writable=False) as index:
        if not use_lists:
            Lists.stored = classmethod(lambda cls, index: None)  # type: ignore[method-assign]  # the old way
        search = KeypointSearch.for_index(index, NoFiles())
    read = time.perf_counter() - started
    search.prepare()
    built = time.perf_counter() - started
    gc.collect()
    held = _memory_mb("VmRSS")
    times, found = [], []
    for _, features, mirrored in queries:
        t0 = time.perf_counter()
        found.append(search.candidates(features, mirrored=mirrored))
        times.append(time.perf_counter() - t0)
    return built, statistics.median(times) * 1000, _memory_mb(), found, read, search.assigned_here, held


class NoFiles:
    def get(self, sha256: str, paths: list[str]) -> None:
        raise AssertionError("every reference's features are in the index")


def in_child(function, *args):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--references", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--cache", type=Path, help="bench_keypoints.py's distractor cache")
    args = parser.parse_args()
    if not kp.CORPUS.is_dir():
        sys.exit(f"needs the corpus at {kp.CORPUS}")
    photos = [kp.load(p) for p in kp.corpus_photos()]
    real = np.stack([kp.top(kp.features_of(im)) for im in photos])
    queries = kp.hard_queries(photos, args.queries)
    extra = args.references // 100
    pool = kp.distractors(args.references + extra - len(real), args.cache)
    blocks = np.concatenate([real, pool])
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "large.db")
        started = time.perf_counter()
        make_index(Path(db), blocks[: args.references])
        print(f"{args.references} references indexed (features only) in {time.perf_counter() - started:.0f} s")
        first, count, peak = in_child(index_step, db)
        print(f"index lists step (provenance index): {first:.1f} s for {count} images, peak {peak:.0f} MB")
        print(
            f"{'match worker':<26} {'read s':>7} {'read+build s':>13} {'search ms':>10} {'peak MB':>8} "
            f"{'held MB':>8} {'assigned':>10}"
        )
        results = {}
        for name, use in (("old: built from features", False), ("new: filled from lists", True)):
            built, median, peak, found, read, assigned, held = in_child(worker, db, use, queries)
            results[name] = found
            print(f"{name:<26} {read:>7.1f} {built:>13.1f} {median:>10.1f} {peak:>8.0f} {held:>8.0f} {assigned:>10}")
        same = results["old: built from features"] == results["new: filled from lists"]
        print(f"same candidates for the {len(queries)} hard queries: {'yes' if same else 'NO'}")
        again, none, _ = in_child(index_step, db)
        print(f"index lists step, rerun with nothing new: {again * 1000:.0f} ms ({none} images)")
        make_index(Path(db), blocks[args.references :], start=args.references)
        grown, added, _ = in_child(index_step, db)
        print(f"index lists step after {extra} more references: {grown:.1f} s ({added} images)")


if __name__ == "__main__":
    main()
