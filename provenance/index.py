"""``Index``: a persistent reference set of fingerprints and the queries over it.

    >>> from provenance import Index
    >>> with Index("leak.db") as index:
    ...     summary = index.add(["LEAK_DIR"])
    ...     hits = index.lookup("8d81a50f5602b385c40b141c4ab16ca7")

Updating (walking, fingerprinting, adding, pruning) is ``indexer.py``; answering the
``lookup`` command is ``lookup.py``; the SQL is ``store.py``. Records come out as
``Fingerprint`` dataclasses with absolute paths.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import hashes as hash_kinds
from .errors import IndexMismatch, UsageError
from .fingerprint import Fingerprint, FingerprintOptions
from .store import DIGEST_COLUMNS, Store

if TYPE_CHECKING:
    from .indexer import AddSummary, PruneSummary
    from .search import HammingIndex

#: fingerprint options that change what is stored, fixed when the index is created
BUILD_OPTIONS = ("details", "max_pixels", "exact_hashes")

#: stored feature blobs ``content_features`` reads at a time (about 13 MB of keypoint descriptors)
FEATURES_READ = 1_000

_FIXED_LIMIT = "the limit the index was built with"

_HEX = re.compile(r"[0-9a-f]+")


@dataclass
class Hit:
    """One indexed file whose ``field`` equals the hex that was looked up."""

    field: str
    record: Fingerprint

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "record": self.record.to_dict()}


@dataclass
class NearMatch:
    """One indexed content within the search radius of a query's hashes."""

    sha256: str
    paths: list[str]
    #: Hamming distance per hash kind both sides have
    distances: dict[str, int]
    #: the kinds whose search found it
    found_by: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "paths": self.paths, "distances": self.distances, "found_by": self.found_by}


