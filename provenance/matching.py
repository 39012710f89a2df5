"""Match query images against an index of references: verdicts, evidence and the transform estimate.

The road for one query: its fingerprint → the same bytes (``exact``) → the same image data
(``metadata-only``) → candidates from the index's near search on the hashes of its eight
rotations/flips and of its border-trimmed copy → geometric confirmation of each candidate
(``confirm.py``) → a keypoint search over every reference when no candidate confirms (crops,
screenshots, collages) → the verdict. Only confirmed candidates are claimed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import imagehash
import numpy as np
from PIL import Image, ImageOps

from . import confirm as geometry, runinfo
from .captions import Query, apply_embedded
from .decode import DEFAULT_MAX_PIXELS, decode_upright, open_image, pixel_limit, to_rgb
from .fingerprint import fingerprint
from .hashes import HASH_KINDS, distance, low_information
from .index import Index
from .pool import DEFAULT_TIMEOUT, fingerprint_many
from .keypoints import KeypointSearch

SCHEMA = "provenance/match-1"

#: verdicts, strongest first; every one but "no-match" claims reuse
VERDICTS = ("exact", "metadata-only", "near-duplicate", "no-match")

#: the metadata fields compared between a query and its reference, in report order
COMPARED_FIELDS = (
    "make", "model", "software", "datetime_original", "datetime_digitized", "datetime_modified",
    "gps_latitude", "gps_longitude", "gps_altitude", "gps_datetime", "lens_model", "body_serial_number",
    "artist", "copyright", "image_description", "user_comment", "caption", "headline", "keywords", "byline",
    "credit", "source", "city", "country", "xmp_creator_tool", "document_id", "original_document_id",
    "icc_profile",
)  # fmt: skip


@dataclass
class MatchOptions:
    """Thresholds of the matcher (docs/matching.md says how each is used)."""

    #: candidate radii of the near search: wide on purpose, confirmation decides
    candidate_phash: int = 18
    candidate_pdq: int = 80
    #: how many hash candidates are checked geometrically
    max_candidates: int = 8
    #: a reference that cannot be re-read is claimed on hashes alone only this close (pHash and PDQ both)
    hash_only_phash: int = 4
    hash_only_pdq: int = 16
    #: search every reference's keypoints when no hash candidate confirms
    keypoint_search: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Match:
    """One reference the query reuses, with the evidence."""

    relation: str
    score: float
    reference: dict[str, Any]
    distances: dict[str, int] = field(default_factory=dict)
    #: which copy of the query the hashes were closest on ("as is", "mirrored", "rotated 90°", "borders trimmed")
    variant: str | None = None
    found_by: str = "hashes"
    confirmation: dict[str, Any] | None = None
    transform: dict[str, Any] | None = None
    jpeg_quality: dict[str, int | None] = field(default_factory=dict)
    metadata_diff: dict[str, Any] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "relation": self.relation, "score": round(self.score, 4), "reference": self.reference,
            "distances": self.distances, "variant": self.variant, "found_by": self.found_by,
            "confirmation": self.confirmation, "transform": self.transform, "jpeg_quality": self.jpeg_quality,
            "metadata_diff": self.metadata_diff, "evidence": self.evidence,
        }  # fmt: skip


@dataclass
class QueryResult:
    """The verdict on one query."""

    query: Query
    verdict: str
    confidence: float
    matches: list[Match] = field(default_factory=list)
    #: facts about the query itself (its name's digest, its declared size, why it could not be read)
    evidence: list[str] = field(default_factory=list)
    #: rejected candidates and why, so a reader can see what was considered
    rejected: list[dict[str, Any]] = field(default_factory=list)
    fingerprint: dict[str, Any] | None = None
    error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        fp = self.fingerprint or {}
        return {
            "query": {**self.query.to_dict(), **{k: fp.get(k) for k in _QUERY_FACTS}},
            "verdict": self.verdict, "confidence": round(self.confidence, 4),
            "matches": [m.to_dict() for m in self.matches], "evidence": self.evidence,
            "rejected": self.rejected, "error": self.error,
        }  # fmt: skip


_QUERY_FACTS = ("size", "format", "width", "height", "md5", "sha1", "sha256", "image_data_sha256", "name_digest",
                "hashes", "jpeg_quality", "metadata")


# -- query images and their variants ----------------------------------------------------------------

def _oriented_image(path: str, max_pixels: int, side: int | None = None) -> tuple[Image.Image, tuple[int, int]]:
    """The image at ``path`` decoded upright in RGB, and its full upright size (``decode_upright``)."""
    with pixel_limit(max_pixels):
        upright, full = decode_upright(open_image(path, os.path.basename(path), max_pixels), side)
        return to_rgb(upright), full


_DIHEDRAL: tuple[tuple[str, Callable[[Image.Image], Image.Image]], ...] = (
    ("as is", lambda im: im),
    ("mirrored", ImageOps.mirror),
    ("rotated 90°", lambda im: im.transpose(Image.Transpose.ROTATE_270)),
    ("rotated 180°", lambda im: im.transpose(Image.Transpose.ROTATE_180)),
    ("rotated 270°", lambda im: im.transpose(Image.Transpose.ROTATE_90)),
    ("flipped vertically", ImageOps.flip),
    ("transposed", lambda im: im.transpose(Image.Transpose.TRANSPOSE)),
    ("transversed", lambda im: im.transpose(Image.Transpose.TRANSVERSE)),
)


def trim_borders(im: Image.Image, tolerance: float = 10.0) -> Image.Image | None:
    """``im`` without uniform borders and letterbox bars, or None when it has none worth trimming."""
    gray = np.asarray(im.convert("L"), dtype=np.float32)
    height, width = gray.shape

    def uniform(lines: np.ndarray, level: float) -> np.ndarray:
        return (np.abs(lines - level).mean(axis=1) < tolerance) & (lines.std(axis=1) < tolerance)

    def run(flags: np.ndarray) -> int:
        stop = np.argmin(flags) if not flags.all() else len(flags)
        return int(stop)

    top = run(uniform(gray, gray[0].mean()))
    bottom = run(uniform(gray[::-1], gray[-1].mean()))
    left = run(uniform(gray.T, gray[:, 0].mean()))
    right = run(uniform(gray.T[::-1], gray[:, -1].mean()))
    box = (left, top, width - right, height - bottom)
    if box[2] - box[0] < width * 0.2 or box[3] - box[1] < height * 0.2:
        return None
    if max(top, bottom) < height * 0.02 and max(left, right) < width * 0.02:
        return None
    return im.crop(box)


def _variant_hashes(im: Image.Image) -> list[tuple[str, dict[str, str]]]:
    """pHash, dHash (and PDQ when available) of the query's eight rotations/flips and of its border-trimmed copy."""
    small = im.copy()
    small.thumbnail((512, 512), Image.Resampling.BOX)
    variants = [(name, fn(small)) for name, fn in _DIHEDRAL]
    trimmed = trim_borders(small)
    if trimmed is not None:
        variants.append(("borders trimmed", trimmed))
    out = []
    for name, image in variants:
        hashes = {"phash": str(imagehash.phash(image)), "dhash": str(imagehash.dhash(image))}
        if "pdq" in HASH_KINDS:
            hashes.update({k: v for k, v in HASH_KINDS["pdq"].compute(image).items() if k == "pdq"})
        out.append((name, hashes))
    return out


