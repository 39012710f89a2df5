"""Match throughput with one worker against two (and, optionally, a local Dask cluster), on one query set.

    python benchmarks/bench_jobs.py [--references 60] [--queries 500] [--dask] [--keep DIR]

References are real photos of ../shared/corpus (the pool of benchmarks/accuracy.py), indexed
with their keypoint features. The queries are mixed as a newsroom's would be: each reference
through the transforms of ``provenance.testing.transforms`` in turn (re-encodes, resizes,
crops, overlays, screenshots: the easy hash path and the hard cases), and one query in five a
generated scene that matches nothing (every one of those runs the keypoint search). The same
queries go through ``match`` with ``--jobs 1`` and ``--jobs 2`` in one run; the ratio of their
throughputs is the figure, with the match workers' resident memory sampled through the run
(flat, or growing with the queries).
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from provenance import Index, match
from provenance.captions import Query
from provenance.testing.images import generated_scene
from provenance.testing.transforms import TRANSFORMS, encode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import CORPUS, load, pool

print = functools.partial(print, flush=True)  # each line as it is measured


def worker_rss_mb() -> list[float]:
    """Resident memory of every ``provenance.worker`` process descending from this one, in MB."""
    me = os.getpid()
    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                status = dict(line.split(":", 1) for line in fh if ":" in line)
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                command = fh.read()
        except OSError:
            continue
        parents[int(entry)] = int(status["PPid"])
        if b"provenance.worker" in command:
            rss[int(entry)] = int(status["VmRSS"].split()[0]) / 1024

    def descends(pid: int) -> bool:
        while pid in parents and pid > 1:
            pid = parents[pid]
            if pid == me:
                return True
        return False

    return [mb for pid, mb in rss.items() if descends(pid)]


class Sampler:
    """Samples the workers' memory every half second while a run goes, by share of queries done."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.samples = total, 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            sizes = worker_rss_mb()
            if sizes:
                self.samples.append((self.done / self.total, max(sizes)))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, share: float) -> float:
        """The largest worker's memory (MB) around ``share`` of the run."""
        near = [mb for s, mb in self.samples if abs(s - share) <= 0.1]
        return max(near) if near else float("nan")


def make_queries(references: list[Path], count: int, folder: Path, seed: int) -> list[Query]:
    rng = random.Random(seed)
    names = sorted(TRANSFORMS)
    queries = []
    for n in range(count):
        if n % 5 == 4:  # a picture no reference holds: the hard-case search runs in full
            data = encode(generated_scene(seed * 100_000 + n, (800, 600)))
            name = f"{n:04d}-unrelated.jpg"
        else:
            source = references[n % len(references)]
            transform = names[(n // len(references)) % len(names)]
            out = TRANSFORMS[transform](load(source), rng)
            data = out if isinstance(out, bytes) else encode(out)
            name = f"{n:04d}-{transform}.jpg"
        (folder / name).write_bytes(data)
        queries.append(Query(path=str(folder / name)))
    return queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--references", type=int, default=60)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dask", action="store_true", help="also run on a LocalCluster of 2 worker processes")
    parser.add_argument("--keep", type=Path, help="keep the references' index and the queries here")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"skipped: {CORPUS} is not here (the references are its photos)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    refs, queries_dir = work / "references", work / "queries"
    refs.mkdir(parents=True, exist_ok=True)
    queries_dir.mkdir(exist_ok=True)
    chosen = pool()[: args.references]
    for path in chosen:
        shutil.copyfile(path, refs / path.name)
    db = work / "refs.db"
    started = time.perf_counter()
    with Index(db) as index:
        index.add([str(refs)], jobs=2)
    print(f"indexed {len(chosen)} references in {time.perf_counter() - started:.1f} s")
    queries = make_queries(chosen, args.queries, queries_dir, args.seed)
    runs: list[tuple[str, dict]] = [("--jobs 1", {"jobs": 1}), ("--jobs 2", {"jobs": 2})]
    cluster = None
    if args.dask:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=50)
        runs.append(("Dask, 2 workers x 1 thread", {"scheduler": cluster.scheduler_address}))
    print(f"{len(queries)} queries (one in five unrelated); per run: seconds, queries/s, ratio to --jobs 1, "
          "largest match worker's memory at 20% / 50% / 90% of the run")  # fmt: skip
    base = None
    verdicts_seen = None
    with Index(db, create=False, writable=False) as index:
        for label, how in runs:
            with Sampler(len(queries)) as sampler:
                started = time.perf_counter()

                def progress(_result: object, sampler: Sampler = sampler) -> None:
                    sampler.done += 1

                report = match(queries, index, progress=progress, **how).to_dict()
                seconds = time.perf_counter() - started
            verdicts = [r["verdict"] for r in report["results"]]
            if verdicts_seen is None:
                verdicts_seen = verdicts
            same = "same verdicts" if verdicts == verdicts_seen else "VERDICTS DIFFER"
            rate = len(queries) / seconds
            base = base or rate
            memory = " / ".join(f"{sampler.at(s):.0f}" for s in (0.2, 0.5, 0.9))
            print(f"{label:>28}: {seconds:7.1f} s {rate:6.2f} q/s {rate / base:5.2f}x  memory MB {memory}  {same}")
    if cluster is not None:
        cluster.close()
    counts = {v: verdicts_seen.count(v) for v in sorted(set(verdicts_seen or []))}
    print(f"verdicts: {counts}")
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
