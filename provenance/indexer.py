"""Updating an index: walking inputs, fingerprinting what is new or changed, adding, pruning, re-rooting.

A file whose path, size and mtime are unchanged since it was indexed is not read again.
Work is committed in batches, so a run that is killed keeps what it had committed and the
next run carries on from there.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import hashes as hash_kinds
from .defaults import DEFAULT_TIMEOUT
from .errors import IndexMismatch
from .files import WalkError, absolute, folder_of, is_folder, iter_files, lexists, size_and_mtime
from .fingerprint import Fingerprint
from .workers import default_jobs, fingerprint_many_with_keys

if TYPE_CHECKING:
    from .cluster import Scheduler
    from .index import Index

#: called once per file walked, with its path and what happened: unchanged, added, updated, failed
ProgressCallback = Callable[[str, str], None]


@dataclass
class AddSummary:
    """What one ``add`` run did."""

    seen: int = 0
    unchanged: int = 0
    added: int = 0
    updated: int = 0
    failed: int = 0
    #: image contents whose keypoint search keys were made and stored in this run
    keys_added: int = 0
    #: image contents whose keys were given their inverted-file list numbers in this run
    lists_added: int = 0
    #: (path, error type, message) of the files and folders that could not be fingerprinted in this run
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seen": self.seen, "unchanged": self.unchanged, "added": self.added, "updated": self.updated,
            "failed": self.failed, "keys_added": self.keys_added, "lists_added": self.lists_added,
            "errors": [{"path": p, "type": t, "message": m} for p, t, m in self.errors],
        }  # fmt: skip


@dataclass
class PruneSummary:
    """What ``prune`` forgot, and the roots it left alone because they are missing."""

    removed: list[str] = field(default_factory=list)
    missing_roots: list[str] = field(default_factory=list)


def _keys_method() -> str:
    from .keypoints import METHOD

    return METHOD


def _hash_fields() -> list[str]:
    """The record keys stored as one ``hashes`` row each: every registered kind's value."""
    return list(hash_kinds.registered())


def root_for(path: str, roots: Mapping[int, str]) -> tuple[int, str] | None:
    """(root id, path relative to it) of the innermost root containing the absolute ``path``."""
    best = None
    for rid, root in roots.items():
        if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
            if best is None or len(root) > len(best[1]):
                best = (rid, root)
    if best is None:
        return None
    rel = os.path.relpath(path, best[1]) if path != best[1] else ""
    return best[0], rel


def _ensure_root(index: Index, path: str) -> None:
    """Make ``path`` (absolute) a root unless a root contains it; absorb the roots it contains."""
    store = index.store
    if root_for(path, store.roots()) is not None:
        return
    new_id = store.add_root(path)
    prefix = path.rstrip(os.sep) + os.sep
    for rid, root in store.roots().items():
        if rid != new_id and root.startswith(prefix):
            store.absorb_root(rid, new_id, os.path.relpath(root, path) + os.sep)


def move_root(index: Index, old: str, new: str) -> None:
    """Re-root: the files indexed under folder ``old`` now live under ``new`` (a moved leak folder)."""
    old_abs, new_abs = os.path.abspath(old), os.path.abspath(new)
    roots = index.store.roots()
    matches = [rid for rid, root in roots.items() if root == old_abs]
    if not matches:
        raise IndexMismatch(f"{old_abs} is not a root of {index.path}; roots: {', '.join(index.roots()) or 'none'}")
    if root_for(new_abs, roots) is not None:
        raise IndexMismatch(f"{new_abs} is already inside a root of {index.path}")
    index.store.begin()
    index.store.move_root(matches[0], new_abs)
    index.commit()