# -- reference images ----------------------------------------------------------------------------

class _ReferenceFeatures:
    """Keypoints of reference images, re-read from their files on demand, a few kept in memory."""

    def __init__(self, max_pixels: int, keep: int = 64) -> None:
        self.max_pixels = max_pixels
        self.keep = keep
        self._cache: OrderedDict[str, geometry.Features | None] = OrderedDict()

    def get(self, sha256: str, paths: list[str]) -> geometry.Features | None:
        if sha256 in self._cache:
            self._cache.move_to_end(sha256)
            return self._cache[sha256]
        features = None
        for path in paths:
            try:
                image, full = _oriented_image(path, self.max_pixels, side=geometry.WORK_SIDE)
                features = geometry.extract(geometry.work_image(image), full)
                break
            except Exception:  # noqa: BLE001 - a missing or damaged reference: try its other paths
                continue
        self._cache[sha256] = features
        if len(self._cache) > self.keep:
            self._cache.popitem(last=False)
        return features


# -- the matcher ---------------------------------------------------------------------------------

class Matcher:
    """Matches queries against one index; holds the per-run caches."""

    def __init__(self, index: Index, options: MatchOptions | None = None) -> None:
        self.index = index
        self.options = options or MatchOptions()
        self.references = _ReferenceFeatures(self.options.max_pixels)
        # queries hashed as the references were (exact hashes, details), so the records could join the index
        self.fingerprint_options = dataclasses.replace(index.options, max_pixels=self.options.max_pixels)
        self._keypoints: KeypointSearch | None = None

    def _keypoint_search(self) -> KeypointSearch:
        if self._keypoints is None:
            self._keypoints = KeypointSearch.for_index(self.index, self.references)
        return self._keypoints

    def match_query(self, query: Query, record: dict[str, Any] | None = None) -> QueryResult:
        """The verdict on one query, given its fingerprint record if already made; never raises for a bad file."""
        if query.problem:
            return QueryResult(query, "no-match", 0.0, evidence=[f"not matched: {query.problem}"],
                               error={"type": "QueryUnavailable", "message": query.problem})
        if record is None:
            record = fingerprint(query.path, options=self.fingerprint_options).to_dict()
        apply_embedded(query, record.get("metadata"))
        result = QueryResult(query, "no-match", 0.0, fingerprint=record, error=record.get("error"))
        result.evidence.extend(_query_evidence(query, record))
        named = self._name_evidence(record, result)
        matches: dict[str, Match] = {}
        for column, relation in (("sha256", "exact"), ("image_data_sha256", "metadata-only")):
            if record.get(column):
                for ref in self._references_with(column, record[column]):
                    if ref["sha256"] not in matches:
                        matches[ref["sha256"]] = self._claim(relation, ref, record)
        # a query the fingerprint could not hash is not decoded again here: the decoder already refused it
        if (record.get("kind") == "image" and record.get("hashes")
                and not any(m.relation == "exact" for m in matches.values())):
            self._near(query, record, matches, result)
        result.matches = sorted(matches.values(), key=lambda m: (-m.score, m.reference.get("path") or ""))
        if named:
            for m in result.matches:
                if m.reference["sha256"] in named:
                    m.evidence.append("the query's file name is this reference's digest")
        if result.matches:
            best = result.matches[0]
            result.verdict, result.confidence = best.relation, best.score
        else:
            result.confidence = _no_match_confidence(record, result)
        return result

    # exact and metadata-only -------------------------------------------------------------------

    def _references_with(self, column: str, value: str) -> list[dict[str, Any]]:
        """One record per reference content with ``column == value``, all its paths attached."""
        by_sha: dict[str, dict[str, Any]] = {}
        for hit in self.index.lookup_column(column, value):
            ref = by_sha.setdefault(hit["sha256"], {**hit, "paths": []})
            ref["paths"].append(hit["path"])
        return list(by_sha.values())

    def _claim(self, relation: str, ref: dict[str, Any], record: dict[str, Any]) -> Match:
        match = Match(relation=relation, score=1.0 if relation == "exact" else 0.99,
                      reference=_reference_summary(ref), jpeg_quality=_quality_change(ref, record),
                      metadata_diff=metadata_diff(ref.get("metadata"), record.get("metadata")))
        if relation == "exact":
            match.evidence.append(f"same bytes as the reference (SHA-256 {ref['sha256'][:16]}…)")
        else:
            match.evidence.append("same image data as the reference (image-data SHA-256 "
                                  f"{ref['image_data_sha256'][:16]}…); " + _metadata_story(match.metadata_diff))
        return match

    def _name_evidence(self, record: dict[str, Any], result: QueryResult) -> set[str]:
        """Say what the query's digest-like file name points at; return the sha256 of the files it names."""
        claim = record.get("name_digest")  # the fingerprint already recognised a digest-shaped name
        if not claim:
            return set()
        algorithm = claim["algorithm"]
        stem = os.path.basename(record["path"]).split(".", 1)[0].lower()  # the stem name_digest read
        named = {r["sha256"]: r for r in self.index.lookup_column(algorithm, stem)}
        if claim["matches"]:
            result.evidence.append(f"the file name is the file's own {algorithm.upper()}")
        elif named:
            paths = ", ".join(sorted(r["path"] for r in named.values()))
            result.evidence.append(
                f"NAME MISMATCH: the file name is the {algorithm.upper()} of reference {paths}, "
                "but this file's bytes are not that reference's")
        else:
            result.evidence.append(
                f"NAME MISMATCH: the file name looks like an {algorithm.upper()} but is not this file's, "
                "and no reference has it")
        return set(named)

    # near-duplicates ---------------------------------------------------------------------------

    def _near(self, query: Query, record: dict[str, Any], matches: dict[str, Match], result: QueryResult) -> None:
        try:
            image, _ = _oriented_image(query.path, self.options.max_pixels)
        except Exception as exc:  # noqa: BLE001 - the fingerprint already recorded the decode error
            result.evidence.append(f"no near-duplicate search: the image cannot be decoded ({exc})")
            return
        candidates = self._hash_candidates(image)
        features = geometry.features_of(image)
        mirror_cache: list[geometry.Features] = []

        def mirrored() -> geometry.Features:
            if not mirror_cache:
                mirror_cache.append(features.mirrored())
            return mirror_cache[0]

        confirmed_any = False
        for sha256, (variant, distances, paths) in candidates:
            if sha256 in matches:
                continue
            ref_features = self.references.get(sha256, paths)
            ref = self._reference_record(sha256)
            if ref is None:
                continue
            if ref_features is None:
                if self._close_enough(distances, record, ref):
                    m = self._near_claim(ref, record, distances, variant, None, hash_only=True)
                    matches[sha256] = m
                    confirmed_any = True
                else:
                    result.rejected.append({"reference": ref["path"], "distances": distances,
                                            "reason": "the reference file cannot be re-read to confirm"})
                continue
            outcome = _confirm(image, features, mirrored, ref_features)
            if outcome.confirmed:
                matches[sha256] = self._near_claim(ref, record, distances, variant, outcome)
                confirmed_any = True
            else:
                result.rejected.append({"reference": ref["path"], "distances": distances, "variant": variant,
                                        "reason": outcome.reason})
        if not confirmed_any and self.options.keypoint_search:
            search = self._keypoint_search()
            for sha256, votes in search.candidates(features, exclude=set(matches), mirrored=mirrored()):
                ref_features = self.references.get(sha256, search.paths(sha256))
                ref = self._reference_record(sha256)
                if ref_features is None or ref is None:
                    continue
                outcome = _confirm(image, features, mirrored, ref_features)
                if outcome.confirmed:
                    m = self._near_claim(ref, record, _distances(record.get("hashes") or {}, ref), None, outcome)
                    m.found_by = "keypoints"
                    m.evidence.insert(0, f"found by a keypoint search over every reference ({votes} votes)")
                    matches[sha256] = m
                    break
                result.rejected.append({"reference": ref["path"], "found_by": "keypoints", "votes": votes,
                                        "reason": outcome.reason})

    def _hash_candidates(self, image: Image.Image) -> list[tuple[str, tuple[str, dict[str, int], list[str]]]]:
        """The nearest references over all variants of the query, best first, at most ``max_candidates``."""
        radius = {"phash": self.options.candidate_phash, "dhash": self.options.candidate_phash,
                  "pdq": self.options.candidate_pdq}
        best: dict[str, tuple[float, str, dict[str, int], list[str]]] = {}
        for variant, hashes in _variant_hashes(image):
            for near in self.index.near(hashes, radius, kinds=("phash", "dhash", "pdq")):
                score = _closeness(near.distances)
                if near.sha256 not in best or score < best[near.sha256][0]:
                    best[near.sha256] = (score, variant, near.distances, near.paths)
        ranked = sorted(best.items(), key=lambda kv: (kv[1][0], kv[0]))[: self.options.max_candidates]
        return [(sha, (variant, distances, paths)) for sha, (_, variant, distances, paths) in ranked]

    def _close_enough(self, distances: dict[str, int], record: dict[str, Any], ref: dict[str, Any]) -> bool:
        """Whether hashes alone may claim: very close, and neither image flat (blank pages all hash alike)."""
        if low_information(record.get("hashes") or {}) or low_information(ref.get("hashes") or {}):
            return False
        phash_ok = distances.get("phash", 99) <= self.options.hash_only_phash
        pdq_ok = "pdq" not in distances or distances["pdq"] <= self.options.hash_only_pdq
        return phash_ok and pdq_ok

    def _reference_record(self, sha256: str) -> dict[str, Any] | None:
        refs = self._references_with("sha256", sha256)
        return refs[0] if refs else None

    def _near_claim(self, ref: dict[str, Any], record: dict[str, Any], distances: dict[str, int],
                    variant: str | None, outcome: geometry.Confirmation | None, hash_only: bool = False) -> Match:
        match = Match(relation="near-duplicate", score=0.0, reference=_reference_summary(ref), distances=distances,
                      variant=variant, jpeg_quality=_quality_change(ref, record),
                      metadata_diff=metadata_diff(ref.get("metadata"), record.get("metadata")))
        hash_text = ", ".join(f"{'pHash' if k == 'phash' else k.upper()} distance {d}"
                              for k, d in sorted(distances.items()) if k in ("phash", "pdq"))
        if hash_text:
            match.evidence.append(hash_text + (f" ({variant})" if variant and variant != "as is" else ""))
        if hash_only or outcome is None:
            match.score = 0.6
            match.evidence.append("not confirmed geometrically: the reference file could not be re-read; "
                                  "claimed on very close hashes alone")
            return match
        match.confirmation = outcome.to_dict()
        t = outcome.transform
        match.transform = t.to_dict() if t else None
        match.score = _confidence(outcome)
        match.evidence.append(f"{outcome.inliers} matching keypoints agree on one geometric mapping; "
                              f"the aligned pixels agree on {outcome.agreement:.0%} of the overlap")
        if t is not None:
            match.evidence.extend(_transform_story(t))
        q = match.jpeg_quality
        if q.get("reference") and q.get("query") and q["reference"] != q["query"]:
            match.evidence.append(f"JPEG quality {q['reference']} → {q['query']}")
        match.evidence.append(_metadata_story(match.metadata_diff))
        return match


