"""The ``run`` block of a report: what ran, when, with which settings, on which inputs.

Enough for someone else to reproduce a report and check that they used the same files:
the tool and library versions, the parameters, the reference index with a digest of its
content, and the SHA-256 of every input.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .index import Index

#: the libraries whose versions can change a result (decoders, hashes, geometry, search)
LIBRARIES = (
    "pillow",
    "pillow-heif",
    "imagehash",
    "exifread",
    "numpy",
    "opencv-python-headless",
    "faiss-cpu",
    "numba",
    "pdqhash",
    "c2pa-python",
)


def now() -> str:
    """The current time, UTC, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str | None]:
    """The installed version of each library in ``LIBRARIES`` (None when absent)."""
    found: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def index_facts(index: Index, given_as: str | None = None) -> dict[str, Any]:
    """The reference index of a run: where it is, what it was given as, its size and content digest."""
    return {
        "path": index.path,
        "given_as": given_as or index.path,
        "files": len(index),
        "contents": index.content_count(),
        "content_digest": index.content_digest(),
    }


def file_sha256(path: str) -> str | None:
    """SHA-256 of a file's bytes, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def hash_inputs(counts: Mapping[str | None, int], exact_hashes: bool | None) -> dict[str, Any]:
    """How the run's pHash, dHash and aHash were made: ``exact_hashes`` (the setting the hashes were
    computed with; None when the run only read records) and how many of its records say ``full`` and
    ``reduced`` (``counts``: record ``hash_input`` value → records; docs/fingerprint.md)."""
    return {"exact_hashes": exact_hashes, "full": counts.get("full", 0), "reduced": counts.get("reduced", 0)}


def run_block(
    *,
    started: str,
    parameters: dict[str, Any],
    inputs: Iterable[dict[str, Any]],
    index: dict[str, Any] | None = None,
    hash_input: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A report's ``run`` block (docs/reports.md); ``hash_input`` from ``hash_inputs``."""
    return {
        "tool": f"provenance {__version__}",
        "versions": versions(),
        "started": started,
        "finished": now(),
        "parameters": parameters,
        "hash_input": hash_input,
        "index": index,
        "inputs": list(inputs),
    }
