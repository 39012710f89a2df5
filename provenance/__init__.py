"""provenance: image provenance and deduplication for leaked photo sets.

    >>> from provenance import fingerprint
    >>> fp = fingerprint("photo.jpg")
    >>> fp.sha256, fp.hashes["phash"], fp.metadata.get("datetime_original")

Every name below is imported on first use, so ``import provenance`` (and a worker process
that only fingerprints) does not pay for OpenCV, FAISS, Numba or Jinja2.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from ._lazy import lazy_exports
from ._version import __version__

if TYPE_CHECKING:
    from .captions import Query  # noqa: F401
    from .dedup import DedupOptions, DedupResult, dedup  # noqa: F401
    from .errors import ProvenanceError  # noqa: F401
    from .fingerprint import SCHEMA, Fingerprint, FingerprintOptions, fingerprint  # noqa: F401
    from .hashes import Hash, HashKind  # noqa: F401
    from .index import Index  # noqa: F401
    from .matching import MatchOptions, MatchReport, match  # noqa: F401
    from .workers import fingerprint_many  # noqa: F401

#: public name → the module that defines it
_PUBLIC = {
    "SCHEMA": "fingerprint",
    "Fingerprint": "fingerprint",
    "FingerprintOptions": "fingerprint",
    "fingerprint": "fingerprint",
    "fingerprint_many": "workers",
    "Index": "index",
    "DedupOptions": "dedup",
    "DedupResult": "dedup",
    "dedup": "dedup",
    "match": "matching",
    "MatchOptions": "matching",
    "MatchReport": "matching",
    "Query": "captions",
    "HashKind": "hashes",
    "Hash": "hashes",
    "ProvenanceError": "errors",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _PUBLIC)


class _Package(types.ModuleType):
    """``provenance.fingerprint`` and ``provenance.dedup`` are the public functions: importing the
    modules of the same names must not put the modules in their place."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _PUBLIC.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["__version__", *_PUBLIC]
