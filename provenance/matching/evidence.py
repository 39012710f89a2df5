"""Evidence: the sentences a reader checks, and the facts of a reference and of a query they rest on."""

from __future__ import annotations

import os
from typing import Any

from .. import hashes as hash_kinds
from ..captions import Query
from ..features import FEATURES
from ..fingerprint import Fingerprint
from ..forensics import authenticity
from . import geometry
from .geometry import Confirmation, Transform
from .records import QUERY_FACTS

#: the metadata fields compared between a query and its reference, in report order
COMPARED_FIELDS = (
    "make", "model", "software", "datetime_original", "datetime_digitized", "datetime_modified",
    "gps_latitude", "gps_longitude", "gps_altitude", "gps_datetime", "lens_model", "body_serial_number",
    "artist", "copyright", "image_description", "user_comment", "caption", "headline", "keywords", "byline",
    "credit", "source", "city", "country", "xmp_creator_tool", "document_id", "original_document_id",
    "icc_profile",
)  # fmt: skip

#: what a report shows of a reference: the facts it shows of a query, where the reference is, its thumbnail
_REFERENCE_KEYS = ("path", "paths", *QUERY_FACTS, "thumbnail")


def reference_summary(reference: Fingerprint, paths: list[str]) -> dict[str, Any]:
    """The facts of a reference a match reports, with every path that holds its bytes."""
    facts = {k: getattr(reference, k) for k in _REFERENCE_KEYS if k != "paths"}
    facts["paths"] = paths
    return {**{k: facts.get(k) for k in _REFERENCE_KEYS}, "authenticity": authenticity(reference.forensics)}


def quality_change(reference: Fingerprint, query: Fingerprint) -> dict[str, int | None]:
    return {"reference": reference.jpeg_quality, "query": query.jpeg_quality}


def metadata_diff(reference: dict[str, Any] | None, query: dict[str, Any] | None) -> dict[str, Any]:
    """Fields the query added, removed or changed against the reference (canonical metadata fields)."""
    reference, query = reference or {}, query or {}
    diff: dict[str, Any] = {"added": {}, "removed": {}, "changed": {}}
    for key in COMPARED_FIELDS:
        a, b = reference.get(key), query.get(key)
        if a in (None, "", []) and b in (None, "", []):
            continue
        if a in (None, "", []):
            diff["added"][key] = b
        elif b in (None, "", []):
            diff["removed"][key] = a
        elif a != b:
            diff["changed"][key] = {"reference": a, "query": b}
    return diff


def metadata_story(diff: dict[str, Any]) -> str:
    removed, added, changed = diff["removed"], diff["added"], diff["changed"]
    if not (removed or added or changed):
        return "the canonical metadata fields are the same"
    parts = []
    if removed:
        camera = [k for k in ("make", "model", "datetime_original", "gps_latitude") if k in removed]
        parts.append(
            f"{len(removed)} metadata field{'s' if len(removed) > 1 else ''} removed"
            + (f" (among them {', '.join(camera)})" if camera else "")
        )
    if changed:
        parts.append("changed: " + ", ".join(changed))
    if added:
        parts.append("added: " + ", ".join(added))
    return "; ".join(parts)


