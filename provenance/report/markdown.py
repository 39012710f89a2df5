"""Markdown: a summary table and one section per cluster, for a ticket or a newsroom chat."""

from __future__ import annotations

import re
from typing import IO, Any

from . import ProgressCallback, ReportFormat
from .text import printable

#: what GitHub-flavoured Markdown turns into a link by itself (extended autolinks): a scheme's ``://`` and
#: ``www.`` (a backslash before the ``:`` or ``.`` keeps them text), an address's ``@`` (cmark-gfm finds
#: addresses after unescaping, so a word joiner, U+2060, follows the ``@`` instead)
_AUTOLINK = re.compile(r"(?i)\b(?:(https?|ftp|mailto)(:)|(www)(\.))|(@)(?=\w)")


def _unlinked(match: re.Match[str]) -> str:
    return "".join({":": "\\:", ".": "\\.", "@": "@\u2060"}.get(g, g) for g in match.groups() if g)


def _cell(value: Any) -> str:
    """Untrusted text made literal Markdown: pipes, backticks, brackets and emphasis escaped, whitespace
    on one line, control characters shown as escapes, and nothing that would become a link."""
    text = "" if value is None else str(value)
    for char in ("\\", "|", "`", "*", "_", "[", "]", "<", ">"):
        text = text.replace(char, "\\" + char)
    text = printable(" ".join(text.split()))
    return _AUTOLINK.sub(_unlinked, text)


def write_dedup(
    result: dict[str, Any], stream: IO[str], *, base: str | None = None, progress: ProgressCallback | None = None
) -> None:
    """A dedup result (``DedupResult.to_dict()``) as Markdown."""
    summary = result["summary"]
    by_relation = summary["clusters_by_relation"]
    stream.write("# Duplicates\n\n")
    stream.write(
        "| files | images | clusters | exact | metadata-only | near-duplicate | copies | low information | errors |\n"
    )
    stream.write("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    stream.write(
        f"| {summary['files']} | {summary['images']} | {summary['clusters']} | {by_relation['exact']} "
        f"| {by_relation['metadata-only']} | {by_relation['near-duplicate']} | {summary['copies']} "
        f"| {summary['low_information']} | {summary['errors']} |\n\n"
    )
    for cluster in result["clusters"]:
        stream.write(f"## Cluster {cluster['id']}: {cluster['relation']}, {cluster['size']} files\n\n")
        stream.write(f"Likely original: {_cell(cluster['original'])} ({_cell('; '.join(cluster['reasons']))})\n\n")
        stream.write(
            "| role | relation | path | size | JPEG q | camera fields | pHash | PDQ | forensics findings | C2PA |\n"
        )
        stream.write("|---|---|---|---|---:|---:|---:|---:|---|---|\n")
        for m in cluster["members"]:
            size = f"{m['width']}x{m['height']}" if m.get("width") else ""
            stream.write(
                f"| {m['role']} | {m['relation']} | {_cell(m['path'])} | {size} | {_cell(m.get('jpeg_quality'))} "
                f"| {m['camera_fields']} | {_cell(m['distance'].get('phash'))} | {_cell(m['distance'].get('pdq'))} "
                f"| {_cell(' '.join(m.get('findings') or []))} | {_cell(m.get('c2pa') or '')} |\n"
            )
        stream.write("\n")
    if result["errors"]:
        stream.write("## Files that could not be fingerprinted\n\n| path | error |\n|---|---|\n")
        for error in result["errors"]:
            stream.write(f"| {_cell(error['path'])} | {_cell(error['type'])}: {_cell(error['message'])} |\n")
        stream.write("\n")


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def write_check(
    report: dict[str, Any], stream: IO[str], *, base: str | None = None, progress: ProgressCallback | None = None
) -> None:
    """A check report as Markdown: the verdict of the policy and each finding, then the matches."""
    summary = report["summary"]
    outcome = {
        0: "the policy holds",
        1: "the policy is violated",
        3: "the policy holds, but some files could not be read",
    }
    stream.write(f"# Check: {outcome.get(summary['exit_status'], summary['exit_status'])}\n\n")
    stream.write(
        f"Fails on: {_cell(', '.join(report['policy']['fail_on']) or 'nothing')}. "
        f"{summary['files']} files checked, {summary['ignored']} ignored, "
        f"{summary['violations']} violations.\n\n"
    )
    if report["findings"]:
        stream.write("| file | rule | violation | detail |\n|---|---|---|---|\n")
        for f in report["findings"]:
            stream.write(
                f"| {_cell(f['path'])} | {f['rule']} | {'**yes**' if f['violation'] else 'no'} "
                f"| {_cell(f['detail'])} |\n"
            )
        stream.write("\n")
    _write_results(report, stream, heading="## Matches", level="###")


