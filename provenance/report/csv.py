"""CSV: a flat table of the main fingerprint fields, one row per file, for spreadsheets."""

from __future__ import annotations

import csv
from typing import IO, Any

from . import ProgressCallback, RecordFormat, ReportFormat
from .text import printable


def columns() -> list[str]:
    """The columns of a fingerprint CSV: the main fields, every hash kind's fields among them."""
    from .. import hashes as hash_kinds

    return [
        "path", "size", "mtime", "kind", "format", "width", "height", "mode", "orientation", "frames",
        "md5", "sha1", "sha256", "name_digest_algorithm", "name_digest_matches", "image_data_sha256",
        *hash_kinds.record_fields(), "jpeg_quality",
        "make", "model", "software", "datetime_original", "gps_latitude", "gps_longitude",
        "thumbnail_phash_distance", "error_type", "error_message", "warnings",
    ]  # fmt: skip


# A cell a spreadsheet would run as a formula; text from leaks must stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def flatten(record: dict[str, Any], names: list[str] | None = None) -> dict[str, Any]:
    """One CSV row of a fingerprint record (``names``: the columns, by default ``columns()``)."""
    names = names or columns()
    hashes = record.get("hashes") or {}
    metadata = record.get("metadata") or {}
    name = record.get("name_digest") or {}
    thumb = record.get("thumbnail") or {}
    error = record.get("error") or {}
    row = {key: record.get(key) for key in names if key in record}
    row.update({k: hashes.get(k) for k in names if k in hashes})
    row.update(
        {
            k: metadata.get(k)
            for k in ("make", "model", "software", "datetime_original", "gps_latitude", "gps_longitude")
        }
    )
    row["name_digest_algorithm"] = name.get("algorithm")
    row["name_digest_matches"] = name.get("matches")
    row["thumbnail_phash_distance"] = thumb.get("phash_distance")
    row["error_type"] = error.get("type")
    row["error_message"] = error.get("message")
    row["warnings"] = len(record.get("warnings") or [])
    return {key: _cell(row.get(key)) for key in names}


def _cell(value: Any) -> Any:
    """A CSV cell: untrusted text with control characters shown as escapes (a file viewed in a terminal
    obeys none of them) and never starting as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        value = printable(value)
        if value.startswith(_FORMULA_START):
            return "'" + value
    return value


class FingerprintCsvWriter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.columns = columns()
        self.writer = csv.DictWriter(stream, fieldnames=self.columns, lineterminator="\n")
        self.writer.writeheader()

    def write(self, record: dict[str, Any]) -> None:
        self.writer.writerow(flatten(record, self.columns))
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


# The distance columns of the dedup and match tables name pHash, PDQ and dHash on purpose: they are the
# kinds those reports rank by; every kind's distances are in the JSON report.
DEDUP_COLUMNS = [
    "cluster", "role", "relation", "path", "phash_distance", "pdq_distance", "dhash_distance", "sha256",
    "image_data_sha256", "format", "width", "height", "jpeg_quality", "camera_fields", "software",
    "datetime_original", "findings", "c2pa", "reasons",
]  # fmt: skip


def write_dedup(
    result: dict[str, Any], stream: IO[str], *, base: str | None = None, progress: ProgressCallback | None = None
) -> None:
    """One row per file of a dedup result: clustered files, then unique, low-information and failed files."""
    writer = csv.DictWriter(stream, fieldnames=DEDUP_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for cluster in result["clusters"]:
        for m in cluster["members"]:
            row = {k: m.get(k) for k in DEDUP_COLUMNS if k in m}
            row.update(
                cluster=cluster["id"],
                phash_distance=m["distance"].get("phash"),
                pdq_distance=m["distance"].get("pdq"),
                dhash_distance=m["distance"].get("dhash"),
                reasons="; ".join(cluster["reasons"]) if m["role"] == "original" else None,
                findings=" ".join(m.get("findings") or []) or None,
            )
            writer.writerow({k: _cell(row.get(k)) for k in DEDUP_COLUMNS})
    for role, paths in (("unique", result.get("unique") or []), ("low-information", result["low_information"])):
        for path in paths:
            writer.writerow({k: _cell(v) for k, v in {"role": role, "path": path}.items()})
    for error in result["errors"]:
        writer.writerow(
            {"role": "error", "path": _cell(error["path"]), "reasons": _cell(f"{error['type']}: {error['message']}")}
        )


MATCH_COLUMNS = [
    "query_path", "caption", "caption_source", "verdict", "confidence", "reference_path", "relation", "score",
    "found_by", "variant", "phash_distance", "pdq_distance", "inliers", "agreement", "scale", "crop", "crop_fraction",
    "rotation", "flip", "jpeg_quality_reference", "jpeg_quality_query", "metadata_removed", "metadata_changed",
    "metadata_added", "query_sha256", "reference_sha256", "declared_size", "evidence", "error",
]  # fmt: skip


def write_match(
    report: dict[str, Any], stream: IO[str], *, base: str | None = None, progress: ProgressCallback | None = None
) -> None:
    """A match report as CSV: one row per query with its best match (if any)."""
    _write_results(report, stream, MATCH_COLUMNS, {})


def write_check(
    report: dict[str, Any], stream: IO[str], *, base: str | None = None, progress: ProgressCallback | None = None
) -> None:
    """A check report as CSV: the match columns plus the file's violations and other findings."""
    by_path: dict[str, dict[str, list[str]]] = {}
    for finding in report["findings"]:
        column = "violations" if finding["violation"] else "findings"
        by_path.setdefault(finding["path"], {"violations": [], "findings": []})[column].append(
            f"{finding['rule']}: {finding['detail']}"
        )
    extra = {path: {k: " | ".join(v) for k, v in columns.items()} for path, columns in by_path.items()}
    _write_results(report, stream, ["violations", "findings", *MATCH_COLUMNS], extra)