def _confirm(image: Image.Image, features: geometry.Features, mirrored: Callable[[], geometry.Features],
             reference: geometry.Features) -> geometry.Confirmation:
    """Confirm the whole query, mirrored if need be; then, if the reference seems to fill only part
    of the query (a collage cell, a screenshot), that part seen up close."""
    outcome = geometry.confirm_any(features, reference, mirrored)
    if outcome.confirmed:
        return outcome
    zoom = _zoom_box(outcome.extra.get("matched_box"), image.size)
    if zoom is None:
        return outcome
    closer = geometry.confirm(geometry.features_of(image, zoom), reference)
    return closer if closer.confirmed or closer.inliers > outcome.inliers else outcome


def _zoom_box(box: list[int] | None, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """``box`` with a margin, when it is a small enough part of the image to be worth a closer look."""
    if not box:
        return None
    width, height = size
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * 0.1, (y1 - y0) * 0.1
    x0, y0 = max(0, int(x0 - mx)), max(0, int(y0 - my))
    x1, y1 = min(width, int(x1 + mx)), min(height, int(y1 + my))
    if x1 - x0 < 64 or y1 - y0 < 64 or (x1 - x0) * (y1 - y0) > 0.5 * width * height:
        return None
    return x0, y0, x1, y1


def _distances(hashes: dict[str, Any], ref: dict[str, Any]) -> dict[str, int]:
    theirs = ref.get("hashes") or {}
    return {k: distance(hashes[k], theirs[k]) for k in ("phash", "pdq")
            if hashes.get(k) and theirs.get(k) and len(hashes[k]) == len(theirs[k])}


def _closeness(distances: dict[str, int]) -> float:
    fractions = [d / HASH_KINDS[k].bits for k, d in distances.items()
                 if k in ("phash", "dhash", "pdq") and k in HASH_KINDS]
    return min(fractions) if fractions else 1.0


def _confidence(outcome: geometry.Confirmation) -> float:
    """0.5–0.99 from how many keypoints agree and how much of the overlap agrees."""
    support = min(1.0, outcome.inliers / 60)
    return round(min(0.99, 0.5 + 0.49 * support * min(1.0, (outcome.agreement - 0.7) / 0.25)), 4)


def _no_match_confidence(record: dict[str, Any], result: QueryResult) -> float:
    if record.get("error") and not record.get("hashes"):
        return 0.0
    return 0.7 if result.rejected else 0.9


def _transform_story(t: geometry.Transform) -> list[str]:
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
        story.append(f"the reference fills {t.query_fraction:.0%} of the query "
                     "(borders, a caption band, a page or a collage around it)")
    return story


def _reference_summary(ref: dict[str, Any]) -> dict[str, Any]:
    keys = ("path", "paths", "size", "format", "width", "height", "md5", "sha1", "sha256", "image_data_sha256",
            "name_digest", "hashes", "jpeg_quality", "metadata", "thumbnail")
    return {k: ref.get(k) for k in keys}


def _quality_change(ref: dict[str, Any], record: dict[str, Any]) -> dict[str, int | None]:
    return {"reference": ref.get("jpeg_quality"), "query": record.get("jpeg_quality")}


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


def _metadata_story(diff: dict[str, Any]) -> str:
    removed, added, changed = diff["removed"], diff["added"], diff["changed"]
    if not (removed or added or changed):
        return "the canonical metadata fields are the same"
    parts = []
    if removed:
        camera = [k for k in ("make", "model", "datetime_original", "gps_latitude") if k in removed]
        parts.append(f"{len(removed)} metadata field{'s' if len(removed) > 1 else ''} removed" + (f" (among them {', '.join(camera)})" if camera else ""))
    if changed:
        parts.append("changed: " + ", ".join(changed))
    if added:
        parts.append("added: " + ", ".join(added))
    return "; ".join(parts)


def _query_evidence(query: Query, record: dict[str, Any]) -> list[str]:
    evidence = []
    size = [record.get("width"), record.get("height")]
    if query.declared_size and None not in size and query.declared_size != size:
        evidence.append(f"the file name declares {query.declared_size[0]}x{query.declared_size[1]}, "
                        f"but the image is {size[0]}x{size[1]}")
    if record.get("error"):
        evidence.append(f"the query file has a problem: {record['error']['type']}: {record['error']['message']}")
    return evidence


@dataclass
class MatchReport:
    """Every query's result plus the run's parameters."""

    results: list[QueryResult]
    run: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        counts = {v: 0 for v in VERDICTS}
        for r in self.results:
            counts[r.verdict] += 1
        return {"schema": SCHEMA, "run": self.run, "summary": {"queries": len(self.results), "verdicts": counts,
                                                               "errors": sum(1 for r in self.results if r.error)},
                "results": [r.to_dict() for r in self.results]}

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.error)


