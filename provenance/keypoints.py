"""A keypoint search over every reference: candidates for the queries global hashes cannot find.

Crops keeping little of the picture, screenshots of a page and collages have global hashes
unrelated to the reference's; their keypoints still are the reference's. Each reference
contributes its strongest ORB descriptors; a query's descriptors vote for the references
holding descriptors within a small Hamming distance. This search is linear in the number of
references (docs/limits.md), so it runs only when no hash candidate confirmed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Protocol

import faiss
import numpy as np

from .features import FEATURES, WORK_SIDE, Features

if TYPE_CHECKING:
    from .index import Index

#: descriptors kept per reference for the search (the strongest by ORB's score). A query uses all of
#: its own: in a screenshot or a collage the strongest ones are often on the page around the picture.
PER_REFERENCE = 400
#: a query descriptor votes for a reference holding one within this many bits (of 256)
VOTE_DISTANCE = 40
#: neighbours looked at per query descriptor (the nearest from another reference is the rival)
NEIGHBOURS = 6
#: the nearest descriptor must be this much closer than the nearest of any other reference
RATIO = 0.8
#: names the descriptors stored in the index: a change of detector settings must not reuse old ones
METHOD = f"orb-{WORK_SIDE}-{FEATURES}-top{PER_REFERENCE}"
#: fewest votes that make a candidate, and how many candidates are returned
MIN_VOTES = 6

TOP = 5


class FeatureSource(Protocol):
    def get(self, sha256: str, paths: list[str]) -> Features | None: ...


class KeypointSearch:
    """The stacked descriptors of a reference set and which reference owns each."""

    def __init__(
        self, owners: list[str], paths: dict[str, list[str]], descriptors: np.ndarray, owner_of: np.ndarray
    ) -> None:
        self._owners = owners
        self._paths = paths
        self._descriptors = descriptors
        self._owner_of = owner_of
        self._index: faiss.IndexBinaryFlat | None = None  # built on first use

    @classmethod
    def build(cls, references: Iterable[tuple[str, list[str], Features | None]]) -> KeypointSearch:
        """From (sha256, paths, features) of each reference; references without features are left out."""
        return cls.build_from_descriptors((sha, where, f.descriptors) for sha, where, f in references if f is not None)

    @classmethod
    def build_from_descriptors(cls, references: Iterable[tuple[str, list[str], np.ndarray]]) -> KeypointSearch:
        """From (sha256, paths, ORB descriptors strongest first) of each reference."""
        owners: list[str] = []
        paths: dict[str, list[str]] = {}
        blocks, owner_blocks = [], []
        for sha256, where, descriptors in references:
            if len(descriptors) == 0:
                continue
            paths[sha256] = where
            owner = len(owners)
            owners.append(sha256)
            descriptors = descriptors[:PER_REFERENCE]
            blocks.append(descriptors)
            owner_blocks.append(np.full(len(descriptors), owner, dtype=np.int32))
        stacked = np.concatenate(blocks) if blocks else np.zeros((0, 32), np.uint8)
        owner_of = np.concatenate(owner_blocks) if owner_blocks else np.zeros(0, np.int32)
        return cls(owners, paths, stacked, owner_of)

    @classmethod
    def for_index(cls, index: Index, source: FeatureSource) -> KeypointSearch:
        """Every image reference of ``index``: descriptors stored in the index, or read through ``source``
        (the reference files) and then stored there for the next run."""

        def compute(sha256: str, paths: list[str]) -> bytes | None:
            features = source.get(sha256, paths)
            return None if features is None else features.descriptors[:PER_REFERENCE].tobytes()

        return cls.build_from_descriptors(
            (sha, where, np.frombuffer(blob, dtype=np.uint8).reshape(-1, 32))
            for sha, where, blob in index.content_features(METHOD, compute)
            if blob is not None
        )

    def __len__(self) -> int:
        return len(self._owners)

    def paths(self, sha256: str) -> list[str]:
        return self._paths.get(sha256, [])

    def _nearest(self, descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances and rows of each descriptor's NEIGHBOURS nearest stored descriptors, nearest first."""
        if self._index is None:
            self._index = faiss.IndexBinaryFlat(256)
            self._index.add(self._descriptors)
        k = min(NEIGHBOURS, len(self._descriptors))
        distances, rows = self._index.search(np.ascontiguousarray(descriptors, dtype=np.uint8), k)
        distances = distances.astype(np.float32)
        if k < NEIGHBOURS:  # fewer stored descriptors than neighbours asked for: pad with "none"
            pad = NEIGHBOURS - k
            distances = np.pad(distances, ((0, 0), (0, pad)), constant_values=np.inf)
            rows = np.pad(rows, ((0, 0), (0, pad)), constant_values=0)
        return distances, rows.astype(np.int64)

    def _votes(self, descriptors: np.ndarray) -> np.ndarray:
        if len(descriptors) == 0 or len(self._descriptors) == 0:
            return np.zeros(len(self._owners), dtype=np.int64)
        distances, rows = self._nearest(descriptors)
        owners = self._owner_of[rows]
        best = owners[:, 0]
        # Lowe's ratio test across references: a descriptor common to many pictures (text, grids,
        # generic corners) votes for none of them
        rival = np.where(owners[:, 1:] != best[:, None], distances[:, 1:], np.inf).min(axis=1, initial=np.inf)
        voting = (distances[:, 0] <= VOTE_DISTANCE) & (distances[:, 0] < RATIO * rival)
        return np.bincount(best[voting], minlength=len(self._owners)).astype(np.int64)

    def candidates(
        self, query: Features, *, exclude: Collection[str] = frozenset(), mirrored: Features | None = None
    ) -> list[tuple[str, int]]:
        """References that the query's keypoints (and its mirror's) vote for: (sha256, votes), most first."""
        if not self._owners:
            return []
        votes = self._votes(query.descriptors)
        if mirrored is not None:
            votes = np.maximum(votes, self._votes(mirrored.descriptors))
        order = np.argsort(-votes, kind="stable")
        found: list[tuple[str, int]] = []
        for owner in order:
            if votes[owner] < MIN_VOTES or len(found) == TOP:
                break
            sha = self._owners[owner]
            if sha not in exclude:
                found.append((sha, int(votes[owner])))
        return found
