"""The records of a match run: one ``Match`` per reference a query reuses, one ``QueryResult`` per
query, the ``MatchReport`` of a run. Field names are a public contract (docs/schema/match.schema.json)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..captions import Query
from ..fingerprint import Fingerprint
from ..forensics import authenticity

SCHEMA = "provenance/match-1"

#: verdicts, strongest first, with the words reports show for them; every one but "no-match" claims reuse
VERDICTS: dict[str, str] = {
    "exact": "exact copy",
    "metadata-only": "metadata-only change",
    "near-duplicate": "near-duplicate",
    "no-match": "no match",
}

#: the facts of the query's fingerprint a result reports beside the query itself
QUERY_FACTS = (
    "size",
    "format",
    "width",
    "height",
    "md5",
    "sha1",
    "sha256",
    "image_data_sha256",
    "name_digest",
    "hashes",
    "jpeg_quality",
    "metadata",
)


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Match:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


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
    fingerprint: Fingerprint | None = None
    error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        fp = self.fingerprint
        return {
            "query": {
                **self.query.to_dict(),
                **{k: getattr(fp, k) if fp else None for k in QUERY_FACTS},
                "authenticity": authenticity(fp.forensics) if fp else None,
            },
            "verdict": self.verdict, "confidence": round(self.confidence, 4),
            "matches": [m.to_dict() for m in self.matches], "evidence": self.evidence,
            "rejected": self.rejected, "error": self.error,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any], fingerprint: Fingerprint | None = None) -> QueryResult:
        """Back from ``to_dict`` (the worker boundary); ``fingerprint`` is the query's whole record."""
        known = set(Query.__dataclass_fields__)
        query = Query(**{k: v for k, v in data["query"].items() if k in known})
        return cls(
            query=query,
            verdict=data["verdict"],
            confidence=data["confidence"],
            matches=[Match.from_dict(m) for m in data["matches"]],
            evidence=list(data["evidence"]),
            rejected=list(data["rejected"]),
            fingerprint=fingerprint,
            error=data.get("error"),
        )


@dataclass
class MatchReport:
    """Every query's result plus the run's parameters."""

    results: list[QueryResult]
    run: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        counts = {v: 0 for v in VERDICTS}
        for r in self.results:
            counts[r.verdict] += 1
        return {
            "schema": SCHEMA,
            "run": self.run,
            "summary": {
                "queries": len(self.results),
                "verdicts": counts,
                "errors": sum(1 for r in self.results if r.error),
            },
            "results": [r.to_dict() for r in self.results],
        }

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.error)
