"""Deduplication of a set: exact copies, metadata-only variants and near-duplicate clusters, each with
its likely original.

How it decides (docs/dedup.md):

1. **exact**: same ``sha256``.
2. **metadata-only**: same ``image_data_sha256`` (the pixels' encoding is identical; metadata
   was stripped or edited).
3. **near-duplicate**: two pictures are linked when pHash is within ``phash_distance`` *and*
   PDQ within ``pdq_distance`` (without PDQ: pHash and dHash both within ``fallback_distance``).
   Requiring two hashes to agree is what keeps look-alikes apart: on photos that share a
   backdrop, pHash alone links different subjects, PDQ does not. Clusters are **complete-link**:
   a picture joins a cluster only if it is linked to every member, so A~B and B~C never make
   A~C by themselves. Low-information images (PDQ quality under ``min_pdq_quality``, or near
   uniform) never join on hashes.
"""

from __future__ import annotations

import contextlib
import gc
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from .defaults import MIN_PDQ_QUALITY
from .settings import setting

if TYPE_CHECKING:
    import numpy as np

    from .fingerprint import Fingerprint
    from .index import Index

SCHEMA = "provenance/dedup-1"

#: camera facts whose presence makes a file's metadata "rich"; copies made by software lose them
CAMERA_FIELDS = (
    "make", "model", "datetime_original", "datetime_digitized", "gps_latitude", "lens_model", "exposure_time",
    "f_number", "iso", "focal_length", "body_serial_number", "lens_serial_number",
)  # fmt: skip

# Software tags that mean an editor touched the file (camera firmware names are not editors).
_EDITORS = re.compile(
    r"photoshop|lightroom|gimp|snapseed|picasa|paint\.net|pixelmator|affinity|acdsee|irfanview|xnview|"
    r"capture one|darktable|rawtherapee|luminar|photos? \d|preview|imagemagick|graphicsmagick|"
    r"photoscape|canva|instagram|facebook|meitu|vsco|picsart|fotor|corel|paintshop",
    re.IGNORECASE,
)

#: below this many hashes all pairs are found by a linear scan per row
_PAIRS_SCAN_BELOW = 5_000


@dataclass(frozen=True)
class DedupOptions:
    """The thresholds of near-duplicate grouping (defaults measured in docs/dedup.md)."""

    phash_distance: int = setting(10, minimum=0, maximum=32, help="Largest pHash distance of a near-duplicate pair.")
    pdq_distance: int = setting(
        40, minimum=0, maximum=128, help="Largest PDQ distance of a near-duplicate pair (both hashes must agree)."
    )
    fallback_distance: int = setting(
        8, minimum=0, maximum=32, help="pHash and dHash must both be within this when either side has no PDQ."
    )
    min_pdq_quality: int = setting(
        MIN_PDQ_QUALITY,
        minimum=0,
        maximum=100,
        help="Images with a lower PDQ quality are low-information and never join on hashes.",
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Member:
    """One file of a cluster and how it relates to the cluster's likely original."""

    path: str
    role: str  # original | copy
    relation: str  # original | exact | metadata-only | near-duplicate
    record: dict[str, Any]
    distance: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        r = self.record
        metadata = r.get("metadata") or {}
        return {
            "path": self.path, "role": self.role, "relation": self.relation, "distance": self.distance,
            "sha256": r.get("sha256"), "image_data_sha256": r.get("image_data_sha256"),
            "format": r.get("format"), "width": r.get("width"), "height": r.get("height"),
            "jpeg_quality": r.get("jpeg_quality"), "camera_fields": r["camera_fields"], "software": r["editor"],
            "datetime_original": metadata.get("datetime_original"),
            "make": metadata.get("make"), "model": metadata.get("model"),
            "name_digest": r.get("name_digest"), "findings": r.get("findings", []), "c2pa": r.get("c2pa"),
        }  # fmt: skip


@dataclass
class Cluster:
    """Files showing one picture; ``members[0]`` is the likely original."""

    id: int
    relation: str  # the loosest relation among the copies
    members: list[Member]
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "relation": self.relation, "size": len(self.members),
            "original": self.members[0].path, "reasons": self.reasons,
            "members": [m.to_dict() for m in self.members],
        }  # fmt: skip


