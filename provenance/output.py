"""The one writer of output files: every ``-o FILE`` of every command goes through ``output``.

A regular file appears whole or not at all: it is written beside its final name and renamed
into place when complete, so an interrupted or failed run leaves no partial output. Anything
else that exists (``/dev/null``, a pipe, a terminal) is written to as it is, never replaced.
``check_output`` refuses, before any work starts, a path that cannot be written.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

from .errors import OutputError
from .files import special_kind


def check_output(path: str) -> None:
    """Refuse (``OutputError``) an output that cannot be written: its folder is missing or not
    writable, or it is a directory. Called before the work, so a long run does not fail at its end."""
    if path == "-":
        return
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a directory, not a file to write the output to")
    if os.path.exists(path) and not os.path.isfile(path):
        return  # /dev/null, a pipe: written to as it is
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"{path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: the folder {folder} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise OutputError(f"{path}: the file is read-only")


@contextlib.contextmanager
def output(path: str) -> Iterator[IO[str]]:
    """A text stream for ``path`` (``-``: stdout); see the module's docstring. ``OutputError`` when
    the file cannot be written."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    if os.path.exists(path) and not os.path.isfile(path):
        if os.path.isdir(path):
            raise OutputError(f"{path}: is a directory, not a file to write the output to")
        try:
            with open(path, "w", encoding="utf-8", errors="backslashreplace", newline="") as stream:
                yield stream
        except OSError as exc:
            raise OutputError(
                f"{path}: cannot write to {special_kind(os.stat(path).st_mode)}: {exc.strerror or exc}"
            ) from exc
        return
    with replaced(path) as partial:
        try:
            stream = open(partial, "w", encoding="utf-8", errors="backslashreplace", newline="")
        except OSError as exc:
            raise OutputError(f"{path}: cannot write it: {exc.strerror or exc}") from exc
        with stream:
            yield stream


@contextlib.contextmanager
def replaced(path: str) -> Iterator[str]:
    """A scratch file name beside ``path``, renamed onto ``path`` when the block completes and
    removed if it fails: for writers that want a file name (pyarrow's Parquet writer) rather than a stream."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, partial = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=folder)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write there: {exc.strerror or exc}") from exc
    os.close(fd)
    try:
        yield partial
        os.chmod(partial, 0o666 & ~_umask())
        os.replace(partial, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise OutputError(f"{path}: cannot write it: {exc.strerror or exc}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
