"""Verdicts: how sure a claim is, when hashes alone may claim, and the verdict of a query.

Only confirmed candidates are claimed; a reference whose file cannot be re-read is claimed on
hashes alone only when they are very close and neither picture is flat (blank pages all hash alike).
"""

from __future__ import annotations

from ..fingerprint import Fingerprint
from ..hashes import low_information
from .geometry import Confirmation
from .options import MatchOptions
from .records import QueryResult

#: the confidence of a claim made on very close hashes alone (the reference file could not be re-read)
HASH_ONLY_CONFIDENCE = 0.6


def confidence(outcome: Confirmation) -> float:
    """0.5–0.99 from how many keypoints agree (blocks compared, at thumbnail scale) and how much of the
    overlap agrees."""
    if outcome.extra.get("rule") == "thumbnail-scale":  # less evidence than keypoints: capped lower
        support = 0.8 * min(1.0, outcome.blocks / 100)
    else:
        support = min(1.0, outcome.inliers / 60)
    return round(min(0.99, 0.5 + 0.49 * support * min(1.0, (outcome.agreement - 0.7) / 0.25)), 4)


def no_match_confidence(record: Fingerprint | None, result: QueryResult) -> float:
    """How sure a no-match is: not at all for an unreadable query, less when candidates were rejected."""
    if record is None or (record.error and not record.hashes):
        return 0.0
    return 0.7 if result.rejected else 0.9


def close_enough(distances: dict[str, int], query: Fingerprint, reference: Fingerprint, options: MatchOptions) -> bool:
    """Whether hashes alone may claim: pHash and PDQ (where both have it) very close, neither image flat.
    The rule names these two kinds on purpose: they are the ones its thresholds were measured for."""
    if low_information(query.hashes) or low_information(reference.hashes):
        return False
    phash_ok = distances.get("phash", 99) <= options.hash_only_phash
    pdq_ok = "pdq" not in distances or distances["pdq"] <= options.hash_only_pdq
    return phash_ok and pdq_ok


def settle(result: QueryResult) -> None:
    """The verdict and confidence of a result from its matches, strongest first."""
    result.matches.sort(key=lambda m: (-m.score, m.reference.get("path") or ""))
    if result.matches:
        best = result.matches[0]
        result.verdict, result.confidence = best.relation, best.score
    else:
        result.confidence = no_match_confidence(result.fingerprint, result)
