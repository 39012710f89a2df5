"""A per-file authenticity report: what a file's bytes say about its history, set out for a reader.

``provenance inspect`` fingerprints each file (in worker processes, one read each) and turns its
record into an *inspection*: the identity of the file (digests, whether its name is its digest), what
its metadata claims (camera, software, dates), the encoder its quantisation tables point to, its JPEG
structure, its Content Credentials, and the findings with their facts and rules. It states facts and
the rules applied (docs/forensics.md), never a verdict on whether the picture is genuine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from . import runinfo
from .credentials import trust_summary
from .files import WalkError
from .fingerprint import FingerprintOptions

SCHEMA = "provenance/inspect-1"

#: how a report words each C2PA state
C2PA_WORDS = {
    "absent": "no Content Credentials in the file",
    "valid": "Content Credentials present; their hashes and signature verify (the signer not checked against "
    "a trust list)",
    "trusted": "Content Credentials present; they verify, and the signer chains to a trust anchor you gave",
    "invalid": "Content Credentials present, and they do not verify",
    "unreadable": "Content Credentials referred to, but they could not be read",
}  # fmt: skip


def inspection(record: dict[str, Any]) -> dict[str, Any]:
    """The inspection of one fingerprint record (``Fingerprint.to_dict()``)."""
    metadata = record.get("metadata") or {}
    forensics = record.get("forensics") or {}
    c2pa = forensics.get("c2pa") or {"state": "absent", "reason": None}
    return {
        "path": record.get("path"),
        "error": record.get("error"),
        "kind": record.get("kind"),
        "format": record.get("format"),
        "size": record.get("size"),
        "width": record.get("width"),
        "height": record.get("height"),
        "digests": {k: record.get(k) for k in ("md5", "sha1", "sha256")},
        "name_digest": record.get("name_digest"),
        "claims": {
            "camera": " ".join(str(metadata[k]) for k in ("make", "model") if metadata.get(k)) or None,
            "software": metadata.get("software"),
            "creator_tool": metadata.get("xmp_creator_tool"),
            "taken": metadata.get("datetime_original"),
            "modified": metadata.get("datetime_modified"),
            "gps": bool(metadata.get("gps_latitude") is not None),
        },
        "encoder": forensics.get("encoder"),
        "structure": _structure(forensics.get("jpeg")),
        "c2pa": c2pa,
        "c2pa_summary": C2PA_WORDS.get(str(c2pa.get("state")), str(c2pa.get("state"))),
        "findings": forensics.get("findings") or [],
        "warnings": record.get("warnings") or [],
    }


def _structure(jpeg: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JPEG structure, shortened for a reader (the record keeps every segment)."""
    if not jpeg:
        return None
    kinds: list[str] = []
    for segment in jpeg.get("segments") or []:
        kind = segment.get("kind")
        if kind and kind not in kinds and kind not in ("SOI", "EOI"):
            kinds.append(kind)
    return {
        "segments": kinds,
        "frame": jpeg.get("frame"),
        "subsampling": jpeg.get("subsampling"),
        "huffman": jpeg.get("huffman"),
        "restart_interval": jpeg.get("restart_interval"),
        "quantization_sha256": jpeg.get("quantization_sha256"),
        "comments": jpeg.get("comments") or [],
        "mpf_images": jpeg.get("mpf_images"),
        "exif_layout": jpeg.get("exif_layout"),
        "after_end": jpeg.get("after_end"),
        "problems": jpeg.get("problems") or [],
    }


def inspect_files(
    paths: Iterable[str | WalkError],
    options: FingerprintOptions | None = None,
    *,
    jobs: int = 1,
    timeout: float | None = None,
    scheduler: Any = None,
    progress: Any = None,
) -> Iterator[dict[str, Any]]:
    """Fingerprint ``paths`` in worker processes and yield each file's inspection, in input order."""
    from .workers import fingerprint_many

    for record in fingerprint_many(paths, jobs=jobs, timeout=timeout, options=options, scheduler=scheduler):
        if progress is not None:
            progress()
        yield inspection(record.to_dict())


def report(inspections: list[dict[str, Any]], *, started: str, options: FingerprintOptions) -> dict[str, Any]:
    """The inspect report: the run block and one inspection per file (docs/schema/inspect.schema.json)."""
    parameters = options.to_dict()
    parameters.pop("max_pixels_hint", None)
    parameters["c2pa_trust_anchors"] = trust_summary(parameters.pop("c2pa_trust", ""))["anchors"]
    counts = Counter(code for item in inspections for code in {f["code"] for f in item["findings"]})
    return {
        "schema": SCHEMA,
        "run": runinfo.run_block(
            started=started,
            parameters=parameters,
            inputs=[{"path": i["path"], "sha256": i["digests"]["sha256"]} for i in inspections],
        ),
        "summary": {
            "files": len(inspections),
            "errors": sum(1 for i in inspections if i["error"]),
            "findings": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            "c2pa": dict(Counter(i["c2pa"]["state"] for i in inspections)),
        },
        "files": inspections,
    }
