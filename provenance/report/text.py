"""Plain text for people at a terminal: look-up answers, index statistics, and the one function every
untrusted text (file names, metadata, captions, error messages quoting them) goes through on its way
to a terminal, so an escape sequence in a leaked file's name is shown, never obeyed."""

from __future__ import annotations

from typing import IO, Any


def printable(text: Any) -> str:
    """``text`` with every control and unprintable character shown as an escape (``\\x1b``), never obeyed."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _facts(record: dict[str, Any]) -> str:
    metadata = record.get("metadata") or {}
    parts = []
    if record.get("width"):
        parts.append(f"{record.get('format') or '?'} {record['width']}x{record['height']}")
    camera = " ".join(str(metadata[k]) for k in ("make", "model") if metadata.get(k))
    if camera:
        parts.append(camera)
    if metadata.get("datetime_original"):
        parts.append(f"taken {metadata['datetime_original']}")
    if record.get("error"):
        parts.append(f"error {record['error']['type']}: {record['error']['message']}")
    return printable(", ".join(parts) or record.get("kind") or "")


def write_lookup(answers: list[dict[str, Any]], stream: IO[str]) -> None:
    """Answers of ``provenance lookup`` (one per query) as indented text."""
    for answer in answers:
        stream.write(f"{printable(answer['query'])} ({answer['query_type']})\n")
        if answer.get("error"):
            stream.write(
                f"  could not fingerprint it: {answer['error']['type']}: {printable(answer['error']['message'])}\n"
            )
        hits = answer["hits"]
        if not hits and not answer.get("near"):
            stream.write("  not in the index\n")
        for hit in hits:
            record = hit["record"]
            stream.write(f"  {hit['field']} match: {printable(record['path'])}\n")
            stream.write(f"    {_facts(record)}\n")
            stream.write(f"    md5 {record.get('md5')}  sha256 {record.get('sha256')}\n")
            name = record.get("name_digest")
            if name and not name.get("matches"):
                stream.write(f"    warning: its name is not its own {name['algorithm']}\n")
        for match in answer.get("near") or []:
            distances = ", ".join(f"{k} {v}" for k, v in match["distances"].items())
            for path in match["paths"]:
                stream.write(f"  near match: {printable(path)}\n    distances: {distances}\n")


def write_stats(stats: dict[str, Any], stream: IO[str]) -> None:
    """``Index.stats()`` as text."""
    out = stream.write
    out(f"index {printable(stats['path'])} (schema {stats['schema_version']}, created {stats['created']})\n")
    out("roots:\n" + "".join(f"  {printable(r)}\n" for r in stats["roots"]))
    out(
        f"files: {stats['files']} ({stats['images']} images, {stats['other_files']} other, "
        f"{len(stats['errors'])} with errors); distinct contents: {stats['contents']}; "
        f"files that repeat another's bytes: {stats['duplicate_files']}\n"
    )
    out("formats: " + ", ".join(f"{printable(k)} {v}" for k, v in stats["formats"].items()) + "\n")
    if stats["cameras"]:
        out(
            "cameras:\n"
            + "".join(
                f"  {printable(c['make'] or '?')} {printable(c['model'] or '')}: {c['files']}\n"
                for c in stats["cameras"]
            )
        )
    dates = stats["datetime_original"]
    if dates["files"]:
        out(f"taken (datetime_original): {dates['first']} .. {dates['last']} ({dates['files']} files)\n")
    if stats.get("findings"):
        out("forensics findings (files): " + ", ".join(f"{k} {v}" for k, v in stats["findings"].items()) + "\n")
    if stats["name_digest_mismatches"]:
        out(f"named by a digest that is not their own: {len(stats['name_digest_mismatches'])}\n")
        out("".join(f"  {printable(p)}\n" for p in stats["name_digest_mismatches"]))
    if stats["errors"]:
        out("errors: " + ", ".join(f"{k} {v}" for k, v in stats["error_types"].items()) + "\n")
        out("".join(f"  {printable(e['path'])}: {e['type']}: {printable(e['message'])}\n" for e in stats["errors"]))
