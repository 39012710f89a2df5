"""Files named by fsspec URLs (``s3://bucket/leak/``, ``gs://…``, ``file:///…``): listing, stat and one read.

Where a Dask user keeps a leak in object storage, ``fingerprint``, ``index``, ``match`` and
``check`` take its URL where they take a folder or a file; the workers (local or on a cluster)
read each object once through fsspec, with the credentials fsspec finds on their machine. A
URL stays the record's ``path``. fsspec and the filesystem's own package (``s3fs``, ``gcsfs``)
are imported only when a URL is met. See docs/scale.md for what a URL cannot do.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import UnreadableFile

if TYPE_CHECKING:
    from .files import FileData, WalkError, WalkStats

_CHUNK = 8 * 1024 * 1024


def _filesystem(url: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError as exc:
        raise UnreadableFile(f"{url}: reading URLs needs fsspec: pip install 'provenance[dask]'") from exc
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:  # an unknown scheme, or its package (s3fs…) not installed
        raise UnreadableFile(f"cannot open {url}: {exc}") from exc


def normalized(url: str) -> str:
    """The URL as fsspec names it (``memory://x`` → ``memory:///x``; no trailing slash)."""
    fs, path = _filesystem(url)
    return str(fs.unstrip_protocol(path.rstrip("/") or "/"))


def is_dir(url: str) -> bool:
    fs, path = _filesystem(url)
    try:
        return bool(fs.isdir(path))
    except OSError:
        return False


def exists(url: str) -> bool:
    fs, path = _filesystem(url)
    try:
        return bool(fs.exists(path))
    except OSError:
        return False


def parent(url: str) -> str:
    """The URL of the folder holding ``url``."""
    return normalized(url).rsplit("/", 1)[0]


def iter_url_files(url: str, *, include_hidden: bool, stats: WalkStats) -> Iterator[str | WalkError]:
    """The files under the URL of a folder (sorted, hidden names skipped unless asked for), or the file itself."""
    from .files import WalkError

    fs, root = _filesystem(url)
    try:
        if not fs.isdir(root):
            stats.files += 1
            yield normalized(url)
            return
        found = sorted(fs.find(root))
    except OSError as exc:
        stats.unlistable.append(url)
        yield WalkError(url, f"cannot list: {exc}")
        return
    base = root.rstrip("/") + "/"
    for path in found:
        relative = path[len(base) :] if path.startswith(base) else path
        if not include_hidden and any(part.startswith(".") for part in relative.split("/")):
            stats.skipped_hidden += 1
            continue
        stats.files += 1
        yield str(fs.unstrip_protocol(path))


def _mtime_ns(info: dict[str, Any], fs: Any = None) -> int | None:
    """The modification time fsspec reports, in whichever key and form the filesystem uses (to the
    nanosecond for ``file://``, as for a local path)."""
    if fs is not None and "file" in _protocols(fs):
        import os

        try:
            return os.stat(info["name"]).st_mtime_ns
        except (OSError, KeyError, TypeError, ValueError):
            pass
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified"):
        value = info.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(round(value * 1_000_000)) * 1000
        if isinstance(value, datetime):
            return int(round(value.timestamp() * 1_000_000)) * 1000
        if isinstance(value, str):
            try:
                return int(round(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1_000_000)) * 1000
            except ValueError:
                continue
    return None


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def stat(url: str) -> tuple[int | None, int | None]:
    """(size, mtime in ns) of the object at ``url``; None for what its filesystem does not say."""
    fs, path = _filesystem(url)
    try:
        info = fs.info(path)
    except (OSError, ValueError):
        return None, None
    size = info.get("size")
    return (size if isinstance(size, int) else None), _mtime_ns(info, fs)


def read_url(url: str, *, max_in_memory: int) -> FileData:
    """Read the object at ``url`` once, as ``files.read_file`` reads a file; ``UnreadableFile`` when it cannot be."""
    from .digests import StreamingDigests
    from .files import FileData, mtime_iso

    fs, path = _filesystem(url)
    try:
        info = fs.info(path)
        if info.get("type") == "directory":
            raise UnreadableFile("a folder, not a file; not read")
        mtime_ns = _mtime_ns(info, fs)
        mtime = mtime_iso(mtime_ns) if mtime_ns is not None else None
        with fs.open(path, "rb") as fh:
            declared = info.get("size")
            if isinstance(declared, int) and declared <= max_in_memory:
                data = fh.read(max_in_memory + 1)
                if len(data) <= max_in_memory:
                    return FileData(url, len(data), mtime, data)
                digests = StreamingDigests()
                digests.update(data)
                size = len(data)
            else:
                digests, size = StreamingDigests(), 0
            while chunk := fh.read(_CHUNK):
                digests.update(chunk)
                size += len(chunk)
            return FileData(url, size, mtime, None, digests.hexdigests())
    except FileNotFoundError as exc:
        raise UnreadableFile(f"file vanished before it could be read: {exc}") from exc
    except OSError as exc:
        raise UnreadableFile(f"read error: {exc}") from exc
