"""provenance: image provenance and deduplication for leaked photo sets.

    >>> from provenance import fingerprint
    >>> fp = fingerprint("photo.jpg")
    >>> fp.sha256, fp.hashes["phash"], fp.metadata.get("datetime_original")
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import ProvenanceError  # noqa: E402
from .fingerprint import SCHEMA, Fingerprint, FingerprintOptions, fingerprint  # noqa: E402
from .pool import fingerprint_many  # noqa: E402
from .index import Index  # noqa: E402
from .dedup import DedupOptions, DedupResult, dedup  # noqa: E402

_LAZY = {"match": "matching", "MatchOptions": "matching", "MatchReport": "matching", "Query": "captions"}


def __getattr__(name: str):
    """``match`` and friends load OpenCV: imported on first use, not by every fingerprint worker."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "__version__",
    "MatchOptions",
    "MatchReport",
    "Query",
    "match",
    "SCHEMA",
    "DedupOptions",
    "DedupResult",
    "Fingerprint",
    "FingerprintOptions",
    "Index",
    "ProvenanceError",
    "dedup",
    "fingerprint",
    "fingerprint_many",
]
