"""Matching accuracy: recall per transform and false matches, against plain imagehash in the same run.

    python benchmarks/accuracy.py [--references 30] [--distractors 20] [--seed 1] [--json out.json]
    python benchmarks/accuracy.py --generated 300 --structures flat ivf2   # the hard-case search compared

Real photos from ../shared/corpus are split into references (indexed) and distractors
(never indexed). Every reference goes through every transform of ``transforms.py``; each
result is a query that must come back as a reuse of *its* reference. Negatives that must
come back ``no-match``: the distractors after a few transforms, and look-alikes: mugshots of
different people on one backdrop (plain, blue, brick and grass walls; the references hold half
of them, the queries are the other half, each also at 128 px), burst frames (16 subjects of the
corpus in no other role, each a reference and two more frames of it, moved, turned and posed
again, also at 128 px), a stereo pair (two shots of one scene) and the corpus's two documented
traps. HDR on/off pairs are reported apart, not scored.

The baseline is what a user writes with imagehash alone: the reference with the smallest
pHash distance to the query, claimed when that distance is at most 10.

``--generated N`` adds N generated scenes (``provenance.testing.images.generated_scene``, 800x600,
JPEG quality 90, made on every core; ``--generated-cache DIR`` keeps them between runs) to the
references, as distractor references a large set holds; ``--structures`` runs every query through
one matcher per keypoint search structure (``flat``: exhaustive; ``ivf2``: the inverted file; ``auto``:
what ``match`` picks), in the same run, and prints their recall side by side.
"""

from __future__ import annotations

import argparse
import atexit
import json
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import imagehash
from PIL import Image, ImageOps

from provenance import Index
from provenance.captions import Query
from provenance.decode import register_formats
from provenance.matching import Matcher, MatchOptions
from provenance.testing.images import generated_scene, mugshot
from provenance.testing.posted import FAMILIES, HELD_OUT, NEEDS_BACKGROUND, POSTED
from provenance.testing.transforms import BYTE_TRANSFORMS, TRANSFORMS, collage, encode

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"

#: distinct real photos of at least 400 px (one member per near-duplicate group of the corpus)
POOL_GLOBS = (
    "exif-samples/jpg/exif-org/*.jpg", "exif-samples/jpg/gps/*.jpg", "exif-samples/jpg/mobile/*.jpg",
    "exif-samples/jpg/Reconyx_HC500_Hyperfire.jpg", "exif-samples/jpg/Sony_DSLR-A200.jpg",
    "exif-samples/jpg/Canon_PowerShot_S40.jpg", "exif-samples/jpg/orientation/landscape_1.jpg",
    "exif-samples/jpg/orientation/portrait_1.jpg", "exif-samples/jpg/tests/11-tests.jpg",
    "exif-samples/jpg/tests/22-canon_tags.jpg", "exif-samples/jpg/tests/45-gps_ifd.jpg",
    "exif-samples/jpg/tests/87_OSError.jpg", "packaged-photos/scikit_learn/china.jpg",
    "packaged-photos/scikit_image/rocket.jpg", "packaged-photos/scikit_image/coffee.png",
    "packaged-photos/scikit_image/chelsea.png", "packaged-photos/scikit_image/astronaut.png",
    "ukbench-subset/base_images/*.jpg",
)  # fmt: skip

#: transforms applied to distractors (which must not match anything)
NEGATIVE_TRANSFORMS = (
    "jpeg-q75", "wordpress-960x640", "crop-75-offcentre", "mirror", "caption-banner", "screenshot",
    "sticker", "meme-text", "watermark-tiled", "thumbnail-128", "keystone", "grade-teal-orange",
)  # fmt: skip

#: subjects for the mugshot look-alikes besides the pool's leftovers (relative to the corpus; in no other role)
EXTRA_SUBJECTS = (
    "packaged-photos/scikit_image/camera.png", "packaged-photos/scikit_image/coins.png",
    "packaged-photos/scikit_image/retina.jpg", "packaged-photos/scikit_image/hubble_deep_field.jpg",
    *(f"packaged-photos/perception/image{n}.jpg" for n in range(1, 11)),
    "packaged-photos/iscc_samples/demo.jpg", "packaged-photos/scikit_image/ihc.png",
)  # fmt: skip