@dataclass
class DedupResult:
    """Clusters of duplicates plus what could not take part (errors, low-information images)."""

    options: DedupOptions
    clusters: list[Cluster]
    files: int
    images: int
    unique: list[str]
    low_information: list[str]
    errors: list[dict[str, Any]]
    run: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        with _collector_paused():  # a dict per file, none in a cycle (see dedup)
            return self._to_dict()

    def _to_dict(self) -> dict[str, Any]:
        by_relation: dict[str, int] = defaultdict(int)
        for cluster in self.clusters:
            by_relation[cluster.relation] += 1
        return {
            "schema": SCHEMA,
            "run": self.run,
            "parameters": self.options.to_dict(),
            "summary": {
                "files": self.files,
                "images": self.images,
                "clusters": len(self.clusters),
                "clusters_by_relation": {
                    k: by_relation.get(k, 0) for k in ("exact", "metadata-only", "near-duplicate")
                },
                "files_in_clusters": sum(len(c.members) for c in self.clusters),
                "copies": sum(len(c.members) - 1 for c in self.clusters),
                "unique_files": len(self.unique),
                "low_information": len(self.low_information),
                "errors": len(self.errors),
            },
            "clusters": [c.to_dict() for c in self.clusters],
            "unique": self.unique,
            "low_information": self.low_information,
            "errors": self.errors,
        }


def dedup(
    records: Iterable[dict[str, Any] | Fingerprint], options: DedupOptions | None = None, *, index: Index | None = None
) -> DedupResult:
    """Group fingerprint records (from ``fingerprint_many`` or ``index.records()``) into duplicate clusters.

    With ``index``, the run block names that index and its content digest instead of listing every input.
    """
    # millions of small dicts and lists, none in a cycle: the cyclic collector would rescan them
    # all again and again (a third of the time at 1,000,000 records); reference counting frees them
    with _collector_paused():
        return _dedup(records, options, index)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _dedup(
    records: Iterable[dict[str, Any] | Fingerprint], options: DedupOptions | None, index: Index | None
) -> DedupResult:
    from . import hashes as hash_kinds
    from . import runinfo

    options = options or DedupOptions()
    started = runinfo.now()
    files: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    unread: list[str] = []  # files whose bytes could not be read: no digest to report
    hash_input: Counter[str | None] = Counter()
    total = 0
    for record in records:
        total += 1
        get = record.get if isinstance(record, dict) else partial(getattr, record)
        hash_input[get("hash_input")] += 1
        error = get("error")
        if error:
            errors.append({"path": get("path"), **error})
        if get("sha256"):
            files.append(_slim(get))
        else:
            unread.append(str(get("path")))

    # level 1 and 2: files by content, contents by image data ("pictures")
    by_content: dict[str, list[int]] = defaultdict(list)
    for n, record in enumerate(files):
        by_content[record["sha256"]].append(n)
    by_picture: dict[str, list[str]] = defaultdict(list)
    for sha, members in by_content.items():
        key = files[members[0]].get("image_data_sha256") or sha
        by_picture[key].append(sha)
    pictures = list(by_picture)

    # level 3: pictures linked by hashes, complete-link. The rule names pHash, PDQ and dHash on
    # purpose: "pHash and a second hash agree" is what was measured to keep look-alikes apart
    eligible: list[int] = []
    low_information: list[str] = []
    for p, key in enumerate(pictures):
        record = files[by_content[by_picture[key][0]][0]]
        hashes = record.get("hashes") or {}
        if record.get("kind") != "image" or not hashes.get("phash") or record.get("error"):
            continue
        if hash_kinds.low_information(hashes, options.min_pdq_quality):
            low_information.extend(files[n]["path"] for sha in by_picture[key] for n in by_content[sha])
            continue
        eligible.append(p)
    groups = _near_groups([files[by_content[by_picture[pictures[p]][0]][0]]["hashes"] for p in eligible], options)

    near = [[eligible[g] for g in group] for group in groups]
    in_near = {p for group in near for p in group}
    # pictures in no near group form a cluster of their own when they have several files
    repeated = [
        [p]
        for p, key in enumerate(pictures)
        if (len(by_picture[key]) > 1 or len(by_content[by_picture[key][0]]) > 1) and p not in in_near
    ]
    clusters = []
    # a member's distances to the original are reported in the kinds that find near matches
    compared = [k.name for k in hash_kinds.kinds() if k.near_search or k.candidates]
    for picture_ids in near + repeated:
        members = [n for p in picture_ids for sha in by_picture[pictures[p]] for n in by_content[sha]]
        clusters.append(_cluster([files[n] for n in members], compared))
    clusters.sort(key=lambda c: (-len(c.members), c.members[0].path))
    for number, cluster in enumerate(clusters, 1):
        cluster.id = number
    in_clusters = {m.path for c in clusters for m in c.members}
    unique = [r["path"] for r in files if r["path"] not in in_clusters]
    low_information = [p for p in low_information if p not in in_clusters]
    inputs = (
        []
        if index
        else [{"path": r["path"], "sha256": r["sha256"]} for r in files]
        + [{"path": path, "sha256": None} for path in unread]
    )
    run = runinfo.run_block(
        started=started,
        parameters=options.to_dict(),
        inputs=inputs,
        index=runinfo.index_facts(index) if index else None,
        hash_input=runinfo.hash_inputs(hash_input, index.options.exact_hashes if index else None),
    )
    return DedupResult(
        options,
        clusters,
        files=total,
        images=sum(1 for r in files if r.get("kind") == "image"),
        unique=unique,
        low_information=low_information,
        errors=errors,
        run=run,
    )


