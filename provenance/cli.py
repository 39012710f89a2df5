"""The ``provenance`` command: parses options, calls the library, owns progress bars and exit codes.

Exit codes: 0 success; 2 usage or configuration error; 3 the run completed but some
inputs failed (their records say why). ``check`` (a later command) adds 1.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import IO, Any, Callable, Iterator

import click
from tqdm import tqdm

from . import __version__
from .decode import DEFAULT_MAX_PIXELS
from .files import WalkStats, iter_files
from .fingerprint import FingerprintOptions
from .pool import DEFAULT_TIMEOUT, default_jobs, fingerprint_many
from .policy import RULES
from .report import REPORT_FORMATS, format_for, output, write_report, writer_for

DB_OPTION = click.option("--db", "db", required=True, envvar="PROVENANCE_DB", type=click.Path(dir_okay=False),
                         help="The index file (SQLite) [env: PROVENANCE_DB].")

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3
EXIT_INTERRUPTED = 130


def version_text() -> str:
    """The tool's version and what it can do here (optional extras, library versions)."""
    from importlib.metadata import PackageNotFoundError, version

    def ver(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    from .hashes import pdq_available

    pdq = (
        f"available (pdqhash {ver('pdqhash')})"
        if pdq_available()
        else "not installed: records have no pdq fields (pip install 'provenance[pdq]')"
    )
    libraries = ", ".join(
        f"{name} {ver(name)}" for name in ("pillow", "pillow-heif", "imagehash", "exifread", "click", "tqdm",
                                           "opencv-python-headless", "faiss-cpu", "beautifulsoup4", "jinja2", "numba")
    )
    return f"provenance {__version__}\n{libraries}\npdq: {pdq}"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit(EXIT_OK)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and which optional parts are installed, then exit.")
def main() -> None:
    """Image provenance and deduplication for leaked photo sets."""


@contextlib.contextmanager
def _output(path: str, fmt: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8", errors="backslashreplace", newline="") as stream:
        yield stream


@main.command("fingerprint")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option("-o", "--output", default="-", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write records to FILE instead of stdout.")
@click.option("-f", "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="JSON Lines (every field) or CSV (the main fields, flat).")
@click.option("--details", is_flag=True, help="Add `exif`: every EXIF tag, MakerNotes included.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=None,
              help="Worker processes [default: one per CPU]; 0 works in this process, unprotected.")
@click.option("--follow-symlinks", is_flag=True, help="Follow symlinks met while walking directories.")
@click.option("--all", "include_hidden", is_flag=True, help="Include hidden files and directories.")
@click.option("--exact-hashes", is_flag=True,
              help="Decode JPEGs in full so pHash/dHash/aHash are bit-identical to imagehash (slower).")
@click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS, show_default=True,
              help="Refuse images declaring more pixels than this (decompression bombs).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT,
              show_default=True, help="Seconds one file may take before it is given up as an error.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary on stderr.")
@click.option("--debug", is_flag=True, help="Let decoder and worker messages through to stderr.")
def fingerprint_command(paths: tuple[str, ...], output: str, fmt: str, details: bool, jobs: int | None,
                        follow_symlinks: bool, include_hidden: bool, exact_hashes: bool, max_pixels: int,
                        timeout: float, quiet: bool, debug: bool) -> None:
    """Fingerprint files and folders: digests, image-data digest, perceptual hashes, metadata.

    One record per file, in a stable order (folders walked recursively, sorted by
    name). Records go to stdout or -o FILE; progress goes to stderr. Exit status 3
    means the run finished but some files could not be read or decoded.

    \b
    Example:
        provenance fingerprint fixtures/leak -o leak.jsonl
        provenance fingerprint a.jpg b.heic --format csv
    """
    options = FingerprintOptions(details=details, max_pixels=max_pixels, exact_hashes=exact_hashes)
    jobs = default_jobs() if jobs is None else jobs
    show_progress = not quiet and sys.stderr.isatty()
    total = None
    if show_progress:  # a cheap listing pass, so the bar can show a total
        total = sum(1 for _ in iter_files(paths, follow_symlinks=follow_symlinks, include_hidden=include_hidden))
    stats = WalkStats()
    inputs = iter_files(paths, follow_symlinks=follow_symlinks, include_hidden=include_hidden, stats=stats)
    count = failed = 0
    with _output(output, fmt) as stream, tqdm(total=total, unit="file", disable=not show_progress,
                                              file=sys.stderr, dynamic_ncols=True) as bar:
        writer = writer_for(fmt, stream)
        records = fingerprint_many(inputs, jobs=jobs, options=options, timeout=timeout, debug=debug)
        try:
            for record in records:
                writer.write(record.to_dict())
                count += 1
                failed += record.error is not None
                bar.update(1)
        except KeyboardInterrupt:
            records.close()  # stops the workers
            click.echo(f"provenance: interrupted after {count} files", err=True)
            sys.exit(EXIT_INTERRUPTED)
        writer.close()
    if not quiet:
        skipped = []
        if stats.skipped_symlinks:
            skipped.append(f"{stats.skipped_symlinks} symlinks (--follow-symlinks)")
        if stats.skipped_hidden:
            skipped.append(f"{stats.skipped_hidden} hidden (--all)")
        summary = f"provenance: {count} files, {failed} with errors"
        if skipped:
            summary += "; skipped " + ", ".join(skipped)
        click.echo(summary, err=True)
    sys.exit(EXIT_SOME_FAILED if failed else EXIT_OK)


def _progress(total: int | None, quiet: bool) -> tqdm:
    return tqdm(total=total, unit="file", disable=quiet or not sys.stderr.isatty(), file=sys.stderr,
                dynamic_ncols=True)


def _count_files(paths: tuple[str, ...], quiet: bool, **walk: bool) -> int | None:
    """A cheap listing pass so a progress bar can show a total; skipped when no bar is shown."""
    if quiet or not sys.stderr.isatty():
        return None
    return sum(1 for _ in iter_files(paths, **walk))


@contextlib.contextmanager
def _library_errors(debug: bool = False) -> Iterator[None]:
    """The library's deliberate errors become one line on stderr and exit status 2."""
    from .errors import ProvenanceError

    try:
        yield
    except (ProvenanceError, ValueError) as exc:
        if debug:
            raise
        click.echo(f"provenance: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def _open_index(db: str, *, create: bool = False, options: FingerprintOptions | None = None):
    from .index import Index

    return Index(db, create=create, options=options)


@main.command("index")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=str))
@DB_OPTION
@click.option("--prune", is_flag=True, help="Forget indexed files that no longer exist (missing roots are kept).")
@click.option("--reroot", nargs=2, metavar="OLD NEW", default=None,
              help="The folder indexed as OLD now lives at NEW (a moved leak); nothing is re-read.")
@click.option("--retry-errors", is_flag=True, help="Read again unchanged files that failed last time.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=None,
              help="Worker processes [default: one per CPU]; 0 works in this process, unprotected.")
@click.option("--follow-symlinks", is_flag=True, help="Follow symlinks met while walking directories.")
@click.option("--all", "include_hidden", is_flag=True, help="Include hidden files and directories.")
@click.option("--details", is_flag=True, default=None,
              help="Store every EXIF tag too (fixed when the index is created).")
@click.option("--exact-hashes", is_flag=True, default=None,
              help="Full JPEG decoding for imagehash-identical hashes (fixed when the index is created).")
@click.option("--max-pixels", type=click.IntRange(min=1), default=None,
              help=f"Decompression-bomb limit [default: {DEFAULT_MAX_PIXELS}] (fixed when the index is created).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT,
              show_default=True, help="Seconds one file may take before it is given up as an error.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary on stderr.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, hidden=True,
              help="Files per committed transaction (tests use small batches).")
def index_command(paths: tuple[str, ...], db: str, prune: bool, reroot: tuple[str, str] | None,
                  retry_errors: bool, jobs: int | None, follow_symlinks: bool, include_hidden: bool,
                  details: bool | None, exact_hashes: bool | None, max_pixels: int | None, timeout: float,
                  quiet: bool, batch_size: int) -> None:
    """Add files and folders to an index; a rerun reads only new and changed files.

    Files whose path, size and mtime are unchanged are skipped. Work is committed in
    batches: an interrupted run keeps what it did, and the next run finishes the rest.
    Exit status 3 means some files of this run could not be fingerprinted (they are
    stored with their error; `provenance stats` lists them).

    \b
    Example:
        provenance index fixtures/leak --db leak.db
        provenance index NEW_DROP --db leak.db
        provenance index --db leak.db --prune
    """
    if not paths and not prune and not reroot:
        raise click.UsageError("give folders or files to index, --prune, or --reroot OLD NEW")
    options = None
    if details is not None or exact_hashes is not None or max_pixels is not None:
        options = FingerprintOptions(details=bool(details), exact_hashes=bool(exact_hashes),
                                     max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
    with _library_errors(), _open_index(db, create=True, options=options) as index:
        if reroot:
            index.move_root(*reroot)
            if not quiet:
                click.echo(f"provenance: {reroot[0]} re-rooted to {reroot[1]}", err=True)
        summary = None
        if paths:
            walk = {"follow_symlinks": follow_symlinks, "include_hidden": include_hidden}
            with _progress(_count_files(paths, quiet, **walk), quiet) as bar:
                try:
                    summary = index.add(paths, jobs=jobs, retry_errors=retry_errors, timeout=timeout,
                                        batch_size=batch_size, progress=lambda _path, _status: bar.update(1),
                                        **walk)
                except KeyboardInterrupt:
                    click.echo("provenance: interrupted; what was committed is kept, rerun to finish", err=True)
                    sys.exit(EXIT_INTERRUPTED)
        if prune:
            pruned = index.prune()
            if not quiet:
                click.echo(f"provenance: pruned {len(pruned.removed)} files that no longer exist", err=True)
                for root in pruned.missing_roots:
                    click.echo(f"provenance: root {root} is missing; its files were kept (--reroot OLD NEW)",
                               err=True)
        if summary is not None and not quiet:
            click.echo(f"provenance: {summary.seen} files: {summary.added} added, {summary.updated} updated, "
                       f"{summary.unchanged} unchanged, {summary.failed} failed", err=True)
            for path, kind, message in summary.errors[:20]:
                click.echo(f"  {path}: {kind}: {message}", err=True)
            if len(summary.errors) > 20:
                click.echo(f"  ... and {len(summary.errors) - 20} more (provenance stats --db {db})", err=True)
    sys.exit(EXIT_SOME_FAILED if summary is not None and summary.failed else EXIT_OK)


@main.command("lookup")
@click.argument("queries", nargs=-1, required=True)
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="JSON (one object per query, in a list) instead of text.")
@click.option("--distance", type=click.IntRange(min=0), default=None,
              help="Near-match radius in bits for every hash [default: pHash 10, PDQ 31].")
def lookup_command(queries: tuple[str, ...], db: str, as_json: bool, distance: int | None) -> None:
    """Look up digests, perceptual hashes or files in an index.

    A hex QUERY is recognised by its length: 32 MD5, 40 SHA-1, 64 SHA-256 / image-data
    digest / PDQ, 16 pHash / dHash / aHash / wHash. A QUERY that is a file is
    fingerprinted, then its digests and near matches are looked up.

    \b
    Example:
        provenance lookup 97fdc6ae077d8165f3cb4aa494ddb7d4 --db leak.db
        provenance lookup tip.jpg --db leak.db --json
    """
    from .report.text import write_lookup

    with _library_errors(), _open_index(db) as index:
        answers = [index.answer(q, max_distance=distance) for q in queries]
    if as_json:
        click.echo(json.dumps(answers, indent=2, ensure_ascii=True))
    else:
        write_lookup(answers, sys.stdout)
    sys.exit(EXIT_SOME_FAILED if any(a.get("error") for a in answers) else EXIT_OK)


@main.command("stats")
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
def stats_command(db: str, as_json: bool) -> None:
    """Counts, formats, cameras, date range and the files that failed, of an index.

    \b
    Example:
        provenance stats --db leak.db
    """
    from .report.text import write_stats

    with _library_errors(), _open_index(db) as index:
        stats = index.stats()
    if as_json:
        click.echo(json.dumps(stats, indent=2, ensure_ascii=True))
    else:
        write_stats(stats, sys.stdout)


def report_options(kind: str, rows: str) -> Callable[[Callable], Callable]:
    """``-f json|csv|md|html`` and repeatable ``-o FILE`` for a command writing a ``kind`` report."""

    def decorate(command: Callable) -> Callable:
        command = click.option(
            "-o", "--output", "outputs", multiple=True, type=click.Path(dir_okay=False, allow_dash=True),
            help="Write the report to FILE instead of stdout; repeat for several formats "
                 "(-o report.html -o report.json: the format comes from the extension).")(command)
        return click.option(
            "-f", "--format", "fmt", type=click.Choice(list(REPORT_FORMATS)), default=None,
            help=f"JSON (docs/schema/{kind}.schema.json, the default), CSV ({rows}), Markdown, or HTML "
                 "(one self-contained page with thumbnails).")(command)

    return decorate


def reading_options(what: str) -> Callable[[Callable], Callable]:
    """``-j``, ``--timeout``, ``--follow-symlinks`` and ``--all`` for a command whose workers read ``what``."""

    def decorate(command: Callable) -> Callable:
        for option in reversed([
            click.option("-j", "--jobs", type=click.IntRange(min=0), default=None,
                         help=f"Worker processes that read {what} [default: one per CPU]."),
            click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT,
                         show_default=True, help="Seconds one file may take to read before it is given up as an error."),
            click.option("--follow-symlinks", is_flag=True, help="Follow symlinks met while walking folders."),
            click.option("--all", "include_hidden", is_flag=True, help="Include hidden files and directories."),
        ]):
            command = option(command)
        return command

    return decorate


def _report_targets(outputs: tuple[str, ...], fmt: str | None) -> list[tuple[str, str]]:
    """(path, format) of every report output; a usage error when a format cannot be told."""
    if outputs.count("-") > 1:
        raise click.UsageError("only one report can go to stdout (-o -)")
    try:
        return [(path, format_for(path, fmt)) for path in (outputs or ("-",))]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def _write_reports(kind: str, report: dict[str, Any], targets: list[tuple[str, str]], quiet: bool,
                   base: str | None = None) -> None:
    """Write ``report`` to every target; HTML shows a progress bar while it makes thumbnails."""
    for path, fmt in targets:
        cards = len(report["clusters"] if kind == "dedup" else report["results"])
        with _progress(cards if fmt == "html" else None, quiet or fmt != "html") as bar, output(path) as stream:
            bar.set_description("thumbnails")
            write_report(kind, fmt, report, stream, base=base, progress=lambda: bar.update(1))


@main.command("dedup")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=str))
@click.option("--db", "db", default=None, envvar="PROVENANCE_DB", type=click.Path(dir_okay=False),
              help="Deduplicate an index instead of folders [env: PROVENANCE_DB].")
