"""Answers of ``provenance lookup``: what an index knows about a hex digest, a hash or a file."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import hashes as hash_kinds
from .defaults import DEFAULT_TIMEOUT
from .files import file_kind
from .fingerprint import Fingerprint
from .workers import fingerprint_many

if TYPE_CHECKING:
    from .index import Hit, Index


def answer(
    index: Index,
    query: str,
    *,
    max_distance: int | Mapping[str, int] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Everything ``index`` knows about ``query``: a file path (fingerprinted, then looked up) or a hex digest.

    For a file: files with the same bytes (``sha256``), the same image data
    (``image_data_sha256``), files named by its digest or whose digest it is named by,
    and near matches of its perceptual hashes. For a hex digest: exact matches on every
    field of that length, and near matches in every kind of that length that ``lookup``
    searches (pHash for 16 digits, PDQ for 64).
    """
    kind_of_file = file_kind(query)
    if kind_of_file == "file":
        record = next(iter(fingerprint_many([query], jobs=1, options=index.options, timeout=timeout)))
        return {
            "query": query,
            "query_type": "file",
            "error": record.error,
            **lookup_record(index, record, max_distance=max_distance),
        }
    if kind_of_file is not None:
        return {
            "query": query,
            "query_type": "file",
            "hits": [],
            "near": [],
            "error": {"type": "UnreadableFile", "message": f"not a regular file ({kind_of_file}); not read"},
        }
    hits = index.lookup(query)
    text = query.strip().lower()
    near_kinds = [k.name for k in hash_kinds.kinds_by_hex_length().get(len(text), []) if k.near_search]
    near = []
    if near_kinds:
        exact = {h.record.sha256 for h in hits}
        near = [
            m
            for m in index.near({k: text for k in near_kinds}, max_distance, kinds=near_kinds)
            if m.sha256 not in exact
        ]
    return {
        "query": query,
        "query_type": "/".join(index.lookup_columns(len(text))),
        "hits": [h.to_dict() for h in hits],
        "near": [m.to_dict() for m in near],
    }


def lookup_record(
    index: Index, record: Fingerprint, *, max_distance: int | Mapping[str, int] | None = None
) -> dict[str, Any]:
    """Indexed files related to a fingerprint: same bytes, same image data, named by digest, near."""
    from .index import Hit

    hits: list[Hit] = []
    seen: set[str] = set()

    def collect(field_name: str, rows: Iterable[Fingerprint]) -> None:
        for r in rows:  # each file once, under the strongest field that found it
            if r.path not in seen:
                seen.add(r.path or "")
                hits.append(Hit(field_name, r))

    for column in ("sha256", "image_data_sha256"):
        value = getattr(record, column)
        if value:
            collect(column, index.lookup_column(column, value))
    stem = os.path.splitext(os.path.basename(record.path or ""))[0].lower()
    if record.name_digest and not record.name_digest.get("matches") and len(stem) in (32, 40):
        # named like a leak file but not after its own bytes: which file does the name point at?
        collect("named_after", (h.record for h in index.lookup(stem)))
    exact = {h.record.sha256 for h in hits if h.field in ("sha256", "image_data_sha256")}
    near = [m for m in index.near(record.hashes, max_distance) if m.sha256 not in exact]
    return {"hits": [h.to_dict() for h in hits], "near": [m.to_dict() for m in near]}
