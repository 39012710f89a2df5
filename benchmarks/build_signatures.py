"""Build provenance/data/encoder_signatures.json from evidence: what each camera and program here writes.

    python benchmarks/build_signatures.py [--corpus ../shared/corpus] [--check]

Cameras: the corpus's camera originals (metadata names a make and model and no editor, see
forensics.py's ``is_original``) that are full size (2 MP or more) and not resized by their own
EXIF's account: one signature per model and table set, naming the file it came from. Smaller
camera files are left out: most of the corpus's are samples published downsized by software, and
the ExifTool test images all carry one program's tables whatever camera their metadata names.

Programs: each encoder installed here (Pillow, ImageMagick, GraphicsMagick, libvips, GIMP, cjpeg) run
at its default and at qualities 75, 85, 90 and 95 on a few camera originals of each chroma
subsampling, EXIF kept where the program keeps it. One signature per program, setting, table set
and layout, with the command that made it and the program's version.

``--check`` rebuilds and says whether the bundled table is what this machine builds (it differs
when other program versions are installed).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from PIL import Image, features

from provenance import fingerprint
from provenance.signatures import camera_key, layout

sys.path.insert(0, str(Path(__file__).resolve().parent))
from forensics import gimp_export, is_original

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "provenance" / "data" / "encoder_signatures.json"
QUALITIES = (75, 85, 90, 95)


def _run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return (done.stdout + done.stderr).strip().splitlines()[0] if done.stdout or done.stderr else ""


def programs() -> dict[str, tuple[str, list[tuple[str, list[str] | None]]]]:
    """program → (its version, [(setting, argv with {src} and {dst}; None for Pillow)])."""
    out: dict[str, tuple[str, list[tuple[str, list[str] | None]]]] = {}
    turbo = features.version("libjpeg_turbo") or "?"
    out["Pillow"] = (
        f"Pillow {version('pillow')} (libjpeg-turbo {turbo})",
        [("default", None)] + [(f"quality {q}", None) for q in QUALITIES],
    )
    if shutil.which("convert") and Path("/usr/bin/convert").exists():
        out["ImageMagick"] = (
            _run(["/usr/bin/convert", "-version"]).replace("Version: ", ""),
            [("default", ["/usr/bin/convert", "{src}", "{dst}"])]
            + [(f"quality {q}", ["/usr/bin/convert", "{src}", "-quality", str(q), "{dst}"]) for q in QUALITIES],
        )
    if shutil.which("gm"):
        out["GraphicsMagick"] = (
            _run(["gm", "version"]),
            [("default", ["gm", "convert", "{src}", "{dst}"])]
            + [(f"quality {q}", ["gm", "convert", "{src}", "-quality", str(q), "{dst}"]) for q in QUALITIES],
        )
    if shutil.which("vips"):
        out["libvips"] = (
            _run(["vips", "--version"]),
            [("default", ["vips", "copy", "{src}", "{dst}"])]
            + [(f"quality {q}", ["vips", "copy", "{src}", "{dst}[Q=" + str(q) + "]"]) for q in QUALITIES],
        )
    if shutil.which("gimp"):
        out["GIMP"] = (
            _run(["gimp", "--version"]),
            [(f"quality {q}", gimp_export(q)) for q in QUALITIES]
            + [("quality 90, progressive", gimp_export(90, progressive=True))],
        )
    if shutil.which("cjpeg") and shutil.which("djpeg"):
        out["cjpeg"] = (
            "cjpeg " + _run(["cjpeg", "-version"]),
            [("default", ["sh", "-c", 'djpeg "$0" | cjpeg > "$1"', "{src}", "{dst}"])]
            + [
                (f"quality {q}", ["sh", "-c", f'djpeg "$0" | cjpeg -quality {q} > "$1"', "{src}", "{dst}"])
                for q in QUALITIES
            ],
        )
    return out


def encode(argv: list[str] | None, setting: str, src: Path) -> bytes | None:
    if argv is None:  # Pillow, as a CMS calls it: EXIF kept, everything else default
        with Image.open(src) as im:
            exif = im.info.get("exif", b"")
            out = io.BytesIO()
            kwargs = {} if setting == "default" else {"quality": int(setting.split()[-1])}
            im.save(out, "JPEG", exif=exif, **kwargs)
            return out.getvalue()
    with tempfile.TemporaryDirectory() as scratch:
        dst = Path(scratch) / "out.jpg"
        done = subprocess.run([a.format(src=src, dst=dst) for a in argv], capture_output=True, timeout=120)
        return dst.read_bytes() if done.returncode == 0 and dst.exists() else None


def camera_signatures(corpus: Path) -> tuple[list[dict], list[dict]]:
    """(signatures of full-size camera originals, the originals' records) from the corpus."""
    entries: dict[tuple, dict] = {}
    originals = []
    for path in sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")):
        record = fingerprint(path).to_dict()
        if not is_original(record) or not record["forensics"]["jpeg"]:
            continue
        originals.append((path, record))
        codes = {f["code"] for f in record["forensics"]["findings"]}
        if (record["width"] or 0) * (record["height"] or 0) < 2_000_000 or "dimensions-changed" in codes:
            continue
        if "resaved-by-software" in codes:
            continue  # its own structure says software wrote it: not a camera's signature
        meta = record["metadata"]
        jpeg = record["forensics"]["jpeg"]
        key = camera_key(meta["make"], meta["model"])
        sig = (key, jpeg["quantization_sha256"], tuple(sorted(layout(jpeg).items())))
        entry = entries.setdefault(
            sig,
            {
                "name": f"{' '.join(meta['make'].split())} {' '.join(meta['model'].split())} (camera)",
                "kind": "camera",
                "camera": key,
                "quantization_sha256": jpeg["quantization_sha256"],
                "layout": layout(jpeg),
                "source": [],
            },
        )
        entry["source"].append(f"corpus: {path.relative_to(corpus)}")
    return list(entries.values()), originals


def program_signatures(inputs: list[Path]) -> list[dict]:
    entries: dict[tuple, dict] = {}
    for program, (program_version, settings) in programs().items():
        for setting, argv in settings:
            for src in inputs:
                data = encode(argv, setting, src)
                if data is None:
                    continue
                jpeg = fingerprint(data, name="copy.jpg").to_dict()["forensics"]["jpeg"]
                if not jpeg:
                    continue
                seen = layout(jpeg)
                # a program that keeps the source's subsampling (ImageMagick) gets one entry per sampling
                sig = (program, setting, jpeg["quantization_sha256"], tuple(sorted(seen.items())))
                if sig in entries:
                    continue
                command = (
                    "Image.save(exif=…" + ("" if setting == "default" else f", quality={setting.split()[-1]}") + ")"
                )
                if argv is not None:
                    command = " ".join(a for a in argv if a not in ("{src}", "{dst}"))
                entries[sig] = {
                    "name": f"{program} ({setting})",
                    "kind": "software",
                    "program": program,
                    "quantization_sha256": jpeg["quantization_sha256"],
                    "layout": seen,
                    "source": [f"made here by {program_version}: {command}"],
                }
    return list(entries.values())


def build(corpus: Path) -> dict:
    cameras, originals = camera_signatures(corpus)
    # inputs for the programs: the first original of each subsampling, full size preferred
    by_sampling: dict[str, list[Path]] = {}
    for path, record in sorted(originals, key=lambda o: -(o[1]["width"] * o[1]["height"])):
        chosen = by_sampling.setdefault(record["forensics"]["jpeg"]["subsampling"], [])
        if len(chosen) < 3:
            chosen.append(path)
    software = program_signatures(sorted(p for paths in by_sampling.values() for p in paths))
    return {
        "about": "encoder signatures built by benchmarks/build_signatures.py from the evidence each names "
        "(docs/forensics.md); quantization_sha256 is JpegStructure.quantization_sha256",
        "signatures": sorted(cameras, key=lambda e: e["name"]) + sorted(software, key=lambda e: e["name"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--check", action="store_true", help="compare with the bundled table, write nothing")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"skipped: {args.corpus} is not here")
    table = build(args.corpus)
    text = json.dumps(table, indent=1, sort_keys=True) + "\n"
    cameras = sum(1 for e in table["signatures"] if e["kind"] == "camera")
    print(f"{cameras} camera signatures, {len(table['signatures']) - cameras} program signatures")
    if args.check:
        same = TARGET.exists() and TARGET.read_text() == text
        print("the bundled table is what this machine builds" if same else "the bundled table differs")
        return
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
