"""The road for one query: its fingerprint → the same bytes (``exact``) → the same image data
(``metadata-only``) → candidates from the near search on the hashes of its variants → geometric
confirmation of each → a keypoint search over every reference when no candidate confirms (crops,
screenshots, collages) → the verdict. Only confirmed candidates are claimed.

A ``Matcher`` runs in a worker process (``matching/worker.py``): the query file is read once, and
its fingerprint, variants and keypoints come from that one read; a query that crashes a decoder
costs only itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from PIL import Image

from ..captions import Query, apply_embedded
from ..decode import oriented_image
from ..errors import ProvenanceError
from ..features import Features, features_of
from ..files import read_file
from ..fingerprint import Fingerprint, FingerprintOptions, fingerprint_file
from ..index import Index
from . import evidence as story
from . import geometry
from .candidates import hash_candidates
from .confirmation import ReferenceFeatures, confirm_candidate, denser
from .geometry import Confirmation
from .options import MatchOptions
from .records import Match, QueryResult
from .variants import variant_hashes
from .verdicts import HASH_ONLY_CONFIDENCE, close_enough, confidence, settle

if TYPE_CHECKING:
    from ..keypoints import KeypointSearch

#: an image decoder for the query, called only when the near search needs the pixels
ImageSource = Callable[[], Image.Image]


class Matcher:
    """Matches queries against one index; holds the per-run caches (reference features, the keypoint search)."""

    def __init__(self, index: Index, options: MatchOptions | None = None, *, keypoint_structure: str = "auto") -> None:
        self.index = index
        self.options = options or MatchOptions()
        self.references = ReferenceFeatures(self.options.max_pixels)
        # queries hashed as the references were (exact hashes, details), so the records could join the index
        same_limit = self.options.max_pixels == index.options.max_pixels
        self.fingerprint_options: FingerprintOptions = dataclasses.replace(
            index.options,
            max_pixels=self.options.max_pixels,
            max_pixels_hint=index.options.max_pixels_hint if same_limit else "",
        )
        self._keypoints: KeypointSearch | None = None
        #: the hard-case search's structure (``keypoints.KeypointSearch``); benchmarks force one
        self.keypoint_structure = keypoint_structure

    def _keypoint_search(self) -> KeypointSearch:
        from ..keypoints import KeypointSearch

        if self._keypoints is None:
            self._keypoints = KeypointSearch.for_index(self.index, self.references, self.keypoint_structure)
        return self._keypoints

    def match_query(
        self, query: Query, record: Fingerprint | None = None, image: ImageSource | None = None
    ) -> QueryResult:
        """The verdict on one query; never raises for a bad file.

        Without ``record`` the query file is read once here and everything comes from that read;
        with it, ``image`` decodes the query when the near search needs it (no ``image``: exact and
        metadata-only matches only, as for a query whose worker failed).
        """
        if query.problem:
            return QueryResult(
                query,
                "no-match",
                0.0,
                evidence=[f"not matched: {query.problem}"],
                error={"type": "QueryUnavailable", "message": query.problem},
            )
        if record is None:
            record, image = self.read_query(query)
        apply_embedded(query, record.metadata)
        result = QueryResult(query, "no-match", 0.0, fingerprint=record, error=record.error)
        result.evidence.extend(story.query_evidence(query, record))
        named = self._name_evidence(record, result)
        matches: dict[str, Match] = {}
        for column, relation in (("sha256", "exact"), ("image_data_sha256", "metadata-only")):
            value = getattr(record, column)
            if value:
                for sha256, (reference, paths) in self._references_with(column, value).items():
                    matches.setdefault(sha256, self._claim(relation, reference, paths, record))
        # a query the fingerprint could not hash is not decoded again here: the decoder already refused it
        if (
            record.kind == "image"
            and record.hashes
            and image is not None
            and not any(m.relation == "exact" for m in matches.values())
        ):
            self._near(record, image, matches, result)
        result.matches = list(matches.values())
        for m in result.matches:
            if m.reference["sha256"] in named:
                m.evidence.append("the query's file name is this reference's digest")
        settle(result)
        return result

    def read_query(self, query: Query) -> tuple[Fingerprint, ImageSource]:
        """The query's fingerprint and a decoder of its pixels, both from one read of the file."""
        try:
            file = read_file(
                query.path,
                follow_symlinks=self.fingerprint_options.follow_symlinks,
                max_in_memory=self.fingerprint_options.max_in_memory,
            )
        except ProvenanceError as exc:
            record = Fingerprint(path=query.path)
            record.set_error(exc.error_type, str(exc))
            return record, _unreadable(exc)
        record = fingerprint_file(file, self.fingerprint_options)
        source: bytes | str = file.data if file.data is not None else file.path  # streamed: the decoder reads it
        max_pixels = self.options.max_pixels
        return record, lambda: oriented_image(source, file.path, max_pixels)[0]

    # exact and metadata-only -------------------------------------------------------------------

    def _references_with(self, column: str, value: str) -> dict[str, tuple[Fingerprint, list[str]]]:
        """Each reference content with ``column == value``: its first record and all its paths."""
        found: dict[str, tuple[Fingerprint, list[str]]] = {}
        for hit in self.index.lookup_column(column, value):
            if hit.sha256:
                found.setdefault(hit.sha256, (hit, []))[1].append(hit.path or "")
        return found

    def _claim(self, relation: str, reference: Fingerprint, paths: list[str], record: Fingerprint) -> Match:
        match = Match(
            relation=relation,
            score=1.0 if relation == "exact" else 0.99,
            reference=story.reference_summary(reference, paths),
            jpeg_quality=story.quality_change(reference, record),
            metadata_diff=story.metadata_diff(reference.metadata, record.metadata),
        )
        if relation == "exact":
            match.evidence.append(f"same bytes as the reference (SHA-256 {(reference.sha256 or '')[:16]}…)")
        else:
            match.evidence.append(
                "same image data as the reference (image-data SHA-256 "
                f"{(reference.image_data_sha256 or '')[:16]}…); " + story.metadata_story(match.metadata_diff)
            )
        return match

    def _name_evidence(self, record: Fingerprint, result: QueryResult) -> set[str]:
        """Say what the query's digest-like file name points at; return the sha256 of the files it names."""
        claim = record.name_digest  # the fingerprint already recognised a digest-shaped name
        if not claim:
            return set()
        named = {r.sha256 or "": r for r in self.index.lookup_column(claim["algorithm"], story.name_stem(record))}
        sentence = story.name_story(record, named)
        if sentence:
            result.evidence.append(sentence)
        return set(named)

    # near-duplicates ---------------------------------------------------------------------------

    def _near(
        self, record: Fingerprint, image_source: ImageSource, matches: dict[str, Match], result: QueryResult
    ) -> None:
        try:
            image = image_source()
        except Exception as exc:  # noqa: BLE001 - the fingerprint already recorded the decode error
            result.evidence.append(f"no near-duplicate search: the image cannot be decoded ({exc})")
            return
        candidates = hash_candidates(self.index, variant_hashes(image), self.options)
        features = features_of(image)
        mirror_cache: list[Features] = []

        def mirrored() -> Features:
            if not mirror_cache:
                mirror_cache.append(features.mirrored())
            return mirror_cache[0]

        confirmed_any = False
        nearest_retry = partial(denser, features)  # more keypoints, for the nearest candidate only
        for n, candidate in enumerate(candidates):
            if candidate.sha256 in matches:
                continue
            ref_features = self.references.get(candidate.sha256, candidate.paths)
            found = self._reference(candidate.sha256)
            if found is None:
                continue
            reference, paths = found
            outcome = (
                None
                if ref_features is None
                else confirm_candidate(
                    image, features, mirrored, ref_features, candidate.variant, nearest_retry if n == 0 else None
                )
            )
            reason: str | None
            if outcome is None:  # the reference cannot be re-read: hashes alone, when very close
                confirmed = close_enough(candidate.distances, record, reference, self.options)
                reason = "the reference file cannot be re-read to confirm"
            else:
                confirmed, reason = outcome.confirmed, outcome.reason
            if confirmed:
                matches[candidate.sha256] = self._near_claim(
                    reference, paths, record, candidate.distances, candidate.variant, outcome
                )
                confirmed_any = True
            else:
                rejected: dict[str, Any] = {"reference": paths[0], "distances": candidate.distances}
                if outcome is not None:
                    rejected["variant"] = candidate.variant
                result.rejected.append({**rejected, "reason": reason})
        if not confirmed_any and self.options.keypoint_search:
            if not self._search_keypoints(image, record, features, mirrored, matches, result):
                for box in windows(image.size):
                    part = features_of(image, box)
                    if self._search_keypoints(image, record, part, part.mirrored, matches, result, box, features):
                        break

    def _search_keypoints(
        self,
        image: Image.Image,
        record: Fingerprint,
        features: Features,
        mirrored: Callable[[], Features],
        matches: dict[str, Match],
        result: QueryResult,
        box: tuple[int, int, int, int] | None = None,
        whole: Features | None = None,
    ) -> bool:
        """Search every reference by the keypoints of the query, or of its part ``box`` seen up close
        (``features``; ``whole``: the whole query's, against which a part's mapping is checked);
        claim the first candidate that confirms. Whether one did."""
        search = self._keypoint_search()
        where = "" if box is None else f" of the query's part {list(box)} seen up close"
        candidates = search.candidates(features, exclude=set(matches), mirrored=mirrored() if box is None else None)
        for sha256, votes in candidates[: None if box is None else WINDOW_CANDIDATES]:
            ref_features = self.references.get(sha256, search.paths(sha256))
            found = self._reference(sha256)
            if ref_features is None or found is None:
                continue
            reference, paths = found
            outcome = confirm_candidate(image, features, mirrored, ref_features)
            if outcome.confirmed and whole is not None:  # the part's mapping must hold over the whole query
                outcome = geometry.confirm_mapping(whole, ref_features, outcome)
            if outcome.confirmed:
                m = self._near_claim(
                    reference,
                    paths,
                    record,
                    story.reported_distances(record.hashes, reference.hashes),
                    None,
                    outcome,
                )
                m.found_by = "keypoints"
                m.evidence.insert(0, f"found by a keypoint search{where} over every reference ({votes} votes)")
                matches[sha256] = m
                return True
            result.rejected.append(
                {"reference": paths[0], "found_by": "keypoints", "votes": votes, "reason": outcome.reason,
                 **({"window": list(box)} if box else {})}
            )  # fmt: skip
        return False

    def _reference(self, sha256: str) -> tuple[Fingerprint, list[str]] | None:
        return self._references_with("sha256", sha256).get(sha256)

    def _near_claim(
        self,
        reference: Fingerprint,
        paths: list[str],
        record: Fingerprint,
        distances: dict[str, int],
        variant: str | None,
        outcome: Confirmation | None,
    ) -> Match:
        match = Match(
            relation="near-duplicate",
            score=0.0,
            reference=story.reference_summary(reference, paths),
            distances=distances,
            variant=variant,
            jpeg_quality=story.quality_change(reference, record),
            metadata_diff=story.metadata_diff(reference.metadata, record.metadata),
        )
        hashes = story.hash_story(distances, variant)
        if hashes:
            match.evidence.append(hashes)
        if outcome is None:
            match.score = HASH_ONLY_CONFIDENCE
            match.evidence.append(
                "not confirmed geometrically: the reference file could not be re-read; "
                "claimed on very close hashes alone"
            )
            return match
        match.confirmation = outcome.to_dict()
        t = outcome.transform
        match.transform = t.to_dict() if t else None
        match.score = confidence(outcome)
        match.evidence.append(story.confirmation_story(outcome))
        if t is not None:
            match.evidence.extend(story.transform_story(t))
        q = match.jpeg_quality
        if q.get("reference") and q.get("query") and q["reference"] != q["query"]:
            match.evidence.append(f"JPEG quality {q['reference']} → {q['query']}")
        match.evidence.append(story.metadata_story(match.metadata_diff))
        return match


#: the query's parts searched up close when the whole finds nothing: 60% of each side, in the four
#: corners and the centre (an inset on another photo, a collage cell, a screenshot's picture)
WINDOW = 0.6
#: queries smaller than this on their longest side are not searched in parts (pixels)
MIN_WINDOWED_SIDE = 800
#: candidates tried per part
WINDOW_CANDIDATES = 2


def windows(size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The parts of a query of ``size`` searched up close (none for a small query)."""
    width, height = size
    if max(width, height) < MIN_WINDOWED_SIDE:
        return []
    w, h = round(width * WINDOW), round(height * WINDOW)
    spots = [(0, 0), (width - w, 0), (0, height - h), (width - w, height - h), ((width - w) // 2, (height - h) // 2)]
    return [(x, y, x + w, y + h) for x, y in spots]


def _unreadable(exc: Exception) -> ImageSource:
    def source() -> Image.Image:
        raise exc

    return source