def write_match(
    report: dict[str, Any], stream: IO[str], *, base: str | None = None, progress: ProgressCallback | None = None
) -> None:
    """A match report (``MatchReport.to_dict()``) as Markdown: a summary table, then one section per query."""
    _write_results(report, stream, heading="# Matches", level="##")


def _write_results(report: dict[str, Any], stream: IO[str], *, heading: str, level: str) -> None:
    from ..matching.records import VERDICTS

    summary = report["summary"]
    verdicts = summary["verdicts"]
    stream.write(f"{heading}\n\n")
    stream.write("| queries | " + " | ".join(VERDICTS) + " | errors |\n")
    stream.write("|---:|" + "---:|" * len(VERDICTS) + "---:|\n")
    stream.write(
        f"| {summary['queries']} | "
        + " | ".join(str(verdicts.get(v, 0)) for v in VERDICTS)
        + f" | {summary['errors']} |\n\n"
    )
    stream.write("| query | caption | verdict | confidence | reference |\n|---|---|---|---:|---|\n")
    for result in report["results"]:
        best = result["matches"][0]["reference"]["path"] if result["matches"] else ""
        stream.write(
            f"| {_cell(result['query']['path'])} | {_cell(result['query']['caption'])} "
            f"| {result['verdict']} | {result['confidence']:.2f} | {_cell(best)} |\n"
        )
    stream.write("\n")
    for n, result in enumerate(report["results"], 1):
        query = result["query"]
        stream.write(f"{level} {n}. {_cell(query['path'])}\n\n")
        if query.get("caption"):
            stream.write(f"Caption ({_cell(query['caption_source'])}): {_cell(query['caption'])}\n\n")
        stream.write(f"**Verdict: {result['verdict']}** (confidence {result['confidence']:.2f})\n\n")
        for line in result["evidence"]:
            stream.write(f"- {_cell(line)}\n")
        if not query.get("problem") and "authenticity" in query:
            _write_authenticity(stream, "the query", query["authenticity"])
        for match in result["matches"]:
            ref = match["reference"]
            stream.write(f"\n{level}# {match['relation']}: {_cell(ref['path'])}\n\n")
            stream.write(f"SHA-256 `{ref.get('sha256')}`, MD5 `{ref.get('md5')}`\n\n")
            for line in match["evidence"]:
                stream.write(f"- {_cell(line)}\n")
            if "authenticity" in ref:
                _write_authenticity(stream, "the reference", ref["authenticity"])
            diff = match.get("metadata_diff") or {}
            rows = [(k, v, "") for k, v in (diff.get("removed") or {}).items()]
            rows += [(k, v["reference"], v["query"]) for k, v in (diff.get("changed") or {}).items()]
            rows += [(k, "", v) for k, v in (diff.get("added") or {}).items()]
            if rows:
                stream.write("\n| metadata field | reference | query |\n|---|---|---|\n")
                for key, ref_value, query_value in rows:
                    stream.write(f"| {key} | {_cell(_value(ref_value))} | {_cell(_value(query_value))} |\n")
        if result["rejected"]:
            stream.write("\nCandidates considered and rejected:\n\n")
            for rejected in result["rejected"]:
                stream.write(f"- {_cell(rejected.get('reference'))}: {_cell(rejected.get('reason'))}\n")
        stream.write("\n")


def _write_authenticity(stream: IO[str], whose: str, summary: dict[str, Any] | None) -> None:
    """An Authenticity paragraph: what the file's bytes say (docs/forensics.md), every value escaped."""
    from ..forensics import authenticity_lines

    stream.write(f"\nAuthenticity of {whose} (facts and rules, not a verdict):\n\n")
    for line in authenticity_lines(summary):
        stream.write(f"- {_cell(line)}\n")


def write_inspect(
    report: dict[str, Any], stream: IO[str], *, base: str | None = None, progress: ProgressCallback | None = None
) -> None:
    """An inspect report as Markdown: one section per file, its facts as nested lists, every value escaped."""
    from .text import inspect_lines

    stream.write("# Authenticity evidence\n\n")
    stream.write(
        "Facts from each file's own bytes and the rules that found them (docs/forensics.md); not a verdict on any "
        "picture. Content Credentials are read offline.\n\n"
    )
    for item in report["files"]:
        for level, line in inspect_lines(item):
            if level == 0:
                stream.write(f"## {_cell(line)}\n\n")
            else:
                stream.write("  " * (level - 1) + f"- {_cell(line)}\n")
        stream.write("\n")


FORMAT = ReportFormat(
    "md",
    (".md", ".markdown"),
    "Markdown",
    {"match": write_match, "dedup": write_dedup, "check": write_check, "inspect": write_inspect},
    order=30,
)