_KEPT = (
    "path",
    "sha256",
    "image_data_sha256",
    "kind",
    "format",
    "width",
    "height",
    "mode",
    "jpeg_quality",
    "hashes",
    "name_digest",
    "error",
)


_CAMERA_SET = frozenset(CAMERA_FIELDS)
_RANKING_FIELDS = frozenset((*CAMERA_FIELDS, "software", "xmp_creator_tool", "xmp_history"))


def _slim(get: Callable[[str], Any]) -> dict[str, Any]:
    """What grouping and ranking read of a record (``get`` reads one of its fields), with the ranking
    facts worked out once; a large set's full records need not stay in memory."""
    metadata = get("metadata") or {}
    kept = dict(zip(_KEPT, map(get, _KEPT)))
    if metadata:
        kept["metadata"] = {k: metadata[k] for k in _RANKING_FIELDS.intersection(metadata) if metadata[k] is not None}
        camera = sum(1 for k in _CAMERA_SET.intersection(metadata) if metadata[k] is not None)
    else:  # a stripped copy: common in leaks and cheap to tell
        kept["metadata"], camera = {}, 0
    kept["camera_fields"] = camera + bool(get("thumbnail"))
    kept["editor"] = _editor(kept["metadata"])
    forensics = get("forensics") or {}
    kept["findings"] = sorted({str(f.get("code")) for f in forensics.get("findings") or []})
    kept["resaved"] = "resaved-by-software" in kept["findings"]
    kept["c2pa"] = (forensics.get("c2pa") or {}).get("state", "absent") if forensics else None
    kept["pixels"] = (get("width") or 0) * (get("height") or 0)
    return kept