@report_options("dedup", "one row per file")
@click.option("--phash-distance", type=click.IntRange(0, 32), default=10, show_default=True,
              help="Largest pHash distance of a near-duplicate pair.")
@click.option("--pdq-distance", type=click.IntRange(0, 128), default=40, show_default=True,
              help="Largest PDQ distance of a near-duplicate pair (both hashes must agree).")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=None,
              help="Worker processes when fingerprinting folders [default: one per CPU].")
@click.option("--follow-symlinks", is_flag=True, help="Follow symlinks met while walking directories.")
@click.option("--all", "include_hidden", is_flag=True, help="Include hidden files and directories.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary on stderr.")
def dedup_command(paths: tuple[str, ...], db: str | None, fmt: str | None, outputs: tuple[str, ...],
                  phash_distance: int,
                  pdq_distance: int, jobs: int | None, follow_symlinks: bool, include_hidden: bool,
                  quiet: bool) -> None:
    """Group the files of folders (or of an index) into exact, metadata-only and near-duplicate clusters.

    Each cluster names its likely original and why. Near-duplicate clusters are
    complete-link: every member is within both thresholds of every other member.
    Exit status 3 means some files could not be fingerprinted (listed in the report).

    \b
    Example:
        provenance dedup fixtures/leak fixtures/article -f md
        provenance dedup --db leak.db -f csv -o duplicates.csv
    """
    from .dedup import DedupOptions, dedup

    if bool(paths) == bool(db):
        raise click.UsageError("give either folders to deduplicate or --db INDEX")
    targets = _report_targets(outputs, fmt)
    options = DedupOptions(phash_distance=phash_distance, pdq_distance=pdq_distance)
    with _library_errors():
        if db:
            with _open_index(db) as index:
                result = dedup(index.records(), options, index=index)
        else:
            walk = {"follow_symlinks": follow_symlinks, "include_hidden": include_hidden}
            with _progress(_count_files(paths, quiet, **walk), quiet) as bar:
                def records() -> Iterator[dict]:
                    for record in fingerprint_many(iter_files(paths, **walk),
                                                   jobs=default_jobs() if jobs is None else jobs):
                        bar.update(1)
                        yield record.to_dict()

                result = dedup(records(), options)
    report = result.to_dict()
    _write_reports("dedup", report, targets, quiet)
    if not quiet:
        s = report["summary"]
        click.echo(f"provenance: {s['files']} files, {s['clusters']} clusters, {s['copies']} copies, "
                   f"{s['errors']} errors", err=True)
    sys.exit(EXIT_SOME_FAILED if report["errors"] else EXIT_OK)


