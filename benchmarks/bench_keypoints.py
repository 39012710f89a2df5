"""The keypoint search at a leak's size: which structure finds hard cases without scanning every reference.

    python benchmarks/bench_keypoints.py [--sizes 1000 10000 100000] [--queries 30] [--cache DIR]

References are the ORB descriptors (the 400 strongest, as ``provenance index`` stores them) of
every photo of ../shared/corpus at least 300 px on its short side, topped up with distractors:
pictures generated from a seed alone (``provenance.testing.images.generated_scene``: gradient,
texture, shapes, strokes, words), each also mirrored, negated, and both (four distinct pictures
to ORB, which is neither mirror- nor negation-invariant). Queries are hard cases made from the
real references (a 60% crop, an off-centre crop, a screenshot, a collage cell, a small rotation),
with all of their descriptors and their mirror's, as the matcher sends them.

For each size the exhaustive search (FAISS's flat binary index, what ``match`` used before) and
the candidate structures run on the same references and queries, one thread, in this run:
the search step's median time per query and its ratio to the exhaustive one, memory per
reference, the build time, and recall: how often the true reference is among the candidates
(top 5, at least MIN_VOTES votes), and how often the top candidate is the exhaustive search's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np
from PIL import Image, ImageOps

from provenance.features import Features, extract, features_of, work_image
from provenance.keypoints import PER_REFERENCE, KeypointSearch, Lists
from provenance.testing.images import generated_scene
from provenance.testing.transforms import TRANSFORMS, collage

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
HARD = ("crop-60", "crop-75-offcentre", "screenshot", "rotate-3-5")


def corpus_photos() -> list[Path]:
    """Every decodable JPEG/PNG photo of the corpus with a short side of at least 300 px, one per content."""
    seen: set[bytes] = set()
    found = []
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png") or not path.is_file():
            continue
        try:
            with Image.open(path) as im:
                if min(im.size) < 300 or im.mode not in ("RGB", "L", "RGBA", "P", "CMYK"):
                    continue
                im = ImageOps.exif_transpose(im).convert("RGB")
                key = im.resize((8, 8)).tobytes()
        except Exception:  # the corpus holds broken files on purpose
            continue
        if key not in seen:
            seen.add(key)
            found.append(path)
    return found


def load(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def top(features: Features) -> np.ndarray:
    block = np.zeros((PER_REFERENCE, 32), np.uint8)
    d = features.descriptors[:PER_REFERENCE]
    block[: len(d)] = d
    return block


def _scene_descriptors(seed: int) -> np.ndarray:
    gray = work_image(generated_scene(seed))
    variants = (gray, gray[:, ::-1], 255 - gray, 255 - gray[:, ::-1])
    return np.stack([top(extract(np.ascontiguousarray(v), (640, 480))) for v in variants])


def distractors(count: int, cache: Path | None) -> np.ndarray:
    """(count, PER_REFERENCE, 32) descriptors of generated pictures, four per scene; cached in ``cache``."""
    scenes = (count + 3) // 4
    file = cache / f"scenes-{scenes}.npy" if cache else None
    if file is not None and file.exists():
        return np.load(file)[:count]
    if cache:  # a larger cached set serves a smaller request
        larger = sorted(cache.glob("scenes-*.npy"), key=lambda p: int(p.stem.split("-")[1]))
        for other in larger:
            if int(other.stem.split("-")[1]) >= scenes:
                return np.load(other, mmap_mode="r")[:count]
    started = time.perf_counter()
    with multiprocessing.Pool(os.cpu_count() or 1) as pool:
        blocks = pool.map(_scene_descriptors, range(scenes), chunksize=64)
    stacked = np.concatenate(blocks)
    print(
        f"  made {scenes} scenes ({len(stacked)} distractors) in {time.perf_counter() - started:.0f} s", file=sys.stderr
    )
    if file is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(file, stacked)
    return stacked[:count]


def hard_queries(photos: list[Image.Image], count: int) -> list[tuple[int, Features, Features]]:
    """(true reference, features, mirrored features) of ``count`` hard-case queries."""
    rng = random.Random(7)
    queries = []
    for n in range(count):
        ref = rng.randrange(len(photos))
        name = HARD[n % len(HARD)] if n % 5 else "collage"
        if name == "collage":
            others = [photos[rng.randrange(len(photos))] for _ in range(3)]
            image = collage(photos[ref], rng, others)
        else:
            data = TRANSFORMS[name](photos[ref], rng)
            image = data if isinstance(data, Image.Image) else Image.open(__import__("io").BytesIO(data)).convert("RGB")
        features = features_of(image)
        queries.append((ref, features, features.mirrored()))
    return queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--exhaustive-up-to", type=int, default=100000, help="skip the flat search above this size")
    parser.add_argument(
        "--structures",
        nargs="+",
        default=["ivf2"],
        help="ivf2[:NLIST[:NPROBE[:QUERY]]] (flat runs up to --exhaustive-up-to)",
    )
    parser.add_argument(
        "--query-limits",
        type=int,
        nargs="+",
        default=[],
        help="also run each inverted file with only this many of a query's strongest descriptors (same build)",
    )
    parser.add_argument("--cache", type=Path, help="keep the generated distractors' descriptors here")
    parser.add_argument(
        "--stored-lists",
        action="store_true",
        help="also time the inverted file filled from stored lists (as a match worker does from an index "
        "that `provenance index` gave them) against its ordinary build, and check they give the same candidates",
    )
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"needs the corpus at {CORPUS}")
    faiss.omp_set_num_threads(1)
    paths = corpus_photos()
    photos = [load(p) for p in paths]
    real = np.stack([top(features_of(im)) for im in photos])
    queries = hard_queries(photos, args.queries)
    print(f"{len(real)} corpus photos as references; {len(queries)} hard-case queries ({', '.join(HARD)}, collage)")
    pool = distractors(max(args.sizes) - len(real), args.cache)
    print(
        f"{'references':>10} {'structure':<22} {'build s':>8} {'KB/ref':>7} {'search ms':>10} {'ratio':>7} "
        f"{'true in top 5':>14} {'same top 1':>11}"
    )
    stored_rows: list[tuple[int, str, float, float, float, bool]] = []
    for size in args.sizes:
        blocks = np.concatenate([real, pool[: size - len(real)]])
        refs = [(f"{n:064x}", [], blocks[n]) for n in range(size)]
        rows = []
        exhaustive: list[str | None] = []
        structures = (["flat"] if size <= args.exhaustive_up_to else []) + args.structures
        for structure in structures:
            started = time.perf_counter()
            search = KeypointSearch.build_from_descriptors(refs, structure=structure)
            search.prepare()
            build = time.perf_counter() - started
            if args.stored_lists and structure.startswith("ivf2"):
                stored_rows.append((size, structure, build, *stored_lists(refs, structure, search, queries)))
            limits = [search.query_limit] + ([n for n in args.query_limits] if structure != "flat" else [])
            for limit in limits:
                search.query_limit = limit
                times, found, tops = [], 0, []
                for ref, features, mirrored in queries:
                    t0 = time.perf_counter()
                    candidates = search.candidates(features, mirrored=mirrored)
                    times.append(time.perf_counter() - t0)
                    shas = [sha for sha, _ in candidates]
                    found += f"{ref:064x}" in shas
                    tops.append(shas[0] if shas else None)
                if structure == "flat":
                    exhaustive = tops
                median = statistics.median(times)
                rows.append((structure, search.describe(), build, search.memory() / size / 1024, median, found, tops))
        base = rows[0][4] if rows[0][0] == "flat" else None
        for _structure, described, build, kb, median, found, tops in rows:
            ratio = f"{median / base:.3f}" if base else "-"
            same = f"{sum(a == b for a, b in zip(tops, exhaustive)) / len(tops):.0%}" if exhaustive else "-"
            print(
                f"{size:>10} {described:<22} {build:>8.1f} {kb:>7.1f} {median * 1000:>10.1f} {ratio:>7} "
                f"{found / len(queries):>14.0%} {same:>11}"
            )
        sys.stdout.flush()
    if stored_rows:
        print("\nthe inverted file from stored lists (what `provenance index` stores, what a match worker loads)")
        print(
            f"{'references':>10} {'structure':<16} {'ordinary build s':>17} {'index: draw+assign s':>21} "
            f"{'worker: fill s':>15} {'fill/build':>11} {'same candidates':>16}"
        )
        for size, structure, build, index_time, fill, same in stored_rows:
            print(
                f"{size:>10} {structure:<16} {build:>17.1f} {index_time:>21.1f} {fill:>15.2f} "
                f"{fill / build:>11.3f} {'yes' if same else 'NO':>16}"
            )


def stored_lists(
    refs: list[tuple[str, list[str], np.ndarray]],
    structure: str,
    ordinary: KeypointSearch,
    queries: list[tuple[int, Features, Features]],
) -> tuple[float, float, bool]:
    """The index-time work (draw the centres, assign every descriptor: ``keypoints.store_lists``),
    the worker's fill from it, and whether the filled structure gives the ordinary one's candidates."""
    params = structure.split(":")
    nlist = int(params[1]) if len(params) > 1 and params[1] else None
    started = time.perf_counter()
    stacked = np.concatenate([d[:PER_REFERENCE] for _, _, d in refs])
    lists = Lists.draw(stacked, nlist)
    numbers = lists.assign(stacked).astype(np.uint16)
    index_time = time.perf_counter() - started
    assignments, at = {}, 0
    for sha, _, descriptors in refs:
        count = len(descriptors[:PER_REFERENCE])
        assignments[sha] = numbers[at : at + count].tobytes()
        at += count
    started = time.perf_counter()
    filled = KeypointSearch.build_from_descriptors(refs, structure=structure, lists=lists, assignments=assignments)
    filled.prepare()
    fill = time.perf_counter() - started
    assert filled.assigned_here == 0
    same = all(
        filled.candidates(features, mirrored=mirrored) == ordinary.candidates(features, mirrored=mirrored)
        for _, features, mirrored in queries
    )
    return index_time, fill, same


if __name__ == "__main__":
    main()
