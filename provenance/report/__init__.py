"""Output formats, one module each, found by the registry below.

A report format module (``json_report.py``, ``csv.py``, ``markdown.py``, ``html.py``) declares
``FORMAT = ReportFormat(...)``: its name, the file extensions that select it, a phrase for the
help text and its writer for each report kind (``match``, ``dedup``, ``check``). A record format
module (``jsonl.py``, ``csv.py``) declares ``RECORD_FORMAT`` for ``provenance fingerprint``. The
command line takes its ``-f`` choices, help text and extension map from here: a new format is a
new module in this package, its test and a line in docs/reports.md.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from ..errors import ReportError, UsageError

#: the report kinds and the ``schema`` value prefix of their JSON
KINDS = {
    "match": "provenance/match-",
    "dedup": "provenance/dedup-",
    "check": "provenance/check-",
    "inspect": "provenance/inspect-",
}

ProgressCallback = Callable[[], None]


#: writes one report: ``writer(report, stream, base=FOLDER_OR_NONE, progress=CALLBACK_OR_NONE)``
ReportWriter = Callable[..., None]


@dataclass(frozen=True)
class ReportFormat:
    """One format of match, dedup and check reports."""

    name: str
    extensions: tuple[str, ...]
    #: how ``-f``'s help names it ("Markdown")
    description: str
    #: report kind → writer
    writers: dict[str, ReportWriter] = field(default_factory=dict)
    #: the place in help texts and listings (lower first)
    order: int = 50


class RecordWriter(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RecordFormat:
    """One format of ``provenance fingerprint``'s records."""

    name: str
    description: str
    writer: Callable[[IO[str]], RecordWriter]
    order: int = 50


_REPORT_FORMATS: dict[str, ReportFormat] = {}
_RECORD_FORMATS: dict[str, RecordFormat] = {}


#: the package's modules that are not formats: not imported when looking for formats (thumbnails
#: load Pillow and the decoder, which ``--help`` and a JSON report never need)
_NOT_FORMATS = frozenset({"junit", "saved", "text", "thumbs"})


def _discover() -> None:
    if _REPORT_FORMATS:
        return
    reports, records = [], []
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name in _NOT_FORMATS:
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        if isinstance(getattr(module, "FORMAT", None), ReportFormat):
            reports.append(module.FORMAT)
        if isinstance(getattr(module, "RECORD_FORMAT", None), RecordFormat):
            records.append(module.RECORD_FORMAT)
    for fmt in sorted(reports, key=lambda f: (f.order, f.name)):
        _REPORT_FORMATS[fmt.name] = fmt
    for rec in sorted(records, key=lambda f: (f.order, f.name)):
        _RECORD_FORMATS[rec.name] = rec


def report_formats() -> dict[str, ReportFormat]:
    """Every report format, in help order."""
    _discover()
    return dict(_REPORT_FORMATS)


def record_formats() -> dict[str, RecordFormat]:
    """Every fingerprint record format, in help order."""
    _discover()
    return dict(_RECORD_FORMATS)


def writer_for(fmt: str, stream: IO[str]) -> RecordWriter:
    """A record writer of format ``fmt`` (``jsonl`` or ``csv``) on a text stream."""
    return record_formats()[fmt].writer(stream)


def extensions() -> dict[str, str]:
    """File extension → report format."""
    return {ext: f.name for f in report_formats().values() for ext in f.extensions}


def format_for(path: str, fmt: str | None) -> str:
    """The format of output ``path``: its extension's, else ``fmt``, else JSON for a path without an
    extension (``-``, ``/dev/null``); ``UsageError`` when they disagree or an extension is unknown."""
    extension = os.path.splitext(path)[1].lower() if path != "-" else ""
    by_extension = extensions().get(extension)
    if by_extension and fmt and fmt != by_extension:
        raise UsageError(f"-f {fmt} disagrees with the extension of {path} ({by_extension})")
    found = by_extension or fmt
    if found is None:
        if not extension:
            return "json"
        names = [f.extensions[0] for f in report_formats().values()]
        raise UsageError(
            f"cannot tell the format of {path} from its extension: give -f "
            f"{'|'.join(report_formats())} or name it " + ", ".join(names[:-1]) + f" or {names[-1]}"
        )
    return found


def kind_of(report: Any) -> str:
    """Which kind of report a saved JSON report is (``match``, ``dedup``, ``check``), by its ``schema`` value."""
    schema = report.get("schema") if isinstance(report, dict) else None
    for kind, prefix in KINDS.items():
        if isinstance(schema, str) and schema.startswith(prefix):
            return kind
    raise ReportError(f"not a provenance report (its schema is {schema!r})")


def write_report(
    kind: str,
    fmt: str,
    report: dict[str, Any],
    stream: IO[str],
    *,
    base: str | None = None,
    progress: ProgressCallback | None = None,
) -> None:
    """Write a ``kind`` report in format ``fmt``. HTML reads the images again for thumbnails
    (relative paths from the current folder, then from ``base``); ``progress`` is called per card."""
    found = report_formats().get(fmt)
    if found is None or kind not in found.writers:
        raise UsageError(f"no {fmt!r} writer for {kind} reports")
    found.writers[kind](report, stream, base=base, progress=progress)
