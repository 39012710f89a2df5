"""An index as a Parquet table: one row per indexed file, for DuckDB, pandas, Dask or Spark.

The columns are flat and typed (docs/index-db.md, "Parquet export"): where the file is, its
digests and what its name claims, every registered hash kind as its hex string, size, format,
dimensions, the main metadata fields and the error, if any. The whole record stays available as
JSON in ``record`` for what the flat columns leave out. The file is written beside its final name
and renamed into place when complete, so a reader never sees half a table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from . import hashes as hash_kinds
from .errors import OutputError, ProvenanceError
from .output import check_output, replaced

if TYPE_CHECKING:
    import pyarrow as pa

    from .fingerprint import Fingerprint
    from .index import Index

#: the table written into the export folder
TABLE = "files.parquet"
#: rows per Parquet row group (memory stays flat on an index of millions of files)
ROWS_PER_GROUP = 50_000
#: metadata fields given their own column, with their Arrow type names
METADATA_COLUMNS = {
    "make": "string",
    "model": "string",
    "software": "string",
    "datetime_original": "string",
    "datetime_modified": "string",
    "gps_latitude": "float64",
    "gps_longitude": "float64",
    "gps_altitude": "float64",
    "lens_model": "string",
    "body_serial_number": "string",
    "artist": "string",
    "copyright": "string",
    "caption": "string",
}


def schema() -> pa.Schema:
    """The export's columns, in order: file facts, digests, one per hash kind, metadata, error, record."""
    import pyarrow as pa

    fields = [
        ("path", pa.string()),
        ("size", pa.int64()),
        ("mtime", pa.string()),
        ("kind", pa.string()),
        ("format", pa.string()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("frames", pa.int64()),
        ("md5", pa.string()),
        ("sha1", pa.string()),
        ("sha256", pa.string()),
        ("name_digest_algorithm", pa.string()),
        ("name_digest_matches", pa.bool_()),
        ("image_data_sha256", pa.string()),
        ("jpeg_quality", pa.int64()),
        ("hash_input", pa.string()),
    ]
    fields += [(name, pa.string()) for name in hash_kinds.registered()]
    fields += [(name, getattr(pa, kind)()) for name, kind in METADATA_COLUMNS.items()]
    fields += [("error_type", pa.string()), ("error_message", pa.string()), ("record", pa.string())]
    return pa.schema(fields)


def row(record: Fingerprint) -> dict[str, Any]:
    """The export row of one record (values that do not fit their column's type are left empty)."""
    claim = record.name_digest or {}
    out: dict[str, Any] = {
        "path": record.path,
        "size": record.size,
        "mtime": record.mtime,
        "kind": record.kind,
        "format": record.format,
        "width": record.width,
        "height": record.height,
        "frames": record.frames,
        "md5": record.md5,
        "sha1": record.sha1,
        "sha256": record.sha256,
        "name_digest_algorithm": claim.get("algorithm"),
        "name_digest_matches": claim.get("matches"),
        "image_data_sha256": record.image_data_sha256,
        "jpeg_quality": record.jpeg_quality,
        "hash_input": record.hash_input,
    }
    for name in hash_kinds.registered():
        value = record.hashes.get(name)
        out[name] = value if isinstance(value, str) else None
    for name, kind in METADATA_COLUMNS.items():
        value = record.metadata.get(name)
        if kind == "float64":
            out[name] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        else:
            out[name] = value if isinstance(value, str) else None if value is None else json.dumps(value)
    error = record.error or {}
    out["error_type"], out["error_message"] = error.get("type"), error.get("message")
    out["record"] = json.dumps(record.to_dict(), ensure_ascii=False, default=str)
    return out


def export_parquet(index: Index, folder: str) -> int:
    """Write every record of ``index`` to ``folder/files.parquet`` (the folder is made if need be);
    return the number of rows. ``OutputError`` when it cannot be written."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ProvenanceError("the Parquet export needs pyarrow: pip install 'provenance[parquet]'") from exc
    target = os.path.join(folder, TABLE)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot make the export folder: {exc.strerror or exc}") from exc
    check_output(target)
    columns = schema()
    rows = 0
    with replaced(target) as partial:
        with pq.ParquetWriter(partial, columns, compression="zstd") as writer:
            for batch in _batches(index.records()):
                writer.write_table(pa.Table.from_pylist(batch, schema=columns))
                rows += len(batch)
            if rows == 0:
                writer.write_table(columns.empty_table())
    return rows


def _batches(records: Iterator[Fingerprint]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(row(record))
        if len(batch) >= ROWS_PER_GROUP:
            yield batch
            batch = []
    if batch:
        yield batch
