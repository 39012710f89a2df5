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
    codes = sorted({f.get("code") for f in (record.get("forensics") or {}).get("findings") or []} - {None})
    if codes:
        parts.append("findings " + " ".join(codes))
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


def inspect_lines(item: dict[str, Any]) -> list[tuple[int, str]]:
    """One inspection (``inspection.inspection``) as (indent level, line) pairs, untrusted text kept raw:
    the terminal writer makes each line printable; the Markdown writer escapes it."""
    lines: list[tuple[int, str]] = [(0, str(item["path"]))]
    if item.get("error"):
        lines.append((1, f"could not be read: {item['error']['type']}: {item['error']['message']}"))
        return lines
    shape = f"{item['format'] or item['kind']}" + (f" {item['width']}x{item['height']}" if item.get("width") else "")
    lines.append((1, f"file: {shape}, {item['size']:,} bytes"))
    digests = item["digests"]
    lines.append((1, f"md5 {digests['md5']}  sha256 {digests['sha256']}"))
    named = item.get("name_digest")
    if named:
        algorithm = named["algorithm"].upper()
        holds = "and it is this file's" if named["matches"] else "that is NOT this file's"
        lines.append((1, f"name: an {algorithm} digest {holds}"))
    claims = item["claims"]
    said = [
        f"{label} {claims[key]}"
        for key, label in (
            ("camera", "camera"), ("software", "software"), ("creator_tool", "XMP creator tool"),
            ("taken", "taken"), ("modified", "modified"),
        )
        if claims.get(key)
    ]  # fmt: skip
    lines.append((1, "metadata says: " + ("; ".join(said) if said else "no camera, software or dates")))
    encoder = item.get("encoder") or {}
    if encoder.get("tables"):
        lines.append((1, f"encoder: {encoder['tables']}"))
    structure = item.get("structure")
    if structure:
        tail = structure.get("after_end")
        lines.append(
            (
                1,
                f"structure: {structure['frame']}, {structure['subsampling'] or 'sampling ?'}, "
                f"{structure['huffman'] or '?'} Huffman tables"
                + (f", restart interval {structure['restart_interval']}" if structure.get("restart_interval") else "")
                + f"; markers {', '.join(structure['segments'])}"
                + (f"; {tail['bytes']} bytes after the end ({tail['looks_like']})" if tail else ""),
            )
        )
        layout = structure.get("exif_layout")
        if layout:
            lines.append(
                (
                    2,
                    "EXIF block: packed, as libexif and Exiv2 write it"
                    if layout.get("packed")
                    else f"EXIF block: not in the packed layout of libexif and Exiv2 ({layout.get('departure')})",
                )
            )
        for comment in structure.get("comments") or []:
            lines.append((2, f"comment: {comment}"))
    c2pa = item["c2pa"]
    lines.append((1, f"Content Credentials: {c2pa['state']}: {item['c2pa_summary']}"))
    if c2pa.get("reason"):
        lines.append((2, f"why: {c2pa['reason']}"))
    if c2pa["state"] not in ("absent",):
        signer = c2pa.get("signer") or {}
        if signer.get("common_name") or signer.get("issuer"):
            lines.append(
                (
                    2,
                    f"signed by {signer.get('common_name')} (issued by {signer.get('issuer')}) "
                    f"at {c2pa.get('signing_time')}",
                )
            )
        if c2pa.get("claim_generator"):
            lines.append((2, f"claim generator: {c2pa['claim_generator']}"))
        actions = [a.get("action") for a in c2pa.get("actions") or []]
        if actions:
            lines.append((2, "actions: " + ", ".join(str(a) for a in actions)))
        for ingredient in c2pa.get("ingredients") or []:
            lines.append(
                (
                    2,
                    f"ingredient: {ingredient.get('title')} ({ingredient.get('relationship')}, "
                    f"hash {ingredient.get('hash') or 'not cited'})",
                )
            )
        for failure in c2pa.get("failures") or []:
            lines.append((2, f"failure: {failure['code']}: {failure.get('explanation')}"))
        if c2pa.get("trust") and c2pa["state"] != "unreadable":
            lines.append((2, str(c2pa["trust"]["note"])))
        if c2pa.get("offline"):
            lines.append((2, str(c2pa["offline"])))
    findings = item.get("findings") or []
    lines.append((1, "findings:" if findings else "findings: none of the rules of docs/forensics.md applies"))
    for f in findings:
        lines.append((2, f"{f['severity']} {f['code']}: {f['message']}"))
        lines.append((3, f"rule: {f['facts'].get('rule')}"))
    return lines


def write_inspect(report: dict[str, Any], stream: IO[str]) -> None:
    """An inspect report for a terminal, every untrusted value made printable."""
    for item in report["files"]:
        for level, line in inspect_lines(item):
            stream.write("  " * level + printable(line) + "\n")
        stream.write("\n")
    summary = report["summary"]
    findings = ", ".join(f"{code} {n}" for code, n in summary["findings"].items()) or "none"
    stream.write(
        f"{summary['files']} file{'' if summary['files'] == 1 else 's'}, {summary['errors']} unreadable; "
        f"findings (files): {findings}\n"
        "These are facts and the rules that found them (docs/forensics.md), not a verdict on any picture.\n"
    )
