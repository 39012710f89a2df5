"""Matching query images against an index of references: verdicts, evidence and the transform estimate.

The stages, each a module: ``records`` (results), ``options`` (thresholds), ``variants`` (the
query's rotations, flips and trimmed copy), ``candidates`` (near search on their hashes),
``geometry`` and ``confirmation`` (keypoints, homography, aligned pixels), ``evidence``
(sentences), ``verdicts`` (confidence and claims), ``matcher`` (one query's road), ``worker`` (a
query in a worker process), ``batch`` (many queries, in order).

Names are imported on first use: ``matching.options`` and ``matching.records`` do not load OpenCV.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "iter_match": "batch", "match": "batch", "open_references": "batch", "query_inputs": "batch",
    "COMPARED_FIELDS": "evidence", "metadata_diff": "evidence", "Matcher": "matcher", "MatchOptions": "options",
    "SCHEMA": "records", "VERDICTS": "records", "Match": "records", "MatchReport": "records",
    "QueryResult": "records", "trim_borders": "variants",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_PUBLIC)
