"""Fingerprinting speed against a floor and a naive loop, on the same files in one run.

    python benchmarks/bench_fingerprint.py [--repeat 5] [--corpus ../shared/corpus] [--memory 10000]

(a) floor:  read + MD5/SHA-1/SHA-256 + reduced-size (draft) JPEG decode to >= 256 px
(b) naive:  the loop a user writes today: hashlib.md5, imagehash.phash(Image.open(f)), exifread.process_file
(c) provenance in one process (jobs=0), computing every field
(d) provenance with 1 and 2 worker processes (what the CLI runs)

Times are medians of --repeat runs, printed as ratios to the floor measured in the same run,
because machines are noisy and ratios travel better than seconds. File sets: every camera
JPEG of exif-samples/jpg, its photos of 4 MP and more, and of 10 MP and more. Then: the
cost of each part of a fingerprint on the large photos; how --jobs scales (on the camera
JPEGs four times over, so worker start-up is amortised as in a real run); and with --memory N,
the memory of a run over N generated files, sampled at 10% and at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import exifread
import imagehash
from PIL import Image

from provenance import FingerprintOptions, fingerprint_many

ROOT = Path(__file__).resolve().parents[1]

# the naive loop's exifread warnings about damaged MakerNotes would bury the figures
logging.getLogger("exifread").setLevel(logging.ERROR)


def floor(paths):
    for path in paths:
        data = Path(path).read_bytes()
        for name in ("md5", "sha1", "sha256"):
            hashlib.new(name, data).hexdigest()
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.draft(None, (256, 256))
                image.load()
        except Exception:
            pass


def naive(paths):
    for path in paths:
        try:
            with open(path, "rb") as fh:
                hashlib.md5(fh.read()).hexdigest()
            imagehash.phash(Image.open(path))
            with open(path, "rb") as fh:
                exifread.process_file(fh)
        except Exception:
            pass


def provenance(jobs, exact=False):
    options = FingerprintOptions(exact_hashes=exact)

    def run(paths):
        for _ in fingerprint_many(paths, jobs=jobs, options=options):
            pass

    return run


def median_time(function, paths, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function(paths)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--memory", type=int, default=0, help="also measure memory over this many generated files")
    args = parser.parse_args()
    folder = args.corpus / "exif-samples" / "jpg"
    if not folder.is_dir():
        sys.exit(f"corpus not found at {args.corpus}: pass --corpus")
    warnings.simplefilter("ignore")
    every = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    sizes = {p: _megapixels(p) for p in every}
    contenders = [
        ("(a) floor: read + 3 digests + draft decode", floor),
        ("(b) naive: md5 + imagehash.phash + exifread", naive),
        ("(c) provenance, one process (jobs=0)", provenance(0)),
        ("(c') provenance --exact-hashes, one process", provenance(0, exact=True)),
    ]
    provenance(0)(every[:3])  # warm imports (scipy, pywt) and caches
    for title, paths in (
        ("all camera JPEGs", every),
        ("photos >= 4 MP", [p for p in every if sizes[p] >= 4]),
        ("photos >= 10 MP", [p for p in every if sizes[p] >= 10]),
    ):
        megabytes = sum(Path(p).stat().st_size for p in paths) / 1e6
        print(f"\n{title}: {len(paths)} files, {megabytes:.1f} MB, median of {args.repeat} runs")
        results = {name: median_time(function, paths, args.repeat) for name, function in contenders}
        base = results[contenders[0][0]]
        naive_time = results[contenders[1][0]]
        for name, seconds in results.items():
            print(
                f"  {name:<46} {seconds * 1000 / len(paths):7.1f} ms/file  "
                f"{seconds / base:5.2f}x floor  {naive_time / seconds:5.2f}x faster than naive"
            )
    breakdown([p for p in every if sizes[p] >= 4], args.repeat)
    scaling(every * 4, args.repeat)
    if args.memory:
        memory(args.memory)


def breakdown(paths, repeat):
    """Where a fingerprint's time goes, part by part, on the same files."""
    from provenance import decode
    from provenance.defaults import DEFAULT_MAX_PIXELS
    from provenance.digests import encoded_image_data_sha256, file_digests
    from provenance.hashes import compute_hashes, kinds
    from provenance.metadata import read_exif

    totals: dict[str, float] = {}

    def timed(name, function):
        started = time.perf_counter()
        result = function()
        totals[name] = totals.get(name, 0.0) + time.perf_counter() - started
        return result

    for _ in range(repeat):
        for path in paths:
            data = timed("read", lambda: Path(path).read_bytes())
            timed("md5 + sha1 + sha256", lambda: file_digests(data))
            timed("image_data_sha256", lambda: encoded_image_data_sha256(data))
            timed("EXIF (exifread)", lambda: read_exif(data))
            try:
                image = decode.open_image(data, path, DEFAULT_MAX_PIXELS)
                images = timed("draft decode + orientation", lambda: decode.hashing_images(image))
            except Exception:
                continue
            for kind in kinds():
                timed(f"hash: {kind.name}", lambda: compute_hashes(images.reduced, kinds_to_compute=[kind]))
    count = repeat * len(paths)
    print(f"\nwhere the time goes on photos >= 4 MP ({len(paths)} files):")
    for name, seconds in totals.items():
        print(f"  {name:<30} {seconds * 1000 / count:6.2f} ms/file")


