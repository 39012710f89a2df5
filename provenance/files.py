"""Walking inputs and reading each file once.

Order is deterministic: inputs in the order given, directories depth-first with
entries sorted by name. Symlinks met while walking are skipped unless asked for
(paths named explicitly are always followed, as ``find -H`` does); hidden names
(starting with ``.``) are skipped unless asked for.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .defaults import DEFAULT_MAX_IN_MEMORY
from .errors import UnreadableFile

_CHUNK = 8 * 1024 * 1024
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: str) -> bool:
    """Whether ``path`` is a URL (``s3://…``, ``file:///…``) rather than a local path."""
    return bool(_URL.match(path))


def absolute(path: str) -> str:
    """``path`` made absolute; a URL in fsspec's spelling of it."""
    if is_url(path):
        from .storage import normalized

        return normalized(path)
    return os.path.abspath(path)


def is_folder(path: str) -> bool:
    """Whether ``path`` (or a URL) names a folder."""
    if is_url(path):
        from .storage import is_dir

        return is_dir(path)
    return os.path.isdir(path)


def folder_of(path: str) -> str:
    """The folder holding ``path`` (or a URL)."""
    if is_url(path):
        from .storage import parent

        return parent(path)
    return os.path.dirname(path)


def size_and_mtime(path: str) -> tuple[int | None, int | None]:
    """(size, mtime in ns) of ``path`` (or a URL), following symlinks; None for what cannot be known."""
    if is_url(path):
        from .storage import stat as url_stat

        return url_stat(path)
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None, None
    return st.st_size, st.st_mtime_ns


def lexists(path: str) -> bool:
    """Whether ``path`` (or a URL) names something, a dangling symlink included."""
    if is_url(path):
        from .storage import exists

        return exists(path)
    return os.path.lexists(path)


@dataclass
class WalkStats:
    """What a walk left out, for the summary line."""

    files: int = 0
    skipped_symlinks: int = 0
    skipped_hidden: int = 0
    unlistable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WalkError:
    """A directory that could not be listed; it becomes an error record."""

    path: str
    message: str


def iter_files(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    follow_symlinks: bool = False,
    include_hidden: bool = False,
    stats: WalkStats | None = None,
) -> Iterator[str | WalkError]:
    """Yield the files under ``inputs`` (files given directly are yielded as they are); fsspec URLs
    (``s3://bucket/leak/``) are listed through fsspec (``storage.py``)."""
    stats = stats if stats is not None else WalkStats()
    for item in inputs:
        path = os.fspath(item)
        if is_url(path):
            from .storage import iter_url_files

            try:
                yield from iter_url_files(path, include_hidden=include_hidden, stats=stats)
            except UnreadableFile as exc:
                stats.unlistable.append(path)
                yield WalkError(path, str(exc))
        elif os.path.isdir(path):
            ancestors = {_dir_key(path)}
            yield from _walk(path, follow_symlinks, include_hidden, stats, ancestors)
        else:
            stats.files += 1
            yield path


def _dir_key(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def _walk(
    top: str,
    follow_symlinks: bool,
    include_hidden: bool,
    stats: WalkStats,
    ancestors: set[tuple[int, int]],
) -> Iterator[str | WalkError]:
    try:
        with os.scandir(top) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        stats.unlistable.append(top)
        yield WalkError(top, f"cannot list directory: {exc.strerror or exc}")
        return
    for entry in entries:
        if not include_hidden and entry.name.startswith("."):
            stats.skipped_hidden += 1
            continue
        try:
            is_link = entry.is_symlink()
            if is_link and not follow_symlinks:
                stats.skipped_symlinks += 1
                continue
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            is_dir = False
        if is_dir:
            try:
                key = _dir_key(entry.path)
            except OSError as exc:
                yield WalkError(entry.path, f"cannot list directory: {exc.strerror or exc}")
                continue
            if key in ancestors:  # a symlink loop back to a directory being walked
                stats.skipped_symlinks += 1
                continue
            yield from _walk(entry.path, follow_symlinks, include_hidden, stats, ancestors | {key})
        else:
            stats.files += 1
            yield entry.path


@dataclass
class FileData:
    """One read of one file: its bytes (or ``None`` when too large to hold) and its stat."""

    path: str
    size: int
    mtime: str | None
    data: bytes | None
    #: digests computed while streaming a file too large to hold in memory
    streamed_digests: dict[str, str] | None = None


def mtime_iso(st_mtime_ns: int) -> str:
    """The modification time as ISO 8601 in UTC with microseconds."""
    seconds, nanos = divmod(st_mtime_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc).replace(microsecond=nanos // 1000)
    return moment.isoformat().replace("+00:00", "Z")


def read_file(path: str, *, follow_symlinks: bool = True, max_in_memory: int = DEFAULT_MAX_IN_MEMORY) -> FileData:
    """Read ``path`` (or an fsspec URL) once; raise ``UnreadableFile`` for anything that is not a
    readable regular file."""
    from .digests import StreamingDigests

    if is_url(path):
        from .storage import read_url

        return read_url(path, max_in_memory=max_in_memory)

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise UnreadableFile(f"file vanished before it could be read: {exc.strerror}") from exc
    except OSError as exc:
        raise UnreadableFile(f"cannot open: {exc.strerror or exc}") from exc
    except ValueError as exc:  # a NUL byte in a name taken from a page or a manifest
        raise UnreadableFile("the path contains a NUL byte; not read") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile(f"not a regular file ({special_kind(st.st_mode)}); not read")
        mtime = mtime_iso(st.st_mtime_ns)
        with os.fdopen(fd, "rb", buffering=0, closefd=False) as fh:
            if st.st_size <= max_in_memory:
                chunks = []
                while True:
                    chunk = fh.read(max(st.st_size, _CHUNK))
                    if not chunk:
                        break
                    chunks.append(chunk)
                data = b"".join(chunks)  # no copy when there is one chunk
                return FileData(path, len(data), mtime, data)
            digests = StreamingDigests()
            size = 0
            while chunk := fh.read(_CHUNK):
                digests.update(chunk)
                size += len(chunk)
            return FileData(path, size, mtime, None, digests.hexdigests())
    except OSError as exc:
        raise UnreadableFile(f"read error: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def special_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "a special file"


def file_kind(path: str) -> str | None:
    """ "file" for a regular file, what anything else that exists is (a FIFO is never opened), else None."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return "file" if stat.S_ISREG(mode) else special_kind(mode)


#: the largest page, manifest, policy or saved report read (they are text documents, not images)
MAX_DOCUMENT = 256 * 1024 * 1024


def read_document(path: str, max_bytes: int = MAX_DOCUMENT) -> bytes:
    """The bytes of a text document the user named (a page, a manifest, a policy, a saved report):
    ``UnreadableFile`` for what is not a regular file (a FIFO would block forever) or is too large."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UnreadableFile(f"cannot open: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UnreadableFile("the path contains a NUL byte") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile(f"not a regular file ({special_kind(st.st_mode)})")
        if st.st_size > max_bytes:
            raise UnreadableFile(f"{st.st_size:,} bytes, more than the {max_bytes:,} a document may have")
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise UnreadableFile(f"more than the {max_bytes:,} bytes a document may have")
        return data
    except OSError as exc:
        raise UnreadableFile(f"read error: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def read_text(path: str, max_bytes: int = MAX_DOCUMENT) -> str:
    """A text document the user named, as UTF-8 (a byte-order mark is accepted): ``UnreadableFile``
    naming the reason when it is not a regular file, too large, or not UTF-8."""
    data = read_document(path, max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def load_json(path: str, max_bytes: int = MAX_DOCUMENT) -> Any:
    """A JSON document the user named (``read_text``): ``UnreadableFile`` for invalid or absurdly
    nested JSON, as for any other reason it cannot be read."""
    text = read_text(path, max_bytes)
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise UnreadableFile("JSON nested too deeply to read") from exc
    except ValueError as exc:
        raise UnreadableFile(f"not valid JSON: {exc}") from exc
