"""Saved JSON reports read back for ``provenance report``: untrusted files, checked before rendering."""

from __future__ import annotations

from typing import Any

from ..errors import ProvenanceError, ReportError
from ..files import load_json
from . import kind_of


def load_saved(path: str) -> tuple[str, dict[str, Any]]:
    """(kind, report) of a saved match, dedup or check report; ``ReportError`` naming the file and the
    reason when it is not one (unreadable, not JSON, nested too deep, not a provenance report)."""
    try:
        report = load_json(path)
    except ProvenanceError as exc:
        raise ReportError(f"{path}: cannot read it: {exc}") from exc
    try:
        kind = kind_of(report)
    except ReportError as exc:
        raise ReportError(f"{path}: {exc}") from exc
    missing = [key for key in _REQUIRED[kind] if key not in report]
    if missing:
        raise ReportError(f"{path} is not a complete {kind} report (missing {', '.join(missing)})")
    return kind, report


#: what each kind of report must hold for a renderer to walk it (the JSON schemas say the rest)
_REQUIRED = {
    "match": ("results", "summary"),
    "dedup": ("clusters", "summary"),
    "check": ("results", "findings", "summary", "policy"),
}