def scaling(paths, repeat):
    """Throughput of 1 and 2 worker processes (and in-process) on one long run, next to what
    this machine gives any two processes (shared or throttled cores scale less than 2x)."""
    import multiprocessing

    print(f"\n--jobs scaling: {len(paths)} files (the camera JPEGs four times), median of {repeat} runs")
    rates = {}
    for jobs in (0, 1, 2):
        rates[jobs] = len(paths) / median_time(provenance(jobs), paths, repeat)
        print(f"  jobs={jobs}  {rates[jobs]:6.1f} files/s  {rates[jobs] / rates[0]:5.2f}x the in-process rate")
    one = median_time(lambda _: _spin(), None, repeat)
    with multiprocessing.get_context("fork").Pool(2) as workers:
        two = median_time(lambda _: workers.map(_spin, [None, None]), None, repeat)
    print(
        f"  jobs=2 / jobs=1: {rates[2] / rates[1]:4.2f}x; this machine runs two CPU-bound processes "
        f"{2 * one / two:4.2f}x as fast as one"
    )


def _spin(_=None, n=5_000_000):
    total = 0
    for i in range(n):
        total += i * i
    return total


def memory(count):
    """Peak memory of the parent and each worker after 10% of a run and at its end."""
    import tempfile

    from provenance.workers import WorkerPool

    print(f"\nmemory over {count} generated files (64x48 to 320x240 JPEGs), jobs=2")
    with tempfile.TemporaryDirectory() as folder:
        paths = _generate(Path(folder), count)
        samples = {}
        pool = WorkerPool(
            "fingerprint", {"options": FingerprintOptions().to_dict()}, 2, failed=lambda payload, kind, message: {}
        )
        with pool:
            for index, _record in enumerate(pool.map({"path": p} for p in paths), 1):
                if index in (count // 10, count):
                    samples[index] = (_rss(os.getpid()), [_rss(w.process.pid) for w in pool.workers])
        (early_parent, early_workers), (late_parent, late_workers) = samples[count // 10], samples[count]
        print(
            f"  parent  RSS {early_parent / 1e6:6.1f} MB at {count // 10} files, {late_parent / 1e6:6.1f} MB at {count}"
            f"  ({late_parent / early_parent:4.2f}x)"
        )
        print(
            f"  workers RSS {max(early_workers) / 1e6:6.1f} MB at {count // 10} files, "
            f"{max(late_workers) / 1e6:6.1f} MB at {count}  ({max(late_workers) / max(early_workers):4.2f}x)"
        )


def _generate(folder: Path, count: int) -> list[str]:
    source = Image.open(ROOT / "fixtures" / "leak" / "23b313574a1e61545db171a23edd73b3.jpg").convert("RGB")
    paths = []
    for n in range(count):
        width = 64 + (n * 37) % 256
        left, top = (n * 53) % (source.width - width), (n * 29) % (source.height - width)
        path = folder / f"{n:05d}.jpg"
        source.crop((left, top, left + width, top + width * 3 // 4)).save(path, quality=80)
        paths.append(str(path))
    return paths


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _megapixels(path: str) -> float:
    try:
        with Image.open(path) as image:
            return image.width * image.height / 1e6
    except Exception:
        return 0.0


if __name__ == "__main__":
    main()