def confirmation_story(outcome: Confirmation) -> str:
    """The rule that confirmed a candidate and the figures it rested on, in words a reader can check."""
    extra = outcome.extra
    if extra.get("rule") == "thumbnail-scale":
        width, height = extra.get("compared_at") or (0, 0)
        sentence = (
            f"confirmed at the thumbnail's scale ({width}x{height} px, too small for keypoints): the reference, "
            f"reduced to that size and aligned (correlation {extra.get('ecc_correlation', 0):.2f}), agrees with "
            f"the query on {outcome.agreement:.0%} of {outcome.blocks} blocks with detail"
        )
    else:
        dense = extra.get("query_keypoints")
        among = (
            f" (found among the query's {dense} strongest keypoints, after its first {FEATURES} fitted no mapping)"
            if dense
            else ""
        )
        sentence = (
            f"{outcome.inliers} matching keypoints{among} agree on one geometric mapping; "
            f"the aligned pixels agree on {outcome.agreement:.0%} of the overlap"
        )
    if outcome.agreement < geometry.MIN_AGREEMENT:
        sentence += (
            f"; where they agree they do so to the pixel (median block correlation "
            f"{extra.get('agreeing_correlation', 0):.2f}), so the {1 - outcome.agreement:.0%} that differ are read as "
            "marks drawn over the picture (a watermark, text) that were not recognised as overlays"
        )
    overlay = extra.get("overlay_share") or 0
    if overlay:
        sentence += (
            f"; {overlay:.0%} of the overlap, where the query shows an overlay (flat colour, outlined text or a "
            "semi-transparent pattern over the reference's own detail), is left out of the comparison"
        )
    return sentence


def transform_story(t: Transform) -> list[str]:
    story = []
    if t.flip:
        story.append("mirrored left to right")
    if abs(t.rotation) >= 1:
        story.append(f"rotated {t.rotation:+.0f}°")
    if t.crop_fraction < 0.97:
        story.append(f"crop of {t.crop_fraction:.0%} of the reference's area (box {t.crop})")
    if abs(t.scale - 1) > 0.02:
        story.append(f"scaled to {t.scale:.0%} of the reference's size")
    if t.query_fraction < 0.9:
        story.append(
            f"the reference fills {t.query_fraction:.0%} of the query "
            "(borders, a caption band, a page or a collage around it)"
        )
    return story


def hash_story(distances: dict[str, int], variant: str | None) -> str | None:
    """ "pHash distance 3, PDQ distance 20 (mirrored)": the distances of the kinds evidence names."""
    registry = hash_kinds.registered()
    named = [(registry[k].label, d) for k, d in sorted(distances.items()) if k in registry and registry[k].near_search]
    if not named:
        return None
    text = ", ".join(f"{label} distance {d}" for label, d in named)
    return text + (f" ({variant})" if variant and variant != "as is" else "")


def reported_distances(query: dict[str, Any], reference: dict[str, Any]) -> dict[str, int]:
    """The distances a match found by keypoints reports: the kinds evidence names."""
    return hash_kinds.distances(query, reference, [k.name for k in hash_kinds.kinds() if k.near_search])


def query_evidence(query: Query, record: Fingerprint) -> list[str]:
    """Facts about the query itself: a declared size that is false, a file that has a problem."""
    evidence = []
    size = [record.width, record.height]
    if query.declared_size and None not in size and query.declared_size != size:
        evidence.append(
            f"the file name declares {query.declared_size[0]}x{query.declared_size[1]}, "
            f"but the image is {size[0]}x{size[1]}"
        )
    if record.error:
        evidence.append(f"the query file has a problem: {record.error['type']}: {record.error['message']}")
    return evidence


def name_story(record: Fingerprint, named: dict[str, Fingerprint]) -> str | None:
    """What the query's digest-like file name says: its own digest, or a reference's it is not."""
    claim = record.name_digest
    if not claim:
        return None
    algorithm = claim["algorithm"].upper()
    if claim["matches"]:
        return f"the file name is the file's own {algorithm}"
    if named:
        paths = ", ".join(sorted(r.path or "" for r in named.values()))
        return (
            f"NAME MISMATCH: the file name is the {algorithm} of reference {paths}, "
            "but this file's bytes are not that reference's"
        )
    return f"NAME MISMATCH: the file name looks like an {algorithm} but is not this file's, and no reference has it"


def name_stem(record: Fingerprint) -> str:
    """The stem ``name_digest`` read: the file name up to its first dot, lowercase."""
    return os.path.basename(record.path or "").split(".", 1)[0].lower()
