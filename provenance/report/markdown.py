"""Markdown: a summary table and one section per cluster, for a ticket or a newsroom chat."""

from __future__ import annotations

from typing import IO, Any


def _cell(value: Any) -> str:
    """Table-cell text: untrusted names stay literal (pipes, backticks, brackets and newlines escaped)."""
    text = "" if value is None else str(value)
    for char in ("\\", "|", "`", "*", "_", "[", "]", "<", ">"):
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def write_dedup(result: dict[str, Any], stream: IO[str]) -> None:
    """A dedup result (``DedupResult.to_dict()``) as Markdown."""
    summary = result["summary"]
    by_relation = summary["clusters_by_relation"]
    stream.write("# Duplicates\n\n")
    stream.write("| files | images | clusters | exact | metadata-only | near-duplicate | copies | low information | errors |\n")
    stream.write("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    stream.write(
        f"| {summary['files']} | {summary['images']} | {summary['clusters']} | {by_relation['exact']} "
        f"| {by_relation['metadata-only']} | {by_relation['near-duplicate']} | {summary['copies']} "
        f"| {summary['low_information']} | {summary['errors']} |\n\n"
    )
    for cluster in result["clusters"]:
        stream.write(f"## Cluster {cluster['id']}: {cluster['relation']}, {cluster['size']} files\n\n")
        stream.write(f"Likely original: {_cell(cluster['original'])} ({_cell('; '.join(cluster['reasons']))})\n\n")
        stream.write("| role | relation | path | size | JPEG q | camera fields | pHash | PDQ |\n")
        stream.write("|---|---|---|---|---:|---:|---:|---:|\n")
        for m in cluster["members"]:
            size = f"{m['width']}x{m['height']}" if m.get("width") else ""
            stream.write(
                f"| {m['role']} | {m['relation']} | {_cell(m['path'])} | {size} | {_cell(m.get('jpeg_quality'))} "
                f"| {m['camera_fields']} | {_cell(m['distance'].get('phash'))} | {_cell(m['distance'].get('pdq'))} |\n"
            )
        stream.write("\n")
    if result["errors"]:
        stream.write("## Files that could not be fingerprinted\n\n| path | error |\n|---|---|\n")
        for error in result["errors"]:
            stream.write(f"| {_cell(error['path'])} | {_cell(error['type'])}: {_cell(error['message'])} |\n")
        stream.write("\n")
