"""How often each forensics finding fires on camera originals, and on copies re-saved by software.

    python benchmarks/forensics.py [--corpus ../shared/corpus] [--limit N]

Camera originals are the corpus's JPEGs whose metadata names a camera (Make and Model) and no
editing program (neither Software nor xmp:CreatorTool matches ``forensics.EDITORS``, no XMP edit
history), and that decode. Every finding on them is a false alarm of its rule, whatever its cause.
The copies are those originals decoded and saved again by Pillow (libjpeg-turbo) at qualities 95,
85 and 75 with their EXIF block kept, and resized to half with it kept: what a newsroom's CMS does.
Prints, per finding, how many files it fired on in each set. Many corpus files whose metadata names
no editor were still resized before publication (the exif.org samples: a 2272x1704 camera's EXIF on
a 480x360 file), so the originals are also counted apart at full size (frames of 2 MP or more),
those whose own EXIF dimensions match their frame (not resized, by their own account), and those
with no trace of processing outside the rules measured (``untouched``).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections import Counter
from pathlib import Path

from PIL import Image

from provenance import fingerprint
from provenance.forensics import EDIT_ACTIONS, names_editor

ROOT = Path(__file__).resolve().parents[1]


def is_original(record: dict) -> bool:
    meta = record["metadata"]
    if not (meta.get("make") and meta.get("model")) or record["error"] or record["format"] != "JPEG":
        return False
    if any(names_editor(meta.get(k)) for k in ("software", "xmp_creator_tool")):
        return False
    return not any(str(e.get("action", "")).lower() in EDIT_ACTIONS for e in meta.get("xmp_history") or [])


def has_exif_dimensions(path: Path) -> bool:
    """Whether the file's EXIF records its pixel dimensions (PixelXDimension and PixelYDimension)."""
    with Image.open(path) as im:
        ifd = im.getexif().get_ifd(0x8769)
    return 0xA002 in ifd and 0xA003 in ifd


def untouched(record: dict) -> bool:
    """An original with no trace of processing that the rules measured here do not themselves use: its
    EXIF dimensions, where recorded, are its frame's (dimensions-changed did not fire), it carries no
    Photoshop resource block (Photoshop writes it, no camera does), and its frame is at least 640x480
    (no camera of the corpus's records less: the 10x10 and 100x64 "originals" were shrunk)."""
    jpeg = record["forensics"]["jpeg"] or {}
    if "dimensions-changed" in codes(record) or any(s["kind"] == "Photoshop IRB" for s in jpeg.get("segments", [])):
        return False
    width, height = record["width"] or 0, record["height"] or 0
    return max(width, height) >= 640 and min(width, height) >= 480