class Index:
    """An index file of fingerprints (SQLite).

    ``Index(path)`` creates the file when it is missing; ``create=False`` refuses to. With
    ``writable=False`` nothing is ever written (read-only commands; a read-only file works).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        writable: bool = True,
        options: FingerprintOptions | None = None,
    ) -> None:
        self.path = os.fspath(path)
        if not create and not os.path.lexists(self.path):
            raise UsageError(f"no index at {self.path}")
        self.store = Store(self.path, create=create, writable=writable or create)
        self.options = self._settle_options(options)
        self._own_commits = 0
        self._searchers: dict[tuple[str, int], tuple[tuple[int, int], list[str], HammingIndex | None]] = {}

    @property
    def writable(self) -> bool:
        return self.store.writable

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _settle_options(self, requested: FingerprintOptions | None) -> FingerprintOptions:
        stored = self.store.get_meta("fingerprint_options")
        if stored is None:
            options = requested or FingerprintOptions()
            if self.writable:
                self.store.begin()
                self.store.set_meta("fingerprint_options", json.dumps({k: getattr(options, k) for k in BUILD_OPTIONS}))
                self.store.commit()
            return options
        built = json.loads(stored)
        if requested is not None:
            differ = [k for k in BUILD_OPTIONS if getattr(requested, k) != built.get(k)]
            if differ:
                raise IndexMismatch(
                    f"{self.path} was built with "
                    + ", ".join(f"{k}={built.get(k)!r}" for k in differ)
                    + "; its records would not be comparable (use a new index for other options)"
                )
            return requested
        return FingerprintOptions(
            **{k: v for k, v in built.items() if k in BUILD_OPTIONS}, max_pixels_hint=_FIXED_LIMIT
        )

    def commit(self) -> None:
        """Commit the store's open transaction (counted, so cached search structures are rebuilt)."""
        self.store.commit()
        self._own_commits += 1

    # updating (indexer.py) -----------------------------------------------------------------------

    def add(self, paths: Iterable[str | os.PathLike[str]], **options: Any) -> AddSummary:
        """Fingerprint new and changed files under ``paths`` and store them (``indexer.add``)."""
        from . import indexer

        return indexer.add(self, paths, **options)

    def add_records(self, records: Iterable[Fingerprint | Mapping[str, Any]]) -> AddSummary:
        """Store fingerprint records already made, all in one transaction (``indexer.add_records``)."""
        from . import indexer

        return indexer.add_records(self, records)

    def prune(self) -> PruneSummary:
        """Forget files that no longer exist (``indexer.prune``)."""
        from . import indexer

        return indexer.prune(self)

    def move_root(self, old: str, new: str) -> None:
        """The files indexed under folder ``old`` now live under ``new`` (``indexer.move_root``)."""
        from . import indexer

        indexer.move_root(self, old, new)

    # reading -----------------------------------------------------------------------------------

    def roots(self) -> list[str]:
        """The folders the indexed paths are relative to."""
        return list(self.store.roots().values())

    def __len__(self) -> int:
        return self.store.count_files()

    def __iter__(self) -> Iterator[Fingerprint]:
        return self.records()

    def content_count(self) -> int:
        """How many distinct contents (by SHA-256) the index holds."""
        return self.store.count_contents()

    def content_digest(self) -> str:
        """SHA-256 over the sorted, distinct SHA-256 hex digests of the indexed files, one per line.

        The same as ``sha256sum FILES | cut -c1-64 | LC_ALL=C sort -u | sha256sum`` over the
        files the index holds: two indexes of the same files agree wherever they live.
        """
        digest = hashlib.sha256()
        for sha256 in self.store.content_sha256s():
            digest.update(sha256.encode("ascii") + b"\n")
        return digest.hexdigest()

    def records(self) -> Iterator[Fingerprint]:
        """Every indexed file's fingerprint, paths absolute, in path order."""
        return self._with_paths(self.store.iter_records())

    def _with_paths(self, rows: Iterable[tuple[int, str, dict[str, Any]]]) -> Iterator[Fingerprint]:
        roots = self.store.roots()
        for root_id, rel, record in rows:
            record["path"] = os.path.join(roots[root_id], rel) if rel else roots[root_id]
            yield Fingerprint.from_dict(record)

    def lookup_columns(self, hex_length: int) -> list[str]:
        """The digest columns and hash kinds a hex value of this length is looked up in."""
        return [
            *DIGEST_COLUMNS.get(hex_length, ()),
            *(k.name for k in hash_kinds.kinds_by_hex_length().get(hex_length, [])),
        ]

    def lookup(self, hex_digest: str) -> list[Hit]:
        """Files whose MD5, SHA-1, SHA-256, image-data digest or a hash of any kind equals ``hex_digest``.

        Which fields are tried depends on its length (32: MD5, 40: SHA-1, 64: SHA-256, image
        data, PDQ; 16: pHash, dHash, aHash, wHash and 64-bit plugin kinds; 11: colorhash).
        """
        text = hex_digest.strip().lower()
        columns = self.lookup_columns(len(text))
        if not _HEX.fullmatch(text) or not columns:
            lengths = sorted({*DIGEST_COLUMNS, *hash_kinds.kinds_by_hex_length()})
            raise UsageError(
                f"not a digest: {hex_digest!r} (expected hex of length " + ", ".join(str(n) for n in lengths) + ")"
            )
        hits: list[Hit] = []
        for column in columns:
            hits.extend(Hit(column, r) for r in self.lookup_column(column, text))
        return hits

    def lookup_column(self, column: str, value: str) -> list[Fingerprint]:
        """Records of the files whose digest column or hash kind ``column`` equals ``value``."""
        if column in hash_kinds.registered():
            return list(self._with_paths(self.store.records_with_hash(column, value)))
        return list(self._with_paths(self.store.records_with(column, value)))

    def image_contents(self) -> Iterator[tuple[str, list[str]]]:
        """(sha256, absolute paths) of every indexed image content."""
        roots = self.store.roots()
        current: str | None = None
        paths: list[str] = []
        for sha, root_id, rel in self.store.image_files():
            if sha != current:
                if current is not None:
                    yield current, paths
                current, paths = sha, []
            paths.append(os.path.join(roots[root_id], rel) if rel else roots[root_id])
        if current is not None:
            yield current, paths

    def content_features(
        self,
        method: str,
        compute: Callable[[str, list[str]], bytes | None],
        *,
        batch: int = 64,
    ) -> Iterator[tuple[str, list[str], bytes | None]]:
        """(sha256, paths, blob) for every image content: the blob stored under ``method``, or
        ``compute(sha256, paths)``'s, which is then stored (in batches) when the index is writable.
        ``compute`` returns None when it cannot read the content (then nothing is stored, and it is
        tried again next time: the files may be back after a ``move_root``). The stored blobs are
        read FEATURES_READ at a time, so a caller that lets each go holds only a batch of them."""
        pending: list[tuple[str, bytes]] = []
        writable = self.writable

        def flush() -> None:
            nonlocal writable
            if pending and writable:
                try:
                    self.store.begin()
                    self.store.put_features(method, pending)
                    self.commit()
                except (
                    sqlite3.OperationalError
                ):  # a busy writer or a file made read-only since: compute again next time
                    self.store.rollback()
                    writable = False
            pending.clear()

        contents = list(self.image_contents())  # listed first: the loop commits as it goes
        for start in range(0, len(contents), FEATURES_READ):
            part = contents[start : start + FEATURES_READ]
            stored = self.store.features_of(method, [sha for sha, _ in part])
            for sha, paths in part:
                if sha in stored:
                    yield sha, paths, stored.pop(sha)
                    continue
                blob = compute(sha, paths)
                if blob is not None:
                    pending.append((sha, blob))
                if len(pending) >= batch:
                    flush()
                yield sha, paths, blob
        flush()

    def near(
        self,
        hashes: Mapping[str, Any],
        max_distance: int | Mapping[str, int] | None = None,
        *,
        kinds: Iterable[str] | None = None,
    ) -> list[NearMatch]:
        """Indexed contents within ``max_distance`` bits of ``hashes`` (a record's ``hashes``) in any of ``kinds``.

        ``kinds`` defaults to every kind with ``near_search``; ``max_distance`` is one radius
        for every kind or one per kind, by default each kind's near radius. Nearest first.
        """
        registry = hash_kinds.registered()
        names = [k.name for k in hash_kinds.kinds() if k.near_search] if kinds is None else list(kinds)
        found: dict[str, set[str]] = {}
        for name in names:
            kind = registry.get(name)
            if kind is None or not kind.available or not isinstance(hashes.get(name), str):
                continue
            radius = _radius(kind, max_distance)
            shas, searcher = self._searcher(kind, radius)
            if searcher is None:
                continue
            rows, _ = searcher.search(kind.words([hashes[name]])[0], radius)
            for row in rows:
                found.setdefault(shas[row], set()).add(name)
        if not found:
            return []
        stored = self.store.content_hashes(sorted(found))
        paths = self.store.paths_of(sorted(found))
        roots = self.store.roots()
        matches = []
        for sha, kinds_found in found.items():
            matches.append(
                NearMatch(
                    sha,
                    [os.path.join(roots[r], p) for r, p in paths.get(sha, [])],
                    hash_kinds.distances(hashes, stored.get(sha, {})),
                    sorted(kinds_found),
                )
            )
        matches.sort(key=lambda m: (hash_kinds.normalised(m.distances), m.sha256))
        return matches

    def _searcher(self, kind: hash_kinds.HashKind, radius: int) -> tuple[list[str], HammingIndex | None]:
        version = (self.store.data_version(), self._own_commits)
        cached = self._searchers.get((kind.name, radius))
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        shas, values = self.store.hash_column(kind.name)
        searcher = kind.build_index(values, radius) if values else None
        self._searchers[(kind.name, radius)] = (version, shas, searcher)
        return shas, searcher

    def stats(self) -> dict[str, Any]:
        """Counts, formats, cameras, date range and every file that failed, for ``provenance stats``."""
        stats = self.store.stats()
        roots = self.store.roots()
        stats["path"] = self.path
        stats["roots"] = list(roots.values())
        stats["fingerprint_options"] = {k: getattr(self.options, k) for k in BUILD_OPTIONS}
        stats["errors"] = [
            {"path": os.path.join(roots[r], p), "type": t, "message": m} for r, p, t, m in stats.pop("error_rows")
        ]
        stats["name_digest_mismatches"] = [os.path.join(roots[r], p) for r, p in stats.pop("mismatch_rows")]
        return stats


def _radius(kind: hash_kinds.HashKind, max_distance: int | Mapping[str, int] | None) -> int:
    if isinstance(max_distance, int):
        return max_distance
    if max_distance is not None and kind.name in max_distance:
        return int(max_distance[kind.name])
    return int(kind.near_radius or 0)
