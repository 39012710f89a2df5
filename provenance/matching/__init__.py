"""Matching query images against an index of references: verdicts, evidence and the transform estimate.

The stages, each a module: ``records`` (results), ``options`` (thresholds), ``variants`` (the
query's rotations, flips and trimmed copy), ``candidates`` (near search on their hashes),
``geometry`` and ``confirmation`` (keypoints, homography, aligned pixels), ``evidence``
(sentences), ``verdicts`` (confidence and claims), ``matcher`` (one query's road), ``worker`` (a
query in a worker process), ``batch`` (many queries, in order).

Names are imported on first use: ``matching.options`` and ``matching.records`` do not load OpenCV.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_PUBLIC = {
    "iter_match": "batch", "match": "batch", "open_references": "batch", "query_inputs": "batch",
    "COMPARED_FIELDS": "evidence", "metadata_diff": "evidence", "Matcher": "matcher", "MatchOptions": "options",
    "SCHEMA": "records", "VERDICTS": "records", "Match": "records", "MatchReport": "records",
    "QueryResult": "records", "trim_borders": "variants",
}  # fmt: skip


__getattr__, __dir__ = lazy_exports(__name__, globals(), _PUBLIC)


__all__ = list(_PUBLIC)
