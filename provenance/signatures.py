"""Encoder signatures: which cameras and programs write a JPEG's quantisation tables and marker layout.

A signature is what one encoder was seen to write: the digest of its quantisation tables
(``JpegStructure.quantization_sha256``) and the layout of its markers (which application segment
comes first, how many DQT and DHT segments carry the tables, standard or optimised Huffman tables,
chroma subsampling, frame type). The table ``data/encoder_signatures.json`` is built from evidence
by ``benchmarks/build_signatures.py``: full-size camera originals of ``../shared/corpus`` grouped by
make and model, and the encoders installed where it ran (Pillow, ImageMagick, GraphicsMagick,
libvips, cjpeg) at their usual settings; every entry says where it came from. No third-party
signature database is copied. docs/forensics.md says how to add one.

A match names candidates, not a culprit: programs built on one library at one setting write the
same bytes (Pillow and cjpeg are both libjpeg-turbo), and a camera model whose originals were
never read here is simply not in the table.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

#: the layout fields a signature may fix; an entry without a field matches any value of it
LAYOUT_FIELDS = ("first_app", "dqt_segments", "dht_segments", "huffman", "subsampling", "frame")


def layout(jpeg: dict[str, Any]) -> dict[str, Any]:
    """The marker layout of a JPEG structure (``forensics.jpeg``): what an encoder decides, not the content."""
    kinds = [s.get("kind") for s in jpeg.get("segments") or []]
    first_sos = kinds.index("SOS") if "SOS" in kinds else len(kinds)
    head = kinds[:first_sos]
    apps = [k for k in head if k in ("JFIF", "EXIF")]
    return {
        "first_app": apps[0] if apps else "none",
        "dqt_segments": head.count("DQT"),
        "dht_segments": head.count("DHT"),
        "huffman": jpeg.get("huffman"),
        "subsampling": jpeg.get("subsampling"),
        "frame": jpeg.get("frame"),
    }


@lru_cache(maxsize=1)
def table() -> list[dict[str, Any]]:
    """Every signature of the bundled table (``[]`` when it is missing: nothing is named)."""
    try:
        text = resources.files(__package__).joinpath("data").joinpath("encoder_signatures.json").read_text()
    except (FileNotFoundError, OSError):
        return []
    data = json.loads(text)
    return list(data.get("signatures") or [])


def _layout_agrees(entry: dict[str, Any], seen: dict[str, Any]) -> bool:
    fixed = entry.get("layout") or {}
    return all(fixed[k] == seen.get(k) for k in LAYOUT_FIELDS if k in fixed)


def candidates(jpeg: dict[str, Any], signatures: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The signatures whose tables and layout this structure has."""
    digest = jpeg.get("quantization_sha256")
    if not digest:
        return []
    seen = layout(jpeg)
    return [
        e for e in (table() if signatures is None else signatures)
        if e.get("quantization_sha256") == digest and _layout_agrees(e, seen)
    ]  # fmt: skip


def camera_tables(make: object, model: object, signatures: list[dict[str, Any]] | None = None) -> set[str] | None:
    """The table digests seen on this camera model's originals; None when the model is not in the table."""
    if not isinstance(make, str) or not isinstance(model, str):
        return None
    key = camera_key(make, model)
    found = {
        e["quantization_sha256"] for e in (table() if signatures is None else signatures) if e.get("camera") == key
    }
    return found or None


def camera_key(make: str, model: str) -> str:
    """How a camera is named in the table: make and model as EXIF writes them, trimmed."""
    return f"{' '.join(make.split())} / {' '.join(model.split())}"


def named(entries: list[dict[str, Any]]) -> str | None:
    """The candidates in words, settings grouped by program: "Pillow (default or quality 75) or cjpeg (…)"."""
    settings: dict[str, list[str]] = {}
    for e in entries:
        if e.get("kind") == "software" and e.get("program"):
            chosen = settings.setdefault(str(e["program"]), [])
            setting = str(e["name"]).partition(" (")[2].rstrip(")")
            if setting and setting not in chosen:
                chosen.append(setting)
        else:
            settings.setdefault(str(e["name"]), [])
    parts = [f"{name} ({' or '.join(sorted(kept))})" if kept else name for name, kept in sorted(settings.items())]
    return " or ".join(parts) if parts else None