def _near_groups(hashes: list[dict[str, Any]], options: DedupOptions) -> list[list[int]]:
    """Complete-link clusters (indices into ``hashes``) of two or more pictures."""
    if len(hashes) < 2:
        return []
    import numpy as np

    from .compiled import complete_link  # Numba: compiled on first use, not when dedup is imported
    from .search import BruteForceIndex, MultiIndexHash, hex_to_words

    words = hex_to_words([h["phash"] for h in hashes], 64)
    searcher = (
        BruteForceIndex(words)
        if len(hashes) < _PAIRS_SCAN_BELOW
        else MultiIndexHash(words, distance=options.phash_distance)
    )
    i, j, d = searcher.pairs(options.phash_distance)
    linked, score = _linked(hashes, i, j, d, options)
    i, j, score = i[linked], j[linked], score[linked]
    order = np.lexsort((j, i, score))  # closest links first; ties in a fixed order
    i, j = i[order], j[order]
    label = complete_link(len(hashes), np.asarray(i, np.int64), np.asarray(j, np.int64))
    groups: dict[int, list[int]] = defaultdict(list)
    for item in np.flatnonzero(label != np.arange(len(hashes))).tolist():
        groups[int(label[item])].append(item)
    return [sorted([head, *rest]) for head, rest in groups.items()]


def _linked(
    hashes: list[dict[str, Any]],
    i: np.ndarray,
    j: np.ndarray,
    phash: np.ndarray,
    options: DedupOptions,
    chunk: int = 1 << 20,
) -> tuple[np.ndarray, np.ndarray]:
    """For candidate pairs (i, j) at pHash distance ``phash``: whether a second hash agrees, and a
    score (smaller is closer) to order the links. Vectorised: look-alike sets give millions of candidates."""
    import numpy as np

    from .search import hex_to_words

    has_pdq = np.array([bool(h.get("pdq")) for h in hashes])
    has_dhash = np.array([bool(h.get("dhash")) for h in hashes])
    pdq = hex_to_words([h.get("pdq") or "0" * 64 for h in hashes], 256)
    dhash = hex_to_words([h.get("dhash") or "0" * 16 for h in hashes], 64)
    linked = np.zeros(len(i), dtype=bool)
    score = np.ones(len(i))
    for start in range(0, len(i), chunk):
        a, b, dp = i[start : start + chunk], j[start : start + chunk], phash[start : start + chunk]
        both = has_pdq[a] & has_pdq[b]
        dq = np.bitwise_count(pdq[a] ^ pdq[b]).sum(axis=1)
        dd = np.bitwise_count(dhash[a] ^ dhash[b]).sum(axis=1)
        fallback = (dp <= options.fallback_distance) & has_dhash[a] & has_dhash[b] & (dd <= options.fallback_distance)
        linked[start : start + chunk] = np.where(both, dq <= options.pdq_distance, fallback)
        score[start : start + chunk] = dp / 64 + np.where(both, dq / 256, dd / 64)
    return linked, score


# the likely original ------------------------------------------------------------------------


def _richness(record: dict[str, Any]) -> int:
    return record["camera_fields"]


def _editor(metadata: dict[str, Any]) -> str | None:
    """The editing software ``metadata`` names, if any."""
    for key in ("software", "xmp_creator_tool"):
        value = metadata.get(key)
        if isinstance(value, str) and _EDITORS.search(value):
            return value
    if metadata.get("xmp_history"):
        return "an XMP edit history"
    return None


#: colour carries more of the scene than grayscale, grayscale more than bilevel; copies only lose it
_MODE_RANK = {"1": 0, "L": 1, "LA": 1, "I": 1, "I;16": 1, "F": 1, "P": 2, "PA": 2}


def _colour(record: dict[str, Any]) -> int:
    return _MODE_RANK.get(record.get("mode") or "", 3)


def _originality(record: dict[str, Any]) -> tuple:
    """Sort key: the likely original sorts first."""
    pixels = record["pixels"]
    # sizes within about 2% count as equal, so a one-pixel border does not outrank camera metadata
    size_class = round(math.log(pixels) / math.log(1.02)) if pixels else 0
    date = (record.get("metadata") or {}).get("datetime_original") or "9999"
    return (
        -_colour(record),
        -size_class,
        -record["camera_fields"],
        record["editor"] is not None,
        -(record.get("jpeg_quality") or 0),
        date,
        record.get("path") or "",
    )


