"""How often our hashes equal imagehash's (computed on the fully decoded, EXIF-oriented image).

    python benchmarks/hash_compat.py [--corpus ../shared/corpus] [--camera 60]

Two sets: every image in the corpus that imagehash can hash (mostly small test images), and
camera-size JPEGs (4-16 MP, quality 75-95, mixed chroma subsampling) cut at random from the
corpus's large HEIC photos, written to a temporary folder, because the corpus has few large
JPEGs and reduced-size decoding only matters on large ones. Prints, per hash, the share of
bit-identical values and the distribution of Hamming distances, for the default and for
--exact-hashes; and PDQ's distance to pdqhash run on the full-resolution pixels.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import warnings
from pathlib import Path

import imagehash
from PIL import Image, ImageOps

from provenance import FingerprintOptions, fingerprint_many
from provenance.decode import register_formats
from provenance.hashes import distance, pdq_available

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = {
    "phash": imagehash.phash,
    "dhash": imagehash.dhash,
    "ahash": imagehash.average_hash,
    "whash": imagehash.whash,
    "colorhash": imagehash.colorhash,
}
SOURCES = [
    "heif/heif_special/200MP.heic",
    "heif/heif_other/cat.hif",
    "heif/heif_other/pug.heic",
    "heif/heif_other/arrow.heic",
    "exif-samples/heic/mobile/HMD_Nokia_8.3_5G.heif",
    "exif-samples/heic/mobile/iphone_13_pro_max.heic",
    "heif/heif_special/xiaomi.heic",
]


def camera_jpegs(corpus: Path, count: int, folder: Path, low: float = 4e6, high: float = 16e6) -> list[Path]:
    """``count`` JPEGs of ``low`` to ``high`` pixels cut at random from the corpus's large HEIC photos."""
    register_formats()
    random.seed(7)
    Image.MAX_IMAGE_PIXELS = None
    photos = [Image.open(corpus / s).convert("RGB") for s in SOURCES if (corpus / s).exists()]
    paths = []
    for n in range(count):
        photo = random.choice(photos)
        megapixels = random.uniform(low, min(high, photo.width * photo.height))
        aspect = random.choice([4 / 3, 3 / 2, 16 / 9, 3 / 4])
        width = min(photo.width, int((megapixels * aspect) ** 0.5))
        height = min(photo.height, int(megapixels / width))
        x, y = random.randint(0, photo.width - width), random.randint(0, photo.height - height)
        path = folder / f"camera-{n:03d}.jpg"
        photo.crop((x, y, x + width, y + height)).save(
            path, quality=random.choice([75, 85, 92, 95]), subsampling=random.choice([0, 1, 2])
        )
        paths.append(path)
    return paths


def reference(path: Path) -> dict[str, str] | None:
    try:
        with Image.open(path) as image:
            if image.width * image.height > 89_000_000:
                return None
            oriented = ImageOps.exif_transpose(image)
            oriented.load()
            out = {name: str(function(oriented)) for name, function in REFERENCES.items()}
            if pdq_available():
                from provenance.hashes import get

                out["pdq"] = get("pdq").hash_image(oriented)["pdq"]
            return out
    except Exception:
        return None


def report(title: str, paths: list[Path]) -> None:
    expected = {p: reference(p) for p in paths}
    paths = [p for p in paths if expected[p]]
    print(f"\n{title}: {len(paths)} images")
    for label, options in (
        ("default", FingerprintOptions()),
        ("--exact-hashes", FingerprintOptions(exact_hashes=True)),
    ):
        gaps: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for record in fingerprint_many([str(p) for p in paths], jobs=2, options=options):
            for name, theirs in expected[Path(record.path)].items():
                ours = record.hashes.get(name)
                if ours:
                    gaps[name][distance(ours, theirs)] += 1
        for name, counter in gaps.items():
            total = sum(counter.values())
            spread = ", ".join(f"{d} bits: {n}" for d, n in sorted(counter.items()) if d)
            print(f"  {label:<15} {name:<10} identical {counter[0] / total:7.1%}   {spread or '-'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--camera", type=int, default=60, help="how many camera-size JPEGs to cut")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found at {args.corpus}: pass --corpus")
    warnings.simplefilter("ignore")
    register_formats()
    every = sorted(p for p in args.corpus.rglob("*") if p.is_file() and not p.name.startswith("_"))
    report("corpus images imagehash can hash", every)
    large = [p for p in every if p.suffix.lower() in (".jpg", ".jpeg") and _megapixels(p) >= 2]
    report("the corpus's own JPEGs of 2 MP and more", large)
    with tempfile.TemporaryDirectory() as folder:
        report(
            "camera-size JPEGs cut from the corpus's large photos", camera_jpegs(args.corpus, args.camera, Path(folder))
        )


def _megapixels(path: Path) -> float:
    try:
        with Image.open(path) as image:
            return image.width * image.height / 1e6
    except Exception:
        return 0.0


if __name__ == "__main__":
    main()
