"""JSON reports: the whole report, indented, ASCII-only (undecodable file names stay reversible)."""

from __future__ import annotations

import json
from typing import IO, Any

from . import ProgressCallback, ReportFormat


def write(
    report: dict[str, Any], stream: IO[str], *, base: str | None = None, progress: ProgressCallback | None = None
) -> None:
    """Any report as JSON (docs/schema/KIND.schema.json)."""
    stream.write(json.dumps(report, indent=2, ensure_ascii=True) + "\n")


FORMAT = ReportFormat(
    "json",
    (".json",),
    "JSON (docs/schema/KIND.schema.json, the default)",
    {"match": write, "dedup": write, "check": write, "inspect": write},
    order=10,
)