def add(
    index: Index,
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
    debug: bool = False,
    keys: bool = True,
    scheduler: Scheduler | None = None,
    lists_progress: Callable[[int, int], None] | None = None,
) -> AddSummary:
    """Fingerprint new and changed files under ``paths`` and store them; unchanged files are skipped.

    With ``keys`` (the default), each image's keypoint search keys are made by the same worker from
    the same read of the file and stored beside its record, so no query has to read references;
    an unchanged image whose content has no keys yet (an index made before keys, or with
    ``keys=False``) is read once more to make them. Above the exhaustive search's size the keys'
    inverted-file lists are then brought up to date (``keypoints.store_lists``: the new contents'
    list numbers, ``lists_progress(done, total)`` after each batch), so no match worker has to
    assign them. With a ``scheduler`` (``cluster.py``), the files are fingerprinted by that Dask
    cluster's workers and stored here, by this process.
    Files that failed before are not retried unless ``retry_errors``. Work is committed every
    ``batch_size`` files or ``batch_seconds``; an interrupted run keeps every committed batch.
    """
    store = index.store
    inputs = [absolute(os.fspath(p)) for p in paths]
    store.begin()
    for item in inputs:
        _ensure_root(index, item if is_folder(item) else folder_of(item))
    index.commit()

    roots = store.roots()
    summary = AddSummary()
    # (path, root, relative path, mtime, known before, unchanged and read again for its keys only)
    pending: deque[tuple[str, int, str, int | None, bool, bool]] = deque()
    method = _keys_method() if keys else None
    keyless = store.contents_without_features(method) if method else set()

    def to_fingerprint() -> Iterator[str]:
        for item in iter_files(inputs, follow_symlinks=follow_symlinks, include_hidden=include_hidden):
            summary.seen += 1
            if isinstance(item, WalkError):
                summary.failed += 1
                summary.errors.append((item.path, "UnreadableFile", item.message))
                if progress:
                    progress(item.path, "failed")
                continue
            located = root_for(item, roots)
            assert located is not None  # every input's folder was made a root above
            root_id, rel = located
            size, mtime_ns = size_and_mtime(item)
            row = store.get_file(root_id, rel)
            if (
                row is not None
                and size is not None
                and mtime_ns is not None  # an object store that gives no time: read it again
                and row.size == size
                and row.mtime_ns == mtime_ns
                and not (retry_errors and row.error_type)
            ):
                if row.sha256 in keyless:
                    keyless.discard(row.sha256)  # one of its paths is enough
                    pending.append((item, root_id, rel, mtime_ns, True, True))
                    yield item
                    continue
                summary.unchanged += 1
                if progress:
                    progress(item, "unchanged")
                continue
            pending.append((item, root_id, rel, mtime_ns, row is not None, False))
            yield item

    hash_fields = _hash_fields()
    records: Generator[tuple[Fingerprint, bytes | None], None, None] = fingerprint_many_with_keys(
        to_fingerprint(),
        jobs=default_jobs() if jobs is None else jobs,
        options=index.options,
        timeout=timeout,
        debug=debug,
        keys=keys,
        scheduler=scheduler,
    )
    in_batch = 0
    started = time.monotonic()
    try:
        for record, blob in records:
            path, root_id, rel, mtime_ns, known, for_keys = pending.popleft()
            if in_batch == 0:
                store.begin()
                started = time.monotonic()
            store.put(root_id, rel, mtime_ns, record.to_dict(), hash_fields)
            if method and blob is not None and record.sha256:
                store.put_features(method, [(record.sha256, blob)])
                summary.keys_added += 1
            in_batch += 1
            status = "updated" if known else "added"
            if for_keys and not record.error:
                status = "unchanged"  # read again for its keys only (if its bytes changed, the new ones are stored)
                summary.unchanged += 1
            elif known:
                summary.updated += 1
            else:
                summary.added += 1
            if record.error:
                status = "failed"
                summary.failed += 1
                summary.errors.append((path, record.error["type"], record.error["message"]))
            if progress:
                progress(path, status)
            if in_batch >= batch_size or time.monotonic() - started >= batch_seconds:
                index.commit()
                in_batch = 0
    except BaseException:
        records.close()
        if in_batch:  # what is stored is complete: keep it (Ctrl-C keeps the work done so far)
            index.commit()
        raise
    if in_batch:
        index.commit()
    if summary.updated:
        store.begin()
        store.delete_orphan_contents()
        index.commit()
    if method:
        from .keypoints import store_lists

        summary.lists_added = store_lists(index, lists_progress)
    return summary


def add_records(index: Index, records: Iterable[Fingerprint | Mapping[str, Any]], *, commit: bool = True) -> AddSummary:
    """Store fingerprint records already made (by ``fingerprint_many`` with this index's options),
    all in one transaction: every record is stored, or none is. With ``commit=False`` the
    transaction is left open for the caller to commit (``index.commit()``) or roll back.

    A record whose file has changed size since it was fingerprinted is left out (the next
    ``add`` reads it again); so is one whose file no longer exists.
    """
    store = index.store
    summary = AddSummary()
    hash_fields = _hash_fields()
    store.begin()
    try:
        for item in records:
            record = item.to_dict() if isinstance(item, Fingerprint) else dict(item)
            path = absolute(str(record["path"]))
            summary.seen += 1
            size, mtime_ns = size_and_mtime(path)
            if size is None:
                continue
            if record.get("size") is not None and size != record["size"]:
                continue
            _ensure_root(index, folder_of(path))
            located = root_for(path, store.roots())
            assert located is not None  # its folder was made a root above
            known = store.get_file(*located) is not None
            store.put(located[0], located[1], mtime_ns, {**record, "path": path}, hash_fields)
            summary.updated += known
            summary.added += not known
            if record.get("error"):
                summary.failed += 1
                summary.errors.append((path, record["error"]["type"], record["error"]["message"]))
        if summary.updated:
            store.delete_orphan_contents()
    except BaseException:
        store.rollback()
        raise
    if commit:
        index.commit()
    return summary


def prune(index: Index) -> PruneSummary:
    """Forget files that no longer exist. Roots whose folder is missing are left alone (moved? see ``move_root``)."""
    store = index.store
    summary = PruneSummary()
    roots = store.roots()
    present = {rid for rid, root in roots.items() if is_folder(root)}
    summary.missing_roots = [root for rid, root in roots.items() if rid not in present]
    gone: list[int] = []
    for row in store.iter_file_rows():
        if row.root_id in present:
            full = os.path.join(roots[row.root_id], row.path)
            if not lexists(full):
                gone.append(row.id)
                summary.removed.append(full)
    store.begin()
    store.delete_files(gone)
    store.delete_orphan_contents()
    index.commit()
    return summary
