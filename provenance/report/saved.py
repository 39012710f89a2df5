"""Saved JSON reports read back for ``provenance report``: untrusted files, checked before rendering.

A saved report may have been edited by hand or made by someone else; it is validated against the
documented JSON Schema of its kind (``provenance/schemas``, the files of docs/schema) before any
renderer reads it, so a wrong type is one line naming the file, the place and the reason.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from ..errors import ProvenanceError, ReportError
from ..files import load_json
from . import kind_of


def load_saved(path: str) -> tuple[str, dict[str, Any]]:
    """(kind, report) of a saved match, dedup or check report; ``ReportError`` naming the file and the
    reason when it is not one (unreadable, not JSON, nested too deep, not a provenance report, not
    valid against its schema)."""
    try:
        report = load_json(path)
    except ProvenanceError as exc:
        raise ReportError(f"{path}: cannot read it: {exc}") from exc
    try:
        kind = kind_of(report)
    except ReportError as exc:
        raise ReportError(f"{path}: {exc}") from exc
    problem = schema_problem(kind, report)
    if problem:
        raise ReportError(f"{path} is not a valid {kind} report: {problem}")
    return kind, report


def schema_problem(kind: str, report: Any) -> str | None:
    """Where and why ``report`` breaks the JSON Schema of ``kind`` reports (the most telling error), or None."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator(kind).iter_errors(report))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "the top level"
    message = error.message if len(error.message) <= 200 else error.message[:200] + "…"
    return f"{where}: {message}"


@cache
def _validator(kind: str) -> Any:
    import jsonschema
    from referencing import Registry, Resource

    folder = resources.files("provenance").joinpath("schemas")
    schemas = [
        json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".schema.json")
    ]
    registry: Registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)
    schema = json.loads(folder.joinpath(f"{kind}.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, registry=registry)
