"""Candidates: the references a query may reuse, found by the index's near search on the hashes of
the query's variants, nearest first. Confirmation decides; these radii are wide on purpose."""

from __future__ import annotations

from dataclasses import dataclass

from .. import hashes as hash_kinds
from ..index import Index
from .options import MatchOptions


@dataclass
class Candidate:
    """One reference the hashes point at, and the variant of the query they were closest on."""

    sha256: str
    variant: str
    distances: dict[str, int]
    paths: list[str]


def hash_candidates(index: Index, variants: list[tuple[str, dict[str, str]]], options: MatchOptions) -> list[Candidate]:
    """The nearest references over all variants of the query, best first, at most ``max_candidates``."""
    kinds = [k.name for k in hash_kinds.kinds() if k.candidates]
    best: dict[str, tuple[float, Candidate]] = {}
    for variant, hashes in variants:
        for near in index.near(hashes, options.candidate_radii, kinds=kinds):
            closeness = hash_kinds.normalised({k: d for k, d in near.distances.items() if k in kinds})
            if near.sha256 not in best or closeness < best[near.sha256][0]:
                best[near.sha256] = (closeness, Candidate(near.sha256, variant, near.distances, near.paths))
    ranked = sorted(best.items(), key=lambda kv: (kv[1][0], kv[0]))[: options.max_candidates]
    return [candidate for _, (_, candidate) in ranked]
