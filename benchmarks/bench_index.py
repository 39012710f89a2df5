"""The index: first build against an unchanged rerun, a rerun after a few changes, dedup, and memory.

    python benchmarks/bench_index.py [--files 10000] [--jobs 2] [--memory 100000] [--dedup 1000000] [--writes 100000]

Generates --files small JPEGs (crops of a fixture photo, 64x48 to 320x240), then times in
one run: (a) the first `Index.add`, (b) a rerun with nothing changed, (c) a rerun after 1%
of the files were rewritten, (d) `dedup` over the index. Figures are ratios to (a), since
machines are noisy. With --memory N, indexes N generated tiny files and prints the parent's
and the workers' resident memory at 10% of the run and at its end. With --dedup N, runs
`dedup` on N synthetic records (pictures in groups of 4 near copies; a third of the groups
are look-alikes whose pHashes crowd around one backdrop while their PDQs differ, as measured
on the backdrop test of docs/dedup.md) against the candidate-pair search alone. With --writes N,
stores N synthetic records (six hashes each, as a fingerprint has) through the index's writer, in
transactions of 500 as `Index.add` commits them, and prints the write rate of each tenth against
the first: the writer's cost per file must not grow with the index.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench_fingerprint import _generate, _rss  # the benchmarks folder is the script's own
from PIL import Image

from provenance import Index, dedup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--memory", type=int, default=0, help="also measure memory over this many generated files")
    parser.add_argument("--dedup", type=int, default=0, help="also time dedup over this many synthetic records")
    parser.add_argument("--writes", type=int, default=0, help="also time the writer over this many synthetic records")
    parser.add_argument(
        "--lookalikes",
        type=float,
        default=1 / 3,
        help="share of the --dedup groups that are look-alikes on one backdrop",
    )
    args = parser.parse_args()
    if args.files:
        reindex(args.files, args.jobs)
    if args.memory:
        memory(args.memory, args.jobs)
    if args.dedup:
        dedup_scale(args.dedup, args.lookalikes)
    if args.writes:
        writes(args.writes)


def writes(count: int) -> None:
    import hashlib

    from provenance.hashes import BUILTIN_NAMES
    from provenance.store import Store

    print(f"\nthe index's writer: {count} synthetic records, six hashes each, 500 per transaction")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "writes.db")
        root = store.add_root(tmp)
        tenth, first = max(1, count // 10), 0.0
        for part in range(10):
            started = time.perf_counter()
            for n in range(part * tenth, (part + 1) * tenth):
                if n % 500 == 0:
                    store.begin()
                sha = hashlib.sha256(str(n).encode()).hexdigest()
                hashes = {name: sha[i : i + 16] for i, name in enumerate(BUILTIN_NAMES)}
                record = {
                    "sha256": sha,
                    "md5": sha[:32],
                    "sha1": sha[:40],
                    "size": n,
                    "kind": "image",
                    "hashes": hashes,
                }
                store.put(root, f"{n:07d}.jpg", n, record, BUILTIN_NAMES)
                if n % 500 == 499:
                    store.commit()
            if store.db.in_transaction:
                store.commit()
            rate = tenth / (time.perf_counter() - started)
            first = first or rate
            print(
                f"  records {part * tenth:>8}-{(part + 1) * tenth:<8} {rate:9.0f} files/s"
                f"   {rate / first:.3f}x the first tenth"
            )
        store.db.close()


def dedup_scale(count: int, lookalikes: float = 1 / 3) -> None:
    from bench_search import leak_like

    from provenance.search import MultiIndexHash, words_to_hex

    phash = leak_like(count, 1, lookalikes=lookalikes, seed=1)
    pdq = leak_like(count, 4, lookalikes=0, seed=2)  # each group of 4 is close in PDQ; look-alikes are not
    records = [
        {
            "path": f"/leak/{n:07d}.jpg",
            "sha256": f"{n:064x}",
            "kind": "image",
            "width": 640,
            "height": 480,
            "hashes": {"phash": words_to_hex(phash[n]), "pdq": words_to_hex(pdq[n]), "pdq_quality": 100},
            "error": None,
        }
        for n in range(count)
    ]
    pairs_time, (i, _, _) = timed(lambda: MultiIndexHash(phash, distance=10).pairs(10))
    total, result = timed(lambda: dedup(records))
    print(f"\ndedup of {count} synthetic records (groups of 4, {lookalikes:.0%} of them look-alikes)")
    print(f"  candidate pairs alone (pHash <= 10)  {pairs_time:8.2f} s   1.000   ({len(i)} pairs)")
    print(
        f"  dedup, everything                    {total:8.2f} s   {total / pairs_time:.3f}x"
        f"   ({len(result.clusters)} clusters, {sum(len(c.members) for c in result.clusters)} files in them)"
    )


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def reindex(count: int, jobs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        leak = Path(folder) / "leak"
        leak.mkdir()
        paths = _generate(leak, count)
        db = Path(folder) / "leak.db"
        with Index(db) as index:
            first, summary = timed(lambda: index.add([leak], jobs=jobs))
            assert summary.added == count, summary
            unchanged, summary = timed(lambda: index.add([leak], jobs=jobs))
            assert summary.unchanged == count, summary
            for path in paths[::100]:  # rewrite 1%: new bytes, new mtime
                Image.open(path).convert("L").save(path, quality=70)
            changed, summary = timed(lambda: index.add([leak], jobs=jobs))
            assert summary.updated == len(paths[::100]), summary
            deduplicated, result = timed(lambda: dedup(index.records()))
        size = os.path.getsize(db)
    print(f"index of {count} generated JPEGs, jobs={jobs}")
    print(f"  (a) first build                    {first:8.2f} s   1.000")
    print(f"  (b) rerun, nothing changed         {unchanged:8.2f} s   {unchanged / first:.4f} of (a)")
    print(f"  (c) rerun, 1% rewritten            {changed:8.2f} s   {changed / first:.4f} of (a)")
    print(
        f"  (d) dedup over the index           {deduplicated:8.2f} s   {deduplicated / first:.4f} of (a)"
        f"  ({len(result.clusters)} clusters)"
    )
    print(f"  index file: {size / 1e6:.1f} MB, {size / count:.0f} bytes per file")


def memory(count: int, jobs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        leak = Path(folder) / "leak"
        leak.mkdir()
        source = (
            Image.open(
                Path(__file__).resolve().parents[1] / "fixtures" / "leak" / "23b313574a1e61545db171a23edd73b3.jpg"
            )
            .convert("RGB")
            .resize((320, 240))
        )
        for n in range(count):  # tiny distinct files: the per-file overhead is what is measured
            left, top = n % 280, (n // 280) % 200
            source.crop((left, top, left + 40, top + 30)).save(leak / f"{n:06d}.jpg", quality=75)
        samples: dict[int, tuple[int, int]] = {}
        seen = 0

        with Index(Path(folder) / "leak.db") as index:

            def progress(_path: str, _status: str) -> None:
                nonlocal seen
                seen += 1
                if seen in (count // 10, count):
                    samples[seen] = _rss(os.getpid()), 0

            start = time.perf_counter()
            index.add([leak], jobs=jobs, progress=progress)
            elapsed = time.perf_counter() - start
    (early, _), (late, _) = samples[count // 10], samples[count]
    print(f"\nmemory while indexing {count} tiny files, jobs={jobs} ({elapsed:.0f} s, {count / elapsed:.0f} files/s)")
    print(
        f"  parent RSS {early / 1e6:6.1f} MB at {count // 10} files, {late / 1e6:6.1f} MB at {count}"
        f"  ({late / early:4.2f}x)"
    )


if __name__ == "__main__":
    main()