def _cluster(records: list[dict[str, Any]], compared: list[str]) -> Cluster:
    """The cluster of these files: the likely original first, each copy's relation and its distances in
    the ``compared`` kinds."""
    from . import hashes as hash_kinds

    # a file with camera metadata that software re-encoded never outranks a sibling camera file
    # that was not (docs/dedup.md); a copy without camera metadata cannot carry the finding, so it
    # is not preferred for lacking it
    demote = any(r.get("metadata", {}).get("make") and not r.get("resaved") for r in records)
    ordered = sorted(records, key=lambda r: (demote and bool(r.get("resaved")), *_originality(r)))
    original = ordered[0]
    members = [Member(original["path"], "original", "original", original)]
    ours_hashes = original.get("hashes") or {}
    for record in ordered[1:]:
        if record["sha256"] == original["sha256"]:
            relation = "exact"
        elif record.get("image_data_sha256") and record.get("image_data_sha256") == original.get("image_data_sha256"):
            relation = "metadata-only"
        else:
            relation = "near-duplicate"
        distances = hash_kinds.distances(ours_hashes, record.get("hashes") or {}, compared)
        members.append(Member(record["path"], "copy", relation, record, distances))
    order = ("exact", "metadata-only", "near-duplicate")
    loosest = max((m.relation for m in members[1:]), key=order.index)
    return Cluster(0, loosest, members, _reasons(original, ordered[1:]))


def _reasons(original: dict[str, Any], copies: list[dict[str, Any]]) -> list[str]:
    """Why ``original`` ranks first: the criteria on which it is at least as good as every copy and better than one."""
    reasons = []
    if any(_colour(c) < _colour(original) for c in copies):
        reasons.append(
            "more colour information than "
            + ", ".join(sorted({c.get("mode") or "?" for c in copies if _colour(c) < _colour(original)}))
            + " copies"
        )
    pixels = lambda r: r["pixels"]
    size = lambda r: f"{r.get('width')}x{r.get('height')}"
    if any(pixels(c) < pixels(original) for c in copies) and all(
        pixels(c) <= pixels(original) or _colour(c) < _colour(original) for c in copies
    ):
        smaller = max((c for c in copies if pixels(c) < pixels(original)), key=pixels)
        reasons.append(f"largest pixel count ({size(original)}; next {size(smaller)})")
    rich = _richness(original)
    if all(_richness(c) <= rich for c in copies) and any(_richness(c) < rich for c in copies):
        low, high = min(_richness(c) for c in copies), max(_richness(c) for c in copies)
        reasons.append(
            f"richest camera metadata ({rich} camera field{'s' * (rich != 1)}; copies have "
            + (f"{low}" if low == high else f"{low}–{high}")
            + ")"
        )
    quality = original.get("jpeg_quality")
    if (
        quality
        and all((c.get("jpeg_quality") or 0) <= quality for c in copies)
        and any((c.get("jpeg_quality") or 0) < quality for c in copies)
    ):
        reasons.append(f"highest JPEG quality estimate ({quality})")
    date = (original.get("metadata") or {}).get("datetime_original")
    dates = [(c.get("metadata") or {}).get("datetime_original") for c in copies]
    if date and all(d is None or d >= date for d in dates) and any(d is None or d > date for d in dates):
        reasons.append(f"earliest datetime_original ({date})")
    resaved = [c for c in copies if c.get("resaved")]
    if not original.get("resaved") and resaved and (original.get("metadata") or {}).get("make"):
        reasons.append(
            f"camera metadata and no resaved-by-software finding ({len(resaved)} "
            f"cop{'y is' if len(resaved) == 1 else 'ies are'}: software re-encoded them)"
        )
    edited = [c["editor"] for c in copies if c["editor"]]
    if original["editor"] is None and edited:
        reasons.append(f"no editing-software tag (a copy names {edited[0]})")
    if not reasons:
        if all(c["sha256"] == original["sha256"] for c in copies):
            reasons.append("identical bytes: the first path in sort order")
        else:
            reasons.append("no criterion separates them: the first path in sort order")
    return reasons