#: backdrops of the mugshot look-alikes: a plain colour (with height lines) or a texture of the corpus
#: (its colour then unused)
BACKDROPS = (
    ("plain", (200, 202, 198), None), ("blue", (96, 128, 170), None),
    ("brick", (200, 202, 198), "packaged-photos/scikit_image/brick.png"),
    ("grass", (200, 202, 198), "packaged-photos/scikit_image/grass.png"),
)  # fmt: skip

#: pairs (reference, query) of different pictures that look alike; relative to the corpus
LOOKALIKE_PAIRS = (
    (
        "packaged-photos/scikit_image/motorcycle_left.png",
        "packaged-photos/scikit_image/motorcycle_right.png",
        "stereo pair: the same scene from two viewpoints",
    ),
    (
        "exif-samples/jpg/Canon_40D.jpg",
        "exif-samples/jpg/Canon_40D_photoshop_import.jpg",
        "documented trap of the corpus",
    ),
    ("pillow-images/hopper.jpg", "packaged-photos/matplotlib/grace_hopper.jpg", "documented trap of the corpus"),
)

#: pairs the corpus groups as near-duplicates although they are two exposures: reported, not scored
SECOND_FRAMES = (
    ("exif-samples/jpg/hdr/canon_hdr_NO.jpg", "exif-samples/jpg/hdr/canon_hdr_YES.jpg"),
    ("exif-samples/jpg/hdr/iphone_hdr_NO.jpg", "exif-samples/jpg/hdr/iphone_hdr_YES.jpg"),
)