def iter_match(queries: Iterable[Query], index: Index, options: MatchOptions | None = None, *,
               jobs: int = 1, timeout: float | None = DEFAULT_TIMEOUT) -> Iterator[QueryResult]:
    """Match queries in order, yielding each result as soon as it is known.

    The queries are fingerprinted by ``jobs`` worker processes (``fingerprint_many``), so a file
    that crashes or hangs a decoder costs its own record only; ``jobs=0`` stays in this process.
    """
    matcher = Matcher(index, options)
    queries = list(queries)
    readable = [q.path for q in queries if not q.problem]
    records = fingerprint_many(readable, jobs=jobs, options=matcher.fingerprint_options, timeout=timeout)
    try:
        for query in queries:
            record = None if query.problem else next(records).to_dict()
            yield matcher.match_query(query, record)
    finally:
        records.close()


def match(queries: Iterable[Query], index: Index, options: MatchOptions | None = None, *,
          jobs: int = 1, timeout: float | None = DEFAULT_TIMEOUT,
          progress: Callable[[QueryResult], None] | None = None, against: str | None = None) -> MatchReport:
    """Match every query against ``index`` (see ``iter_match``); ``progress`` is called after each one.

    ``against`` is how the user named the references (a folder indexed on the fly), for the run block.
    """
    options = options or MatchOptions()
    started = runinfo.now()
    results = []
    for result in iter_match(queries, index, options, jobs=jobs, timeout=timeout):
        results.append(result)
        if progress:
            progress(result)
    return MatchReport(results, runinfo.run_block(started=started, parameters=options.to_dict(),
                                                  inputs=_inputs(results),
                                                  index=runinfo.index_facts(index, against)))


def _inputs(results: list[QueryResult]) -> list[dict[str, Any]]:
    """Every query file and every page or manifest that listed queries, with its SHA-256."""
    inputs = []
    listings: dict[str, str] = {}
    for result in results:
        fp = result.fingerprint or {}
        inputs.append({"path": result.query.path, "role": "query", "sha256": fp.get("sha256")})
        if result.query.listed_in:
            page = result.query.listed_in.lower().endswith((".html", ".htm", ".xhtml"))
            listings.setdefault(result.query.listed_in, "page" if page else "manifest")
    for path, role in listings.items():
        inputs.append({"path": path, "role": role, "sha256": runinfo.file_sha256(path)})
    return inputs


@contextlib.contextmanager
def open_references(against: str, *, jobs: int | None = None,
                    progress: Callable[[str, str], None] | None = None) -> Iterator[Index]:
    """The reference index: ``against`` itself when it is an index file, else a temporary index of that folder."""
    if not os.path.isdir(against):
        with Index(against, create=False) as index:
            yield index
        return
    with tempfile.TemporaryDirectory(prefix="provenance-refs-") as scratch:
        with Index(os.path.join(scratch, "references.db")) as index:
            index.add([against], jobs=jobs, progress=progress)
            yield index