@main.command("match")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=str))
@click.option("--against", required=True, envvar="PROVENANCE_DB", type=click.Path(exists=True, path_type=str),
              help="The references: an index file, or a folder (indexed on the fly) [env: PROVENANCE_DB].")
@click.option("--html", "pages", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=str),
              help="A saved web page: every <img> in it is a query, captioned by its <figcaption>, alt or title.")
@click.option("--manifest", "manifests", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=str),
              help="A CSV or JSON list of queries with `path` and `caption` (extra columns are kept).")
@report_options("match", "one row per query")
@click.option("--max-candidates", type=click.IntRange(1, 100), default=8, show_default=True,
              help="Hash candidates checked geometrically per query.")
@click.option("--no-keypoint-search", is_flag=True,
              help="Do not search every reference's keypoints when no hash candidate confirms (faster, "
                   "misses heavy crops, screenshots and collages).")
@reading_options("the queries (and a reference folder)")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary on stderr.")
def match_command(paths: tuple[str, ...], against: str, pages: tuple[str, ...], manifests: tuple[str, ...],
                  fmt: str | None, outputs: tuple[str, ...], max_candidates: int, no_keypoint_search: bool,
                  jobs: int | None,
                  timeout: float, follow_symlinks: bool, include_hidden: bool, quiet: bool) -> None:
    """Match query images against references: is each one a reuse of a known photo?

    Queries are files and folders, the images of saved HTML pages (--html) or the rows
    of a manifest (--manifest). Each gets a verdict (exact, metadata-only,
    near-duplicate, no-match), its best matches with evidence and the transform
    estimate, and the metadata difference. Exit status 3 means some queries could not
    be read (missing, outside their page's folder, undecodable).

    \b
    Example:
        provenance match fixtures/article --against fixtures/leak -f md
        provenance match --html saved-article/index.html --against leak.db -o report.json
        provenance match --manifest captions.csv --against leak.db -f csv
    """
    from .captions import queries_from_html, queries_from_manifest, queries_from_paths
    from .matching import MatchOptions, match, open_references

    if not (paths or pages or manifests):
        raise click.UsageError("give query files or folders, --html PAGE or --manifest FILE")
    targets = _report_targets(outputs, fmt)
    options = MatchOptions(max_candidates=max_candidates, keypoint_search=not no_keypoint_search)
    with _library_errors():
        queries = []
        for page in pages:
            queries.extend(queries_from_html(page))
        for manifest in manifests:
            queries.extend(queries_from_manifest(manifest))
        walk = {"follow_symlinks": follow_symlinks, "include_hidden": include_hidden}
        queries.extend(queries_from_paths(p for p in iter_files(paths, **walk) if isinstance(p, str)))
        indexing = _progress(None, quiet or not os.path.isdir(against))
        indexing.set_description("indexing references")
        with indexing, open_references(against, jobs=jobs,
                                       progress=lambda _path, _status: indexing.update(1)) as index:
            indexing.close()
            with _progress(len(queries), quiet) as bar:
                report = match(queries, index, options, jobs=default_jobs() if jobs is None else jobs,
                               timeout=timeout, progress=lambda _result: bar.update(1),
                               against=against).to_dict()
    _write_reports("match", report, targets, quiet)
    if not quiet:
        v = report["summary"]["verdicts"]
        click.echo(f"provenance: {report['summary']['queries']} queries: {v['exact']} exact, "
                   f"{v['metadata-only']} metadata-only, {v['near-duplicate']} near-duplicate, "
                   f"{v['no-match']} no match; {report['summary']['errors']} could not be read", err=True)
    sys.exit(EXIT_SOME_FAILED if report["summary"]["errors"] else EXIT_OK)