def _write_results(
    report: dict[str, Any], stream: IO[str], columns: list[str], extra: dict[str, dict[str, str]]
) -> None:
    writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for result in report["results"]:
        query = result["query"]
        best = result["matches"][0] if result["matches"] else {}
        transform = best.get("transform") or {}
        confirmation = best.get("confirmation") or {}
        diff = best.get("metadata_diff") or {}
        quality = best.get("jpeg_quality") or {}
        error = result.get("error") or {}
        row = {
            "query_path": query.get("path"), "caption": query.get("caption"),
            "caption_source": query.get("caption_source"), "verdict": result["verdict"],
            "confidence": result["confidence"], "reference_path": (best.get("reference") or {}).get("path"),
            "relation": best.get("relation"), "score": best.get("score"), "found_by": best.get("found_by"),
            "variant": best.get("variant"), "phash_distance": (best.get("distances") or {}).get("phash"),
            "pdq_distance": (best.get("distances") or {}).get("pdq"), "inliers": confirmation.get("inliers"),
            "agreement": confirmation.get("agreement"), "scale": transform.get("scale"),
            "crop": " ".join(str(v) for v in transform["crop"]) if transform.get("crop") else None,
            "crop_fraction": transform.get("crop_fraction"), "rotation": transform.get("rotation"),
            "flip": transform.get("flip"), "jpeg_quality_reference": quality.get("reference"),
            "jpeg_quality_query": quality.get("query"),
            "metadata_removed": " ".join(sorted(diff.get("removed") or {})),
            "metadata_changed": " ".join(sorted(diff.get("changed") or {})),
            "metadata_added": " ".join(sorted(diff.get("added") or {})),
            "query_sha256": query.get("sha256"), "reference_sha256": (best.get("reference") or {}).get("sha256"),
            "declared_size": "x".join(str(v) for v in query["declared_size"]) if query.get("declared_size") else None,
            "evidence": " | ".join(result["evidence"] + best.get("evidence", [])),
            "error": f"{error.get('type')}: {error.get('message')}" if error else None,
            **extra.get(query.get("path") or "", {}),
        }  # fmt: skip
        writer.writerow({k: _cell(row.get(k)) for k in columns})


RECORD_FORMAT = RecordFormat("csv", "CSV (the main fields, flat)", FingerprintCsvWriter, order=20)
FORMAT = ReportFormat(
    "csv", (".csv",), "CSV (ROWS)", {"match": write_match, "dedup": write_dedup, "check": write_check}, order=20
)