def load(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def pool() -> list[Path]:
    found = sorted({p for pattern in POOL_GLOBS for p in CORPUS.glob(pattern)})
    usable = []
    for path in found:
        try:
            with Image.open(path) as im:
                im.load()
                if min(im.size) >= 300:
                    usable.append(path)
        except Exception:
            continue
    return usable


def _generated_name(n: int) -> str:
    return f"generated-{n:06d}.jpg"


def _generated_file(job: tuple[int, str]) -> None:
    n, folder = job
    target = Path(folder) / _generated_name(n)
    if not target.exists():
        partial = target.with_suffix(".part")
        partial.write_bytes(encode(generated_scene(n, (800, 600)), quality=90))
        partial.replace(target)


def add_generated(refs_dir: Path, count: int, cache: Path | None) -> None:
    """Put ``count`` generated distractor references in ``refs_dir`` (made on every core, or linked from ``cache``)."""
    if not count:
        return
    folder = cache or refs_dir
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with multiprocessing.Pool(os.cpu_count() or 1) as workers:
        workers.map(_generated_file, [(n, str(folder)) for n in range(count)], chunksize=64)
    if cache is not None:
        for n in range(count):
            name = _generated_name(n)
            try:
                os.link(cache / name, refs_dir / name)
            except OSError:  # another filesystem
                shutil.copyfile(cache / name, refs_dir / name)
    print(f"{count} generated references ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)


class Baseline:
    """Plain imagehash: the reference with the smallest pHash distance, claimed at distance <= 10."""

    def __init__(self, references: dict[str, Image.Image]) -> None:
        self.hashes = {key: imagehash.phash(im) for key, im in references.items()}

    def claim(self, data: bytes) -> str | None:
        import io

        query = imagehash.phash(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
        key, dist = min(((k, query - h) for k, h in self.hashes.items()), key=lambda kv: kv[1])
        return key if dist <= 10 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--references", type=int, default=30)
    parser.add_argument("--distractors", type=int, default=12)
    parser.add_argument("--faces", type=int, default=8, help="subjects of the mugshot look-alikes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="run only these transforms")
    parser.add_argument("--json", help="write every outcome to this file")
    parser.add_argument("--generated", type=int, default=0, help="generated scenes added to the references")
    parser.add_argument("--generated-cache", type=Path, help="keep the generated scenes' files here between runs")
    parser.add_argument("--structures", nargs="+", default=["auto"], help="keypoint search structures to compare")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"accuracy: {CORPUS} is missing; this benchmark needs ../shared/corpus")
    register_formats()
    rng = random.Random(args.seed)
    photos = pool()
    rng.shuffle(photos)
    ref_paths = photos[: args.references]
    distractor_paths = photos[args.references : args.references + args.distractors]
    distractors = [load(p) for p in distractor_paths]

    work = Path(tempfile.mkdtemp(prefix="provenance-accuracy-"))
    atexit.register(shutil.rmtree, work, True)
    refs_dir, queries_dir = work / "references", work / "queries"
    refs_dir.mkdir()
    queries_dir.mkdir()
    references: dict[str, Image.Image] = {}
    for n, path in enumerate(ref_paths):  # references keep their bytes; look-alike refs are added below
        target = refs_dir / f"{n:03d}{path.suffix.lower()}"
        target.write_bytes(path.read_bytes())
        references[target.name] = load(path)

    # look-alikes: half of the mugshots on each backdrop are references, the other half queries; and
    # burst frames: a reference mugshot and, as queries, two more frames of it (the same person moved
    # and posed a little: other photographs). Every subject appears in no other role: a subject's
    # pixels in two references would make a query of one a real (partial) reuse of the other.
    faces = [load(p) for p in photos[args.references + args.distractors :][: args.faces]]
    burst_subjects = [load(CORPUS / p) for p in EXTRA_SUBJECTS if (CORPUS / p).exists()]
    lookalike_queries: list[tuple[str, bytes, str]] = []
    walls = {name: (colour, load(CORPUS / texture) if texture else None) for name, colour, texture in BACKDROPS}
    for wall_name, (colour, wall) in walls.items():
        for n, face in enumerate(faces):
            shot = mugshot(face, wall, colour=colour)
            label = f"mugshot-{wall_name}-{n:02d}"
            if n % 2 == 0:
                (refs_dir / f"{label}.png").write_bytes(encode(shot, "PNG"))
                references[f"{label}.png"] = shot
            else:
                lookalike_queries.append(
                    (f"mugshot on a {wall_name} backdrop, another person", encode(shot, quality=80), label)
                )
                small = ImageOps.contain(shot, (128, 128), Image.Resampling.LANCZOS)
                lookalike_queries.append(
                    (f"mugshot on a {wall_name} backdrop, another person, 128 px", encode(small, quality=80), label)
                )
    for n, subject in enumerate(burst_subjects):
        wall_name = list(walls)[n % len(walls)]
        colour, wall = walls[wall_name]
        label = f"burst-{wall_name}-{n:02d}"
        shot = mugshot(subject, wall, colour=colour)
        (refs_dir / f"{label}.png").write_bytes(encode(shot, "PNG"))
        references[f"{label}.png"] = shot
        for frame in (1, 2):
            r = random.Random(f"{label}{frame}")
            moved = mugshot(
                subject, wall, colour=colour,
                shift=(r.choice([-1, 1]) * r.randint(10, 24), r.randint(0, 10)),
                tilt=r.uniform(-3, 3), sway=r.uniform(5, 9),
            )  # fmt: skip
            lookalike_queries.append(
                (f"burst frame on a {wall_name} backdrop", encode(moved, quality=85), f"{label}/{frame}")
            )
            small = ImageOps.contain(moved, (128, 128), Image.Resampling.LANCZOS)
            lookalike_queries.append(
                (f"burst frame on a {wall_name} backdrop, 128 px", encode(small, quality=80), f"{label}/{frame}")
            )
    for ref, query, why in LOOKALIKE_PAIRS:
        if (CORPUS / ref).exists() and (CORPUS / query).exists():
            name = "lookalike-" + Path(ref).name
            (refs_dir / name).write_bytes((CORPUS / ref).read_bytes())
            references[name] = load(CORPUS / ref)
            lookalike_queries.append((why, encode(load(CORPUS / query), quality=85), Path(query).name))

    second_frames: list[tuple[str, bytes, str]] = []
    for ref, query in SECOND_FRAMES:
        if (CORPUS / ref).exists() and (CORPUS / query).exists():
            name = "second-frame-" + Path(ref).name
            (refs_dir / name).write_bytes((CORPUS / ref).read_bytes())
            references[name] = load(CORPUS / ref)
            second_frames.append((name, (CORPUS / query).read_bytes(), Path(query).name))

    add_generated(refs_dir, args.generated, args.generated_cache)  # in the index, never a query's source

    t0 = time.perf_counter()
    index = Index(work / "references.db")
    index.add([str(refs_dir)], jobs=2)
    index_seconds = time.perf_counter() - t0
    name_of_sha = {r.sha256: os.path.basename(r.path or "") for r in index.records()}
    matchers = {s: Matcher(index, MatchOptions(), keypoint_structure=s) for s in args.structures}
    baseline = Baseline(references)
    every = {**TRANSFORMS, **POSTED, **HELD_OUT}
    transforms = {k: v for k, v in every.items() if not args.only or k in args.only}
    if "collage-2x2" in transforms:  # the other cells hold distractors, as a real collage holds other photos
        transforms["collage-2x2"] = lambda im, r: encode(collage(im, r, others=r.sample(distractors, 3)))
    for name, inset in NEEDS_BACKGROUND.items():  # a copy inset on another photo: a distractor
        if name in transforms:
            transforms[name] = lambda im, r, inset=inset: encode(inset(im, r, r.choice(distractors)))

    all_outcomes: dict[str, list[dict]] = {s: [] for s in matchers}
    all_timings: dict[str, list[float]] = {s: [] for s in matchers}
    queries = 0

    def run(kind: str, transform: str, expected: str | None, data: bytes, label: str) -> None:
        nonlocal queries
        path = queries_dir / f"{queries:05d}.{_ext(data)}"
        queries += 1
        path.write_bytes(data)
        base = baseline.claim(data)
        for structure, matcher in matchers.items():
            started = time.perf_counter()
            result = matcher.match_query(Query(path=str(path)))
            all_timings[structure].append(time.perf_counter() - started)
            best = result.matches[0] if result.matches else None
            claimed = name_of_sha.get(best.reference["sha256"]) if best else None
            all_outcomes[structure].append({
                "kind": kind, "transform": transform, "label": label, "expected": expected,
                "verdict": result.verdict, "claimed": claimed,
                "found_by": result.matches[0].found_by if result.matches else None, "baseline": base,
                "seconds": all_timings[structure][-1], "confirmation": best.confirmation if best else None,
                "rejected": result.rejected,
            })  # fmt: skip

    byte_transforms = {k: v for k, v in BYTE_TRANSFORMS.items() if not args.only or k in args.only}
    for name in sorted(n for n in references if n[:3].isdigit()):
        im = references[name]
        for transform, fn in transforms.items():
            run("positive", transform, name, fn(im, random.Random(f"{args.seed}{name}{transform}")), name)
        for transform, byte_fn in byte_transforms.items():
            run("positive", transform, name, byte_fn((refs_dir / name).read_bytes()), name)
    for n, im in enumerate(distractors):
        for transform in NEGATIVE_TRANSFORMS:
            if transform in transforms:
                run(
                    "distractor",
                    transform,
                    None,
                    transforms[transform](im, random.Random(f"d{n}{transform}")),
                    distractor_paths[n].name,
                )
    for why, data, label in lookalike_queries:
        run("look-alike", why, None, data, label)
    for name, data, label in second_frames:
        run("second frame", "HDR on/off", name, data, label)

    for structure, matcher in matchers.items():
        search = matcher._keypoints
        print(f"\n== keypoint search: {structure} ({search.describe() if search else 'not used'}) ==")
        report(all_outcomes[structure], all_timings[structure], index_seconds, len(references) + args.generated)
    if len(matchers) > 1:
        compare(all_outcomes)
    if args.json:
        Path(args.json).write_text(json.dumps(all_outcomes, indent=1))


def compare(all_outcomes: dict[str, list[dict]]) -> None:
    """Recall per transform and false matches, one column per structure, the first as the baseline."""
    names = list(all_outcomes)
    print(f"\n{'transform':<22} {'n':>3} " + " ".join(f"{s:>8}" for s in names) + "  largest gap (points)")
    first = all_outcomes[names[0]]
    transforms = sorted({o["transform"] for o in first if o["kind"] == "positive"})
    worst = 0.0
    for transform in transforms:
        rates = []
        for s in names:
            rows = [o for o in all_outcomes[s] if o["kind"] == "positive" and o["transform"] == transform]
            rates.append(100 * sum(o["claimed"] == o["expected"] for o in rows) / len(rows))
        gap = max(rates[0] - r for r in rates)
        worst = max(worst, gap)
        n = sum(o["kind"] == "positive" and o["transform"] == transform for o in first)
        print(f"{transform:<22} {n:>3} " + " ".join(f"{r:>7.1f}%" for r in rates) + f"  {gap:+.1f}")
    for kind in ("distractor", "look-alike"):
        claims = [sum(o["claimed"] is not None for o in all_outcomes[s] if o["kind"] == kind) for s in names]
        print(f"false matches on {kind}s: " + ", ".join(f"{s} {c}" for s, c in zip(names, claims)))
    print(f"largest recall loss against {names[0]}, over the transforms: {worst:.1f} points")


def _ext(data: bytes) -> str:
    if data[:4] == b"RIFF":
        return "webp"
    if data[:4] == b"\x89PNG":
        return "png"
    return "jpg"


def families(by_transform: dict[str, list[dict]]) -> None:
    """Recall per family (the issue's goals), the held-out transforms apart from those tuned on."""
    print(f"\n{'family':<26} {'tuned on':>16} {'held out':>16} {'imagehash':>10}")
    groups: dict[str, dict[str, list[dict]]] = defaultdict(lambda: {"tuned": [], "held": []})
    for transform, rows in by_transform.items():
        groups[FAMILIES.get(transform, "other")]["held" if transform in HELD_OUT else "tuned"].extend(rows)

    def rate(rows: list[dict], key: str = "claimed") -> str:
        if not rows:
            return "-"
        hit = sum(o[key] == o["expected"] for o in rows)
        return f"{hit}/{len(rows)} {hit / len(rows):.3f}"

    for family, parts in groups.items():
        both = parts["tuned"] + parts["held"]
        print(f"{family:<26} {rate(parts['tuned']):>16} {rate(parts['held']):>16} {rate(both, 'baseline'):>16}")
    print()


def report(outcomes: list[dict], timings: list[float], index_seconds: float, references: int) -> None:
    by_transform: dict[str, list[dict]] = defaultdict(list)
    for o in outcomes:
        if o["kind"] == "positive":
            by_transform[o["transform"]].append(o)
    print(f"references: {references}, indexed in {index_seconds:.1f} s; queries: {len(outcomes)}")
    print(f"{'transform':<22} {'n':>3} {'provenance':>11} {'imagehash':>10} {'wrong ref':>10}")
    totals = [0, 0, 0, 0]
    for transform, rows in by_transform.items():
        ours = sum(o["claimed"] == o["expected"] for o in rows)
        base = sum(o["baseline"] == o["expected"] for o in rows)
        wrong = sum(o["claimed"] not in (None, o["expected"]) for o in rows)
        totals = [totals[0] + len(rows), totals[1] + ours, totals[2] + base, totals[3] + wrong]
        print(f"{transform:<22} {len(rows):>3} {ours / len(rows):>11.0%} {base / len(rows):>10.0%} {wrong:>10}")
    if totals[0]:
        print(
            f"{'all transforms':<22} {totals[0]:>3} {totals[1] / totals[0]:>11.0%} {totals[2] / totals[0]:>10.0%} "
            f"{totals[3]:>10}"
        )
    families(by_transform)
    for kind in ("distractor", "look-alike"):
        rows = [o for o in outcomes if o["kind"] == kind]
        if rows:
            ours = sum(o["claimed"] is not None for o in rows)
            base = sum(o["baseline"] is not None for o in rows)
            print(f"false matches, {kind + 's':<12} {len(rows):>3} {ours / len(rows):>11.0%} {base / len(rows):>10.0%}")
            for o in rows:
                if o["claimed"] is not None:
                    print(f"    provenance claimed {o['label']} ({o['transform']}) is {o['claimed']}")
    for o in outcomes:
        if o["kind"] == "second frame":
            print(
                f"second frame (corpus groups it as a near-duplicate; not scored): {o['label']} -> "
                f"{o['claimed'] or 'no-match'}"
            )
    old_set = [o["seconds"] for o in outcomes if o["kind"] != "positive" or o["transform"] in TRANSFORMS]
    if old_set:
        print(
            "seconds per query on the first wave's queries (transforms.py and negatives): "
            f"median {statistics.median(old_set):.3f}"
        )
    print(
        f"seconds per query: median {statistics.median(timings):.3f}, "
        f"p95 {sorted(timings)[int(0.95 * (len(timings) - 1))]:.3f}"
    )
    # the hard cases: queries no hash candidate confirmed, so the keypoint search ran (and, for those
    # that claim nothing, its search of the query's parts too)
    hard = {
        "found by the keypoint search": [o["seconds"] for o in outcomes if o["found_by"] == "keypoints"],
        "claiming nothing (every search run)": [o["seconds"] for o in outcomes if o["claimed"] is None],
    }
    for label, seconds in hard.items():
        if seconds:
            print(
                f"seconds per hard-case query {label}: n {len(seconds)}, median {statistics.median(seconds):.3f}, "
                f"p95 {sorted(seconds)[int(0.95 * (len(seconds) - 1))]:.3f}"
            )
    found = defaultdict(int)
    for o in outcomes:
        if o["kind"] == "positive" and o["claimed"] == o["expected"]:
            found[o["found_by"]] += 1
    print("positives found by: " + ", ".join(f"{k} {v}" for k, v in sorted(found.items())))


if __name__ == "__main__":
    main()