@main.command("report")
@click.argument("saved", type=click.Path(exists=True, dir_okay=False, path_type=str))
@report_options("KIND", "one row per query or file")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar on stderr.")
def report_command(saved: str, fmt: str | None, outputs: tuple[str, ...], quiet: bool) -> None:
    """Re-render a saved JSON report (of match, dedup or check) in other formats, without recomputing.

    HTML reads the images again for its thumbnails: paths relative to the current folder,
    then to the saved report's folder. A picture that is gone shows as a note, not an error.

    \b
    Example:
        provenance report results.json -f html -o report.html
        provenance report results.json -o report.md -o report.csv
    """
    from .report import kind_of

    targets = _report_targets(outputs, fmt)
    try:
        with open(saved, encoding="utf-8") as stream:
            report = json.load(stream)
        kind = kind_of(report)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        click.echo(f"provenance: {saved}: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    try:
        _write_reports(kind, report, targets, quiet, base=os.path.dirname(os.path.abspath(saved)))
    except (KeyError, TypeError, AttributeError) as exc:  # a hand-edited or truncated report
        click.echo(f"provenance: {saved} is not a complete {kind} report (missing or odd {exc})", err=True)
        sys.exit(EXIT_USAGE)


@main.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option("--against", required=True, envvar="PROVENANCE_DB", type=click.Path(dir_okay=False, path_type=str),
              help="The reference index [env: PROVENANCE_DB]; created empty if missing with --update-index.")
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="A TOML policy: fail_on, ignore, thresholds (docs/ci.md) [default: provenance.toml if present].")
@click.option("--fail-on", "fail_on", default=None, metavar="RULES",
              help="Comma-separated rules that fail the run, replacing the policy's: " + ", ".join(RULES) + ".")
