"""Output formats: fingerprint record writers (JSON Lines, CSV) and the report writers of
``match``, ``dedup`` and ``check`` (JSON, CSV, Markdown, HTML), one module per format."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from typing import IO, Any, Callable, Iterator, Protocol

from . import csv as csv_format
from . import jsonl as jsonl_format


class RecordWriter(Protocol):
    def write(self, record: dict) -> None: ...

    def close(self) -> None: ...


WRITERS = {"jsonl": jsonl_format.JsonLinesWriter, "csv": csv_format.FingerprintCsvWriter}


def writer_for(fmt: str, stream: IO[str]) -> RecordWriter:
    """A writer of format ``fmt`` (``jsonl`` or ``csv``) on a text stream."""
    return WRITERS[fmt](stream)


#: report formats, and the file extensions that name them
REPORT_FORMATS = ("json", "csv", "md", "html")
EXTENSIONS = {".json": "json", ".csv": "csv", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}
#: the report kinds and the ``schema`` value prefix of their JSON
KINDS = {"match": "provenance/match-", "dedup": "provenance/dedup-", "check": "provenance/check-"}


def format_for(path: str, fmt: str | None) -> str:
    """The format of output ``path``: its extension's, else ``fmt``, else JSON for a path without an
    extension (``-``, ``/dev/null``); ``ValueError`` when they disagree or an extension is unknown."""
    extension = os.path.splitext(path)[1].lower() if path != "-" else ""
    by_extension = EXTENSIONS.get(extension)
    if by_extension and fmt and fmt != by_extension:
        raise ValueError(f"-f {fmt} disagrees with the extension of {path} ({by_extension})")
    found = by_extension or fmt
    if found is None:
        if not extension:
            return "json"
        raise ValueError(f"cannot tell the format of {path} from its extension: give -f "
                         f"{'|'.join(REPORT_FORMATS)} or name it .json, .csv, .md or .html")
    return found


def kind_of(report: dict[str, Any]) -> str:
    """Which kind of report a saved JSON report is (``match``, ``dedup``, ``check``), by its ``schema`` value."""
    schema = report.get("schema") if isinstance(report, dict) else None
    for kind, prefix in KINDS.items():
        if isinstance(schema, str) and schema.startswith(prefix):
            return kind
    raise ValueError(f"not a provenance report (its schema is {schema!r})")


def write_report(kind: str, fmt: str, report: dict[str, Any], stream: IO[str], *, base: str | None = None,
                 progress: Callable[[], None] | None = None) -> None:
    """Write a ``kind`` report in format ``fmt``. HTML reads the images again for thumbnails
    (relative paths from the current folder, then from ``base``); ``progress`` is called per card."""
    if fmt == "json":
        stream.write(json.dumps(report, indent=2, ensure_ascii=True) + "\n")
    elif fmt == "html":
        from . import html
        from .thumbs import THUMBNAIL_SIDE, Thumbnails

        writer = html.write_dedup if kind == "dedup" else html.write_match
        side = 200 if kind == "dedup" else THUMBNAIL_SIDE
        writer(report, stream, thumbnails=Thumbnails(side=side, base=base), progress=progress)
    elif fmt == "csv":
        {"match": csv_format.write_match, "dedup": csv_format.write_dedup,
         "check": csv_format.write_check}[kind](report, stream)
    elif fmt == "md":
        from . import markdown

        {"match": markdown.write_match, "dedup": markdown.write_dedup, "check": markdown.write_check}[kind](
            report, stream)
    else:
        raise ValueError(f"unknown report format {fmt!r}")


@contextlib.contextmanager
def output(path: str) -> Iterator[IO[str]]:
    """A text stream for ``path`` (``-``: stdout). A regular file appears whole or not at all: it is
    written beside its final name and renamed into place when complete. Anything else that exists
    (``/dev/null``, a pipe, a terminal) is written to as it is, never replaced."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "w", encoding="utf-8", errors="backslashreplace", newline="") as stream:
            yield stream
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, partial = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="") as stream:
            yield stream
        os.chmod(partial, 0o666 & ~_umask())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
