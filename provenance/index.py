"""``Index``: a persistent reference set of fingerprints, updated incrementally and safe to interrupt.

    >>> from provenance import Index
    >>> with Index("leak.db") as index:
    ...     summary = index.add(["LEAK_DIR"])
    ...     hits = index.lookup("8d81a50f5602b385c40b141c4ab16ca7")

A file whose path, size and mtime are unchanged since it was indexed is not read
again. Work is committed in batches, so a run that is killed keeps what it had
committed and the next run carries on from there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from .errors import IndexMismatch, ProvenanceError
from .files import WalkError, iter_files
from .fingerprint import Fingerprint, FingerprintOptions
from .hashes import HASH_KINDS, distance
from .pool import DEFAULT_TIMEOUT, default_jobs, fingerprint_many
from .search import HammingIndex, build_index, hex_to_words
from .store import DIGEST_COLUMNS, HASH_COLUMNS, Store

#: fingerprint options that change what is stored, fixed when the index is created
_BUILD_OPTIONS = ("details", "max_pixels", "exact_hashes")

_HEX = re.compile(r"[0-9a-f]+")


@dataclass
class AddSummary:
    """What one ``Index.add`` run did."""

    seen: int = 0
    unchanged: int = 0
    added: int = 0
    updated: int = 0
    failed: int = 0
    #: (path, error type, message) of the files and folders that could not be fingerprinted in this run
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seen": self.seen, "unchanged": self.unchanged, "added": self.added, "updated": self.updated,
            "failed": self.failed,
            "errors": [{"path": p, "type": t, "message": m} for p, t, m in self.errors],
        }  # fmt: skip


@dataclass
class PruneSummary:
    """What ``Index.prune`` forgot, and the roots it left alone because they are missing."""

    removed: list[str] = field(default_factory=list)
    missing_roots: list[str] = field(default_factory=list)


@dataclass
class Hit:
    """One indexed file whose ``field`` equals the hex that was looked up."""

    field: str
    record: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "record": self.record}


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


#: called once per file walked, with its path and what happened: unchanged, added, updated, failed
ProgressCallback = Callable[[str, str], None]


class Index:
    """An index file of fingerprints (SQLite). ``Index(path)`` creates it when missing unless ``create=False``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        options: FingerprintOptions | None = None,
    ) -> None:
        self.path = os.fspath(path)
        if not create and not os.path.isfile(self.path):
            raise ProvenanceError(f"no index at {self.path}")
        self.store = Store(self.path, create=create)
        self.options = self._settle_options(options)
        self._own_commits = 0
        self._searchers: dict[tuple[str, int], tuple[tuple[int, int], list[str], HammingIndex]] = {}

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _settle_options(self, requested: FingerprintOptions | None) -> FingerprintOptions:
        stored = self.store.get_meta("fingerprint_options")
        if stored is None:
            options = requested or FingerprintOptions()
            self.store.begin()
            self.store.set_meta("fingerprint_options", json.dumps({k: getattr(options, k) for k in _BUILD_OPTIONS}))
            self.store.commit()
            return options
        built = json.loads(stored)
        if requested is not None:
            differ = [k for k in _BUILD_OPTIONS if getattr(requested, k) != built.get(k)]
            if differ:
                raise IndexMismatch(
                    f"{self.path} was built with " + ", ".join(f"{k}={built.get(k)!r}" for k in differ)
                    + "; its records would not be comparable (use a new index for other options)"
                )
            return requested
        return FingerprintOptions(**{k: v for k, v in built.items() if k in _BUILD_OPTIONS})

    # roots -------------------------------------------------------------------------------------

    def roots(self) -> list[str]:
        """The folders the indexed paths are relative to."""
        return list(self.store.roots().values())

    def _root_for(self, path: str, roots: Mapping[int, str] | None = None) -> tuple[int, str] | None:
        """(root id, path relative to it) of the root containing the absolute ``path``."""
        best = None
        for rid, root in (roots if roots is not None else self.store.roots()).items():
            if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
                if best is None or len(root) > len(best[1]):
                    best = (rid, root)
        if best is None:
            return None
        rel = os.path.relpath(path, best[1]) if path != best[1] else ""
        return best[0], rel

    def _ensure_root(self, path: str) -> None:
        """Make ``path`` (absolute) a root unless a root contains it; absorb roots it contains."""
        if self._root_for(path) is not None:
            return
        new_id = self.store.add_root(path)
        prefix = path.rstrip(os.sep) + os.sep
        for rid, root in self.store.roots().items():
            if rid != new_id and root.startswith(prefix):
                self.store.absorb_root(rid, new_id, os.path.relpath(root, path) + os.sep)

    def move_root(self, old: str, new: str) -> None:
        """Re-root: the files indexed under folder ``old`` now live under ``new`` (a moved leak folder)."""
        old_abs, new_abs = os.path.abspath(old), os.path.abspath(new)
        matches = [rid for rid, root in self.store.roots().items() if root == old_abs]
        if not matches:
            raise IndexMismatch(f"{old_abs} is not a root of {self.path}; roots: {', '.join(self.roots()) or 'none'}")
        if self._root_for(new_abs) is not None:
            raise IndexMismatch(f"{new_abs} is already inside a root of {self.path}")
        self.store.begin()
        self.store.move_root(matches[0], new_abs)
        self._commit()

    def _commit(self) -> None:
        self.store.commit()
        self._own_commits += 1

    # adding ------------------------------------------------------------------------------------

    def add(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        jobs: int | None = None,
        follow_symlinks: bool = False,
        include_hidden: bool = False,
        retry_errors: bool = False,
        timeout: float | None = DEFAULT_TIMEOUT,
        progress: ProgressCallback | None = None,
        batch_size: int = 256,
        batch_seconds: float = 2.0,
    ) -> AddSummary:
        """Fingerprint new and changed files under ``paths`` and store them; unchanged files are skipped.

        Files that failed before are not retried unless ``retry_errors``. Work is committed
        every ``batch_size`` files or ``batch_seconds``; an interrupted run keeps every
        committed batch.
        """
        inputs = [os.path.abspath(os.fspath(p)) for p in paths]
        self.store.begin()
        for item in inputs:
            self._ensure_root(item if os.path.isdir(item) else os.path.dirname(item))
        self._commit()

        roots = self.store.roots()
        summary = AddSummary()
        pending: deque[tuple[str, int, str, int | None, bool]] = deque()

        def to_fingerprint() -> Iterator[str]:
            for item in iter_files(inputs, follow_symlinks=follow_symlinks, include_hidden=include_hidden):
                summary.seen += 1
                if isinstance(item, WalkError):
                    summary.failed += 1
                    summary.errors.append((item.path, "UnreadableFile", item.message))
                    if progress:
                        progress(item.path, "failed")
                    continue
                located = self._root_for(item, roots)
                assert located is not None  # every input's folder was made a root above
                root_id, rel = located
                try:
                    st = os.stat(item)
                    size, mtime_ns = st.st_size, st.st_mtime_ns
                except OSError:
                    size = mtime_ns = None
                row = self.store.get_file(root_id, rel)
                if (row is not None and size is not None and row.size == size and row.mtime_ns == mtime_ns
                        and not (retry_errors and row.error_type)):
                    summary.unchanged += 1
                    if progress:
                        progress(item, "unchanged")
                    continue
                pending.append((item, root_id, rel, mtime_ns, row is not None))
                yield item

        records = fingerprint_many(to_fingerprint(), jobs=default_jobs() if jobs is None else jobs,
                                   options=self.options, timeout=timeout)
        in_batch = 0
        started = time.monotonic()
        try:
            for record in records:
                path, root_id, rel, mtime_ns, known = pending.popleft()
                if in_batch == 0:
                    self.store.begin()
                    started = time.monotonic()
                self.store.put(root_id, rel, mtime_ns, record.to_dict())
                in_batch += 1
                if known:
                    summary.updated += 1
                else:
                    summary.added += 1
                status = "updated" if known else "added"
                if record.error is not None:
                    status = "failed"
                    summary.failed += 1
                    summary.errors.append((path, record.error["type"], record.error["message"]))
                if progress:
                    progress(path, status)
                if in_batch >= batch_size or time.monotonic() - started >= batch_seconds:
                    self._commit()
                    in_batch = 0
        except BaseException:
            records.close()
            if in_batch:  # what is stored is complete: keep it (Ctrl-C keeps the work done so far)
                self._commit()
            raise
        if in_batch:
            self._commit()
        if summary.updated:
            self.store.begin()
            self.store.delete_orphan_contents()
            self._commit()
        return summary

    def add_records(self, records: Iterable[Mapping[str, Any]]) -> AddSummary:
        """Store fingerprint records already made (by ``fingerprint_many`` with this index's options),
        all in one transaction: every record is stored, or none is.

        A record whose file has changed size since it was fingerprinted is left out (the next
        ``add`` reads it again); so is one whose file no longer exists.
        """
        summary = AddSummary()
        self.store.begin()
        try:
            for record in records:
                path = os.path.abspath(str(record["path"]))
                summary.seen += 1
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if record.get("size") is not None and st.st_size != record["size"]:
                    continue
                self._ensure_root(os.path.dirname(path))
                located = self._root_for(path)
                assert located is not None  # its folder was made a root above
                known = self.store.get_file(*located) is not None
                self.store.put(located[0], located[1], st.st_mtime_ns, {**record, "path": path})
                summary.updated += known
                summary.added += not known
                if record.get("error"):
                    summary.failed += 1
                    summary.errors.append((path, record["error"]["type"], record["error"]["message"]))
            if summary.updated:
                self.store.delete_orphan_contents()
        except BaseException:
            self.store.rollback()
            raise
        self._commit()
        return summary

    def prune(self) -> PruneSummary:
        """Forget files that no longer exist. Roots whose folder is missing are left alone (moved? see ``move_root``)."""
        summary = PruneSummary()
        roots = self.store.roots()
        present = {rid for rid, root in roots.items() if os.path.isdir(root)}
        summary.missing_roots = [root for rid, root in roots.items() if rid not in present]
        gone: list[int] = []
        for row in self.store.iter_file_rows():
            if row.root_id in present:
                full = os.path.join(roots[row.root_id], row.path)
                if not os.path.lexists(full):
                    gone.append(row.id)
                    summary.removed.append(full)
        self.store.begin()
        self.store.delete_files(gone)
        self.store.delete_orphan_contents()
        self._commit()
        return summary

    # reading -----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.store.count_files()

    def __iter__(self) -> Iterator[Fingerprint]:
        for record in self.records():
            yield Fingerprint.from_dict(record)

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

    def records(self) -> Iterator[dict[str, Any]]:
        """Every indexed file's fingerprint record (as ``Fingerprint.to_dict``), paths absolute."""
        yield from self._with_paths(self.store.iter_records())

    def _with_paths(self, rows: Iterable[tuple[int, str, dict[str, Any]]]) -> Iterator[dict[str, Any]]:
        roots = self.store.roots()
        for root_id, rel, record in rows:
            record["path"] = os.path.join(roots[root_id], rel) if rel else roots[root_id]
            yield _ordered(record)

    def lookup(self, hex_digest: str) -> list[Hit]:
        """Files whose MD5, SHA-1, SHA-256, image-data digest or a perceptual hash equals ``hex_digest``.

        Which fields are tried depends on its length (32: MD5, 40: SHA-1, 64: SHA-256,
        image data, PDQ; 16: pHash, dHash, aHash, wHash; 11: colorhash).
        """
        text = hex_digest.strip().lower()
        if not _HEX.fullmatch(text) or len(text) not in DIGEST_COLUMNS:
            raise ValueError(
                f"not a digest: {hex_digest!r} (expected hex of length "
                + ", ".join(str(n) for n in sorted(DIGEST_COLUMNS)) + ")"
            )
        hits: list[Hit] = []
        for column in DIGEST_COLUMNS[len(text)]:
            hits.extend(Hit(column, r) for r in self._with_paths(self.store.records_with(column, text)))
        return hits

    def lookup_column(self, column: str, value: str) -> list[dict[str, Any]]:
        """Records of the files whose ``column`` (a digest or hash field) equals ``value``."""
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
        self, method: str, compute: Callable[[str, list[str]], bytes | None], *, batch: int = 64,
    ) -> Iterator[tuple[str, list[str], bytes | None]]:
        """(sha256, paths, blob) for every image content: the blob stored under ``method``, or
        ``compute(sha256, paths)``'s, which is then stored (in batches; skipped if the index is read-only).
        ``compute`` returns None when it cannot read the content (then nothing is stored, and it is
        tried again next time: the files may be back after a ``move_root``)."""
        stored = self.store.features(method)
        pending: list[tuple[str, bytes | None]] = []
        writable = True

        def flush() -> None:
            nonlocal writable
            if pending and writable:
                try:
                    self.store.begin()
                    self.store.put_features(method, pending)
                    self._commit()
                except sqlite3.OperationalError:  # a read-only file or a busy writer: compute again next time
                    self.store.rollback()
                    writable = False
            pending.clear()

        for sha, paths in list(self.image_contents()):  # listed first: the loop commits as it goes
            if sha in stored:
                yield sha, paths, stored[sha]
                continue
            blob = compute(sha, paths)
            if blob is not None:
                pending.append((sha, blob))
            if len(pending) >= batch:
                flush()
            yield sha, paths, blob
        flush()

    def answer(self, query: str, *, max_distance: int | Mapping[str, int] | None = None,
               timeout: float | None = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """Everything the index knows about ``query``: a file path (fingerprinted, then looked up) or a hex digest.

        For a file: files with the same bytes (``sha256``), the same image data
        (``image_data_sha256``), files named by its digest or whose digest it is named by,
        and near matches of its perceptual hashes. For a hex digest: exact matches on
        every field of that length, and near matches when it has the length of a pHash
        or a PDQ hash.
        """
        if os.path.isfile(query):
            record = next(iter(fingerprint_many([query], jobs=1, options=self.options, timeout=timeout))).to_dict()
            return {"query": query, "query_type": "file", "error": record.get("error"),
                    **self.lookup_record(record, max_distance=max_distance)}
        hits = self.lookup(query)
        text = query.strip().lower()
        near_kind = {16: "phash", 64: "pdq"}.get(len(text))
        near = []
        if near_kind:
            exact = {h.record.get("sha256") for h in hits}
            near = [m for m in self.near({near_kind: text}, max_distance, kinds=(near_kind,)) if m.sha256 not in exact]
        kinds = "/".join(DIGEST_COLUMNS[len(text)])
        return {"query": query, "query_type": kinds, "hits": [h.to_dict() for h in hits],
                "near": [m.to_dict() for m in near]}

    def lookup_record(self, record: Mapping[str, Any], *,
                      max_distance: int | Mapping[str, int] | None = None) -> dict[str, Any]:
        """Indexed files related to a fingerprint record: same bytes, same image data, named by digest, near."""
        hits: list[Hit] = []
        seen: set[str] = set()

        def collect(field_name: str, rows: Iterable[dict[str, Any]]) -> None:
            for r in rows:  # each file once, under the strongest field that found it
                if r["path"] not in seen:
                    seen.add(r["path"])
                    hits.append(Hit(field_name, r))

        for column in ("sha256", "image_data_sha256"):
            if record.get(column):
                collect(column, self._with_paths(self.store.records_with(column, record[column])))
        stem = os.path.splitext(os.path.basename(record.get("path") or ""))[0].lower()
        if record.get("name_digest") and not record["name_digest"].get("matches") and len(stem) in (32, 40):
            # named like a leak file but not after its own bytes: which file does the name point at?
            collect("named_after", (h.record for h in self.lookup(stem)))
        exact = {h.record.get("sha256") for h in hits if h.field in ("sha256", "image_data_sha256")}
        near = [m for m in self.near(record.get("hashes") or {}, max_distance) if m.sha256 not in exact]
        return {"hits": [h.to_dict() for h in hits], "near": [m.to_dict() for m in near]}

    def near(
        self,
        hashes: Mapping[str, Any],
        max_distance: int | Mapping[str, int] | None = None,
        *,
        kinds: Iterable[str] = ("phash", "pdq"),
    ) -> list[NearMatch]:
        """Indexed contents within ``max_distance`` bits of ``hashes`` (a record's ``hashes``) in any of ``kinds``.

        ``max_distance`` is one radius for every kind or one per kind; by default each
        kind's customary radius (pHash 10, PDQ 31). Nearest first.
        """
        found: dict[str, set[str]] = {}
        for kind in kinds:
            if kind not in HASH_COLUMNS or not hashes.get(kind):
                continue
            radius = _radius(kind, max_distance)
            shas, searcher = self._searcher(kind, radius)
            if not shas:
                continue
            query = hex_to_words([hashes[kind]], searcher.bits)[0]
            rows, _ = searcher.search(query, radius)
            for row in rows:
                found.setdefault(shas[row], set()).add(kind)
        if not found:
            return []
        stored = self.store.content_hashes(sorted(found))
        paths = self.store.paths_of(sorted(found))
        roots = self.store.roots()
        matches = []
        for sha, kinds_found in found.items():
            theirs = stored.get(sha, {})
            distances = {k: distance(hashes[k], theirs[k]) for k in HASH_COLUMNS
                         if hashes.get(k) and theirs.get(k) and len(hashes[k]) == len(theirs[k])}
            matches.append(NearMatch(sha, [os.path.join(roots[r], p) for r, p in paths.get(sha, [])], distances,
                                     sorted(kinds_found)))
        matches.sort(key=lambda m: (_normalised(m.distances), m.sha256))
        return matches

    def _searcher(self, kind: str, radius: int) -> tuple[list[str], HammingIndex]:
        version = (self.store.data_version(), self._own_commits)
        cached = self._searchers.get((kind, radius))
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        shas, values = self.store.hash_column(kind)
        bits = HASH_KINDS[kind].bits if kind in HASH_KINDS else 4 * len(values[0]) if values else 64
        searcher = build_index(hex_to_words(values, bits), radius) if values else None
        self._searchers[(kind, radius)] = (version, shas, searcher)
        return shas, searcher

    def stats(self) -> dict[str, Any]:
        """Counts, formats, cameras, date range and every file that failed, for ``provenance stats``."""
        stats = self.store.stats()
        roots = self.store.roots()
        stats["path"] = self.path
        stats["roots"] = list(roots.values())
        stats["fingerprint_options"] = {k: getattr(self.options, k) for k in _BUILD_OPTIONS}
        stats["errors"] = [
            {"path": os.path.join(roots[r], p), "type": t, "message": m} for r, p, t, m in stats.pop("error_rows")
        ]
        stats["name_digest_mismatches"] = [os.path.join(roots[r], p) for r, p in stats.pop("mismatch_rows")]
        return stats


def _radius(kind: str, max_distance: int | Mapping[str, int] | None) -> int:
    if isinstance(max_distance, int):
        return max_distance
    if max_distance is not None and kind in max_distance:
        return int(max_distance[kind])
    return HASH_KINDS[kind].near_distance if kind in HASH_KINDS else 10


def _normalised(distances: Mapping[str, int]) -> float:
    """A distance comparable across kinds: the smallest fraction of differing bits."""
    fractions = [d / (HASH_KINDS[k].bits if k in HASH_KINDS else 64) for k, d in distances.items()]
    return min(fractions) if fractions else 1.0


def _ordered(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record back in the field order of ``Fingerprint.to_dict``."""
    return Fingerprint.from_dict(record).to_dict()