@click.option("--junit", "junit", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Also write JUnit XML: one test case per file, a failure per violation.")
@click.option("--update-index", is_flag=True,
              help="When the policy holds, add the checked files to the index (one transaction).")
@report_options("check", "one row per file")
@reading_options("the files")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary (violations are still listed).")
def check_command(paths: tuple[str, ...], against: str, policy_path: str | None, fail_on: str | None,
                  junit: str | None, update_index: bool, fmt: str | None, outputs: tuple[str, ...],
                  jobs: int | None, timeout: float, follow_symlinks: bool, include_hidden: bool,
                  quiet: bool) -> None:
    """Check a new drop of files against an index, by a policy: for CI.

    Every file is matched against the index, the drop is deduplicated within itself, and
    the policy's rules are applied. Each violation is one line on stderr
    (`path: rule: detail`); the report goes to stdout or -o FILE.

    \b
    Exit status: 0 the policy holds; 1 it is violated; 2 usage or configuration
    error; 3 the policy holds but some files could not be read.

    \b
    Example:
        provenance check NEW_DROP --against leak.db --policy provenance.toml --junit results.xml
        provenance check NEW_DROP --against leak.db --fail-on unknown,unreadable -o report.html
    """
    from .check import check
    from .policy import load_policy

    targets = _report_targets(outputs, fmt)
    if junit == "-" and any(path == "-" for path, _ in targets):
        raise click.UsageError("--junit - and the report would both go to stdout: give the report -o FILE")
    if policy_path is None and os.path.isfile("provenance.toml"):
        policy_path = "provenance.toml"
    rules = [r.strip() for r in fail_on.split(",") if r.strip()] if fail_on is not None else None
    with _library_errors():
        policy = load_policy(policy_path, fail_on=rules)
        if not update_index and not os.path.isfile(against):
            raise click.UsageError(f"the index {against} does not exist (give --update-index to start one)")
        with _open_index(against, create=update_index) as index, _progress(None, quiet) as bar:
            report = check(paths, index, policy, jobs=default_jobs() if jobs is None else jobs, timeout=timeout,
                           follow_symlinks=follow_symlinks, include_hidden=include_hidden,
                           update_index=update_index, progress=lambda _result: bar.update(1), against=against)
    data = report.to_dict()
    _write_reports("check", data, targets, quiet)
    if junit:
        from .report.junit import write_junit

        with output(junit) as stream:
            write_junit(data, stream)
    for violation in report.violations:
        click.echo(f"{_one_line(violation.path)}: {violation.rule}: {_one_line(violation.detail)}", err=True)
    if not quiet:
        s = data["summary"]
        click.echo(f"provenance: {s['files']} files checked ({s['ignored']} ignored): {s['violations']} violations "
                   f"of {', '.join(policy.fail_on) or 'no rule'}; {s['errors']} unreadable", err=True)
        if report.index_update:
            u = report.index_update
            click.echo(f"provenance: index updated: {u.added} added, {u.updated} updated", err=True)
        elif update_index:
            click.echo("provenance: index not updated: the policy is violated", err=True)
    sys.exit(report.exit_status)


def _one_line(text: str) -> str:
    """Untrusted text on one stderr line: newlines and control characters shown, not obeyed."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


if __name__ == "__main__":  # pragma: no cover
    main()