def resaved(path: Path) -> dict[str, bytes]:
    """The copies a CMS makes: re-encoded at three qualities, and resized to half, EXIF kept."""
    with Image.open(path) as im:
        exif = im.info.get("exif", b"")
        im.load()
        copies = {}
        for quality in (95, 85, 75):
            out = io.BytesIO()
            im.save(out, "JPEG", quality=quality, exif=exif)
            copies[f"pillow-q{quality}"] = out.getvalue()
        half = im.resize((max(1, im.width // 2), max(1, im.height // 2)))
        out = io.BytesIO()
        half.save(out, "JPEG", quality=85, exif=exif)
        copies["pillow-resize-50"] = out.getvalue()
    for name, command in EXTERNAL.items():
        made = _external(command, path)
        if made is not None:
            copies[name] = made
    return copies


def gimp_export(quality: int, progressive: bool = False) -> list[str]:
    """GIMP's batch mode exporting a JPEG as its export dialog does (optimised Huffman tables, 4:2:0,
    EXIF and XMP kept), at ``quality``."""
    script = (
        '(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE "{src}" "{src}")))'
        " (drawable (car (gimp-image-get-active-drawable image))))"
        f' (file-jpeg-save RUN-NONINTERACTIVE image drawable "{{dst}}" "{{dst}}" {quality / 100} 0 1'
        f' {int(progressive)} "" 0 1 0 0) (gimp-image-delete image))'
    )
    return ["gimp", "-i", "-d", "-f", "-b", script, "-b", "(gimp-quit 0)"]


#: other encoders, when installed (Debian's imagemagick, graphicsmagick, libvips-tools and gimp): each keeps
#: the metadata by default
EXTERNAL = {
    "imagemagick-q85": ["/usr/bin/convert", "{src}", "-quality", "85", "{dst}"],
    "graphicsmagick-q85": ["gm", "convert", "{src}", "-quality", "85", "{dst}"],
    "vips-q85": ["vips", "copy", "{src}", "{dst}[Q=85]"],
    "vips-default": ["vips", "copy", "{src}", "{dst}"],
    "vips-resize-50": ["vips", "resize", "{src}", "{dst}", "0.5"],
    "gimp-q90": gimp_export(90),
}

#: the program each kind of copy was made by, as the signature table names it
PROGRAM = {
    "pillow": "Pillow",
    "imagemagick": "ImageMagick",
    "graphicsmagick": "GraphicsMagick",
    "vips": "libvips",
    "gimp": "GIMP",
}


def _external(command: list[str], path: Path) -> bytes | None:
    import shutil
    import subprocess
    import tempfile

    if shutil.which(command[0]) is None:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        dst = Path(scratch) / "out.jpg"
        argv = [part.format(src=path, dst=dst) for part in command]
        done = subprocess.run(argv, capture_output=True, timeout=120)
        return dst.read_bytes() if done.returncode == 0 and dst.exists() else None


def packed_exif(record: dict) -> bool:
    """Whether the file's EXIF block is packed (exif_layout.py)."""
    return bool(((record["forensics"]["jpeg"] or {}).get("exif_layout") or {}).get("packed"))


def codes(record: dict) -> set[str]:
    return {f["code"] for f in (record.get("forensics") or {}).get("findings", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--limit", type=int, default=0, help="at most this many originals")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"skipped: {args.corpus} is not here")
    paths = sorted(p for p in args.corpus.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    originals, fired, examples = [], Counter(), {}
    full_size, fired_full = 0, Counter()
    unresized, fired_unresized = 0, Counter()
    untouched_count, fired_untouched = 0, Counter()
    packed = 0
    started = time.perf_counter()
    for path in paths:
        record = fingerprint(path).to_dict()
        if not is_original(record):
            continue
        originals.append(path)
        full = (record["width"] or 0) * (record["height"] or 0) >= 2_000_000
        full_size += full
        same = "dimensions-changed" not in codes(record) and has_exif_dimensions(path)
        unresized += same
        clean = untouched(record)
        untouched_count += clean
        packed += packed_exif(record)
        for code in codes(record):
            fired[code] += 1
            fired_full[code] += full
            fired_unresized[code] += same
            fired_untouched[code] += clean
            message = next(f["message"] for f in record["forensics"]["findings"] if f["code"] == code)
            examples.setdefault(code, f"{path.relative_to(args.corpus)}: {message}")
        if args.limit and len(originals) >= args.limit:
            break
    seconds = time.perf_counter() - started
    print(
        f"{len(originals)} camera originals of {len(paths)} corpus JPEGs, "
        f"{full_size} of them full size ({seconds:.1f} s)"
    )
    copies_fired: Counter[tuple[str, str]] = Counter()
    copies = Counter()
    naming: Counter[tuple[str, str]] = Counter()
    for path in originals:
        for kind, data in resaved(path).items():
            copies[kind] += 1
            copy = fingerprint(data, name=path.name).to_dict()
            for code in codes(copy):
                copies_fired[kind, code] += 1
            program = PROGRAM[kind.split("-")[0]]
            candidates = {c["name"].split(" (")[0] for c in (copy["forensics"]["encoder"] or {}).get("candidates", [])}
            naming[kind, "named"] += bool(candidates)
            naming[kind, "right"] += program in candidates
            naming[kind, "only"] += candidates == {program}
            naming[kind, "packed"] += packed_exif(copy)
    all_codes = sorted(set(fired) | {c for _, c in copies_fired})
    kinds = sorted(copies)
    print(f"{unresized} originals record EXIF dimensions equal to their frame")
    print(f"{untouched_count} originals show no trace of processing outside the rules measured (untouched)")
    print(
        f"{'finding':<24} {'originals':>14} {'full-size':>14} {'unresized':>14} {'untouched':>14} "
        + " ".join(f"{k:>18}" for k in kinds)
    )
    for code in all_codes:
        cells = [
            f"{fired[code]:>4} ({fired[code] / max(1, len(originals)):5.1%})",
            f"{fired_full[code]:>4} ({fired_full[code] / max(1, full_size):5.1%})",
            f"{fired_unresized[code]:>4} ({fired_unresized[code] / max(1, unresized):5.1%})",
            f"{fired_untouched[code]:>4} ({fired_untouched[code] / max(1, untouched_count):5.1%})",
        ]
        cells += [f"{copies_fired[k, code]:>8} ({copies_fired[k, code] / max(1, copies[k]):5.1%})" for k in kinds]
        print(f"{code:<24} " + " ".join(f"{c:>14}" for c in cells[:4]) + " " + " ".join(f"{c:>18}" for c in cells[4:]))
    for code, example in sorted(examples.items()):
        print(f"  e.g. {code}: {example}")
    print(f"EXIF blocks packed as libexif and Exiv2 write them: {packed} of {len(originals)} originals")
    print(f"{'copies':<24} " + " ".join(f"{k:>18}" for k in kinds))
    rows = (
        ("packed", "EXIF block packed"),
        ("named", "encoder: any signature"),
        ("right", "the right program"),
        ("only", "it alone"),
    )
    for what, label in rows:
        cells = [f"{naming[k, what]:>8} ({naming[k, what] / max(1, copies[k]):5.1%})" for k in kinds]
        print(f"{label:<24} " + " ".join(f"{c:>18}" for c in cells))
    leave_one_out(originals, args.corpus)
    edited(paths)
    cost([p for p in originals if p.stat().st_size > 500_000] or originals)


def leave_one_out(originals: list[Path], corpus: Path) -> None:
    """The signature cue of resaved-by-software on each original and on its libvips copy, with the
    original's own camera signatures taken out of the table (as if its camera had been learnt from
    other files), and with the whole table."""
    from provenance.forensics import resave_by_signature
    from provenance.signatures import table

    full = table()
    fired = {"original": 0, "original, whole table": 0, "vips copy": 0, "vips copy, whole table": 0}
    known = 0
    for path in originals:
        source = f"corpus: {path.relative_to(corpus)}"
        rest = [e for e in full if source not in e["source"]]
        record = fingerprint(path).to_dict()
        jpeg, meta = record["forensics"]["jpeg"], record["metadata"]
        fired["original"] += bool(resave_by_signature(jpeg, meta, rest))
        fired["original, whole table"] += bool(resave_by_signature(jpeg, meta, full))
        copy = _external(EXTERNAL["vips-default"], path)
        if copy is None:
            continue
        copied = fingerprint(copy, name=path.name).to_dict()
        fired["vips copy"] += bool(resave_by_signature(copied["forensics"]["jpeg"], copied["metadata"], rest))
        fired["vips copy, whole table"] += bool(
            resave_by_signature(copied["forensics"]["jpeg"], copied["metadata"], full)
        )
        known += any(e.get("camera") and source in e["source"] for e in full)
    print(
        f"the signature cue of resaved-by-software ({known} of {len(originals)} originals "
        "gave their camera a signature):"
    )
    for label, n in fired.items():
        print(f"  {label:<24} {n:>4} of {len(originals)} ({n / max(1, len(originals)):5.1%})")


def edited(paths: list[Path]) -> None:
    """Files whose metadata says an editor touched them: how many a finding flags."""
    touched = flagged = 0
    for path in paths:
        record = fingerprint(path).to_dict()
        meta = record["metadata"]
        if record["error"] or record["format"] != "JPEG":
            continue
        history = [e for e in meta.get("xmp_history") or [] if str(e.get("action", "")).lower() in EDIT_ACTIONS]
        if not (names_editor(meta.get("software")) or names_editor(meta.get("xmp_creator_tool")) or history):
            continue
        touched += 1
        flagged += bool(codes(record) & {"software-tag", "resaved-by-software"})
    print(
        f"files whose metadata names an editor or an edit: {touched}; "
        f"flagged: {flagged} ({flagged / max(1, touched):.1%})"
    )


def cost(paths: list[Path], rounds: int = 5) -> None:
    """Median fingerprint time of these files with the forensics block and without it (the block's
    function replaced by one returning None), alternating, in this process."""
    import statistics

    from provenance import extraction

    made = extraction._forensics
    times: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(rounds):
        for label, function in (("with", made), ("without", lambda *a: None)):
            extraction._forensics = function
            for path in paths:
                data = path.read_bytes()
                started = time.perf_counter()
                fingerprint(data, name=path.name)
                times[label].append(time.perf_counter() - started)
    extraction._forensics = made
    w, wo = statistics.median(times["with"]), statistics.median(times["without"])
    print(f"cost on {len(paths)} camera JPEGs over 500 KB: median {wo * 1000:.1f} ms without the block, "
          f"{w * 1000:.1f} ms with it ({w / wo - 1:+.1%})")  # fmt: skip


if __name__ == "__main__":
    main()
