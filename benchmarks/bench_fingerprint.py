"""Fingerprinting speed per size class, against a floor and against the plain way, in one run.

    python benchmarks/bench_fingerprint.py [--repeat 3] [--corpus ../shared/corpus] [--breakdown] [--memory 10000]
                                           [--against OTHER_CHECKOUT]

Per-file work is what ``provenance fingerprint`` costs per file once started: the difference
between running the command on a folder of n files and on a folder of the same files three times
(copies under other names), divided by 2n, so the command's start-up and its workers' spawn are set
apart. It is compared, in the same run, with

    floor:  read + MD5/SHA-1/SHA-256 + draft decode to >= 256 px (the least any fingerprint must do)
    plain:  md5 + one imagehash.phash(Image.open(f)) + exifread: the loop a user writes today
    same work the plain way: the three digests, imagehash's pHash, dHash, aHash, wHash and colour
            hash, pdqhash and exifread, each the obvious way (what a fingerprint computes)

Sets: the corpus's camera JPEGs of 8 MP and more, and 20 JPEGs of 8-16 MP cut from its large HEIC
photos (the corpus has few large JPEGs; hash_compat.py makes them the same way); its photos under
2 MP (exif-samples, ukbench, packaged photos; the camera test files whose pictures were shrunk below
0.1 MP counted apart); and the case a newsroom meets most, republished copies: the corpus's photos
of 2 MP and more resized to 960x640 and saved at quality 82, in a temporary folder. Times are the
shortest of --repeat runs (on a shared machine noise only adds time: the shortest run is the one
least disturbed); ratios travel between machines better than seconds. ``--jobs 2`` is measured on
the 20 JPEGs cut from HEIC photos (the corpus's 6 camera JPEGs, 0.2 to 4 MB, are too few and too
unequal to keep two workers equally busy).

``--against DIR`` measures the command of another checkout (``git worktree add DIR 18e1901``) in
the same run, its runs taken in turn with this checkout's, and prints the ratio of the two.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import exifread
import imagehash
from hash_compat import camera_jpegs
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
PHOTO_FOLDERS = ("exif-samples", "ukbench-subset", "packaged-photos")

# the plain loops' exifread warnings about damaged MakerNotes would bury the figures
logging.getLogger("exifread").setLevel(logging.ERROR)


def floor(paths: list[str]) -> None:
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


def plain(paths: list[str]) -> None:
    for path in paths:
        try:
            with open(path, "rb") as fh:
                hashlib.md5(fh.read()).hexdigest()
            imagehash.phash(Image.open(path))
            with open(path, "rb") as fh:
                exifread.process_file(fh)
        except Exception:
            pass


def same_work_plain(paths: list[str]) -> None:
    import numpy as np
    import pdqhash

    for path in paths:
        try:
            data = Path(path).read_bytes()
            for name in ("md5", "sha1", "sha256"):
                hashlib.new(name, data).hexdigest()
            image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
            for function in (imagehash.phash, imagehash.dhash, imagehash.average_hash, imagehash.whash):
                function(image)
            imagehash.colorhash(image)
            pdqhash.compute(np.asarray(image.convert("RGB")))
            exifread.process_file(io.BytesIO(data))
        except Exception:
            pass


def best_time(function: Callable[[], object], repeat: int) -> float:
    """The shortest of ``repeat`` runs of ``function``, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def command_time(folder: Path, jobs: int, extra: tuple[str, ...] = (), tree: str | None = None) -> float:
    """Seconds of one ``provenance fingerprint FOLDER`` run (records to /dev/null), of the checkout ``tree``
    when given (put first on PYTHONPATH), else of the installed provenance."""
    command = [sys.executable, "-m", "provenance.cli", "fingerprint", str(folder), "--jobs", str(jobs), *extra]
    env = dict(os.environ, PYTHONPATH=tree) if tree else None
    started = time.perf_counter()
    subprocess.run([*command, "--quiet", "-o", os.devnull], check=False, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def per_file_work(
    paths: list[str],
    scratch: Path,
    jobs: int,
    repeat: int,
    extra: tuple[str, ...] = (),
    trees: tuple[str | None, ...] = (None,),
) -> list[float]:
    """Seconds per file of the command of each of ``trees``, start-up and worker spawn set apart (3n files
    minus n files); the trees' runs alternate, so a disturbance of the machine falls on all of them."""
    once, thrice = scratch / f"once-{id(paths)}", scratch / f"thrice-{id(paths)}"
    if not once.exists():
        for folder, copies in ((once, 1), (thrice, 3)):
            folder.mkdir()
            for copy in range(copies):
                for index, path in enumerate(paths):
                    shutil.copyfile(path, folder / f"{copy}-{index:04d}{Path(path).suffix}")
    one: dict[str | None, list[float]] = {tree: [] for tree in trees}
    three: dict[str | None, list[float]] = {tree: [] for tree in trees}
    for _ in range(repeat):
        for tree in trees:
            one[tree].append(command_time(once, jobs, extra, tree))
            three[tree].append(command_time(thrice, jobs, extra, tree))
    return [(min(three[tree]) - min(one[tree])) / (2 * len(paths)) for tree in trees]


def photos(corpus: Path, low: float, high: float) -> list[str]:
    """The corpus's JPEG photos of ``low`` to ``high`` megapixels."""
    found = []
    for name in PHOTO_FOLDERS:
        for path in sorted((corpus / name).rglob("*")):
            if path.suffix.lower() in (".jpg", ".jpeg") and low <= _megapixels(path) < high:
                found.append(str(path))
    return found


def republished(sources: list[str], folder: Path) -> list[str]:
    """960x640 (or 640x960) quality-82 copies of ``sources``, as newspapers republish them."""
    paths = []
    for index, source in enumerate(sources):
        try:
            with Image.open(source) as image:
                upright = ImageOps.exif_transpose(image).convert("RGB")
        except Exception:
            continue
        size = (960, 640) if upright.width >= upright.height else (640, 960)
        path = folder / f"republished-{index:03d}.jpg"
        ImageOps.fit(upright, size).save(path, quality=82)
        paths.append(str(path))
    return paths


def compare(
    title: str,
    paths: list[str],
    folder: Path,
    repeat: int,
    jobs: tuple[int, ...] = (1,),
    exact: bool = False,
    against: str | None = None,
) -> None:
    megapixels = statistics.median(_megapixels(Path(p)) for p in paths)
    print(f"\n{title}: {len(paths)} files, median {megapixels:.2f} MP, shortest of {repeat} runs")
    base = best_time(lambda: floor(paths), repeat) / len(paths)
    naive = best_time(lambda: plain(paths), repeat) / len(paths)
    same = best_time(lambda: same_work_plain(paths), repeat) / len(paths)
    print(f"  {'floor (read, 3 digests, draft decode)':<46} {base * 1000:7.2f} ms/file")
    print(f"  {'plain: md5 + imagehash.phash + exifread':<46} {naive * 1000:7.2f} ms/file  {naive / base:5.2f}x floor")
    print(f"  {'the same work the plain way':<46} {same * 1000:7.2f} ms/file  {same / base:5.2f}x floor")
    trees = (None, against) if against else (None,)

    def report(label: str, extra: tuple[str, ...], n: int) -> float:
        ours, *other = per_file_work(paths, folder, n, repeat, extra, trees)
        print(
            f"  {label:<46} {ours * 1000:7.2f} ms/file  {ours / base:5.2f}x floor  {naive / ours:5.2f}x faster than "
            f"plain  {same / ours:5.2f}x faster than the same work plain"
        )
        for theirs in other:
            print(
                f"  {'  the other checkout':<46} {theirs * 1000:7.2f} ms/file  {theirs / base:5.2f}x floor  "
                f"this checkout / the other: {ours / theirs:4.2f}x"
            )
        return ours

    work = {n: report(f"provenance fingerprint --jobs {n}, per file", (), n) for n in jobs}
    if 1 in work and 2 in work:
        print(f"  --jobs 2 / --jobs 1 throughput: {work[1] / work[2]:4.2f}x")
    if exact:
        report("... with --exact-hashes, --jobs 1", ("--exact-hashes",), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--breakdown", action="store_true", help="also print where a fingerprint's time goes")
    parser.add_argument("--memory", type=int, default=0, help="also measure memory over this many generated files")
    parser.add_argument("--against", metavar="DIR", help="also measure the command of the checkout in DIR")
    args = parser.parse_args()
    if not (args.corpus / "exif-samples").is_dir():
        sys.exit(f"corpus not found at {args.corpus}: pass --corpus")
    warnings.simplefilter("ignore")
    camera = photos(args.corpus, 8, 1e9)
    small = photos(args.corpus, 0.1, 2)
    stubs = photos(args.corpus, 0, 0.1)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        copies = republished(photos(args.corpus, 2, 1e9), folder)
        cut = [str(p) for p in camera_jpegs(args.corpus, 20, folder, low=8e6)]
        same_work_plain(camera[:1])  # imports and caches warmed before anything is timed
        other = args.against
        compare("camera-size photos (>= 8 MP)", camera, folder, args.repeat, (1,), True, other)
        cut_title = "camera-size JPEGs cut from the corpus's HEIC photos (8-16 MP)"
        compare(cut_title, cut, folder, args.repeat, (1, 2), True, other)
        compare("small photos (0.1-2 MP)", small, folder, args.repeat, (1,), True, other)
        compare("republished copies (960x640, quality 82)", copies, folder, args.repeat, (1,), True, other)
        compare("camera test files shrunk below 0.1 MP", stubs, folder, args.repeat, (1,), False, other)
        if args.breakdown:
            breakdown("small photos (0.1-2 MP)", small, args.repeat)
            breakdown("camera-size photos (>= 8 MP)", camera, args.repeat)
    if args.memory:
        memory(args.memory)


def breakdown(title: str, paths: list[str], repeat: int) -> None:
    """Where a fingerprint's time goes, part by part, in this process, on the same files."""
    from provenance import decode
    from provenance.defaults import DEFAULT_MAX_PIXELS
    from provenance.digests import encoded_image_data_sha256, file_digests
    from provenance.hashes import compute_hashes, kinds
    from provenance.metadata import read_exif

    totals: dict[str, float] = {}

    def timed(name: str, function: Callable[[], object]) -> object:
        started = time.perf_counter()
        result = function()
        totals[name] = totals.get(name, 0.0) + time.perf_counter() - started
        return result

    for _ in range(repeat):
        for path in paths:
            data = Path(path).read_bytes()
            timed("md5 + sha1 + sha256", lambda: file_digests(data))
            timed("image_data_sha256", lambda: encoded_image_data_sha256(data))
            timed("EXIF (exifread)", lambda: read_exif(data))
            try:
                image = decode.open_image(data, path, DEFAULT_MAX_PIXELS)
                images = timed("decode + orientation", lambda: decode.hashing_images(image))
            except Exception:
                continue
            for kind in kinds():
                pixels = images.compat if kind.resolution == "full" else images.reduced
                timed(f"hash: {kind.name}", lambda: compute_hashes(pixels, kinds_to_compute=[kind]))
    count = repeat * len(paths)
    print(f"\nwhere the time goes on {title} ({len(paths)} files, in one process):")
    for name, seconds in totals.items():
        print(f"  {name:<30} {seconds * 1000 / count:6.2f} ms/file")


def memory(count: int) -> None:
    """Peak memory of the parent and each worker after 10% of a run and at its end."""
    from provenance import FingerprintOptions
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


def _megapixels(path: Path) -> float:
    try:
        with Image.open(path) as image:
            return image.width * image.height / 1e6
    except Exception:
        return 0.0


if __name__ == "__main__":
    main()
