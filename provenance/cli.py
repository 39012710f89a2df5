"""The ``provenance`` command: parses options, calls the library, owns progress bars and exit codes.

Each command is a few lines over the library; options shared by several commands are declared
once, as decorators, and thresholds take their defaults and bounds from the settings dataclasses.
The library raises only ``ProvenanceError``: the group turns it into one line on stderr and exit
status 2 (``--debug`` shows the traceback), and Ctrl-C into status 130 with no partial output.
Exit codes: ``errors.ExitCode``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import click

from ._version import __version__
from .defaults import DEFAULT_MAX_PIXELS, DEFAULT_TIMEOUT
from .errors import ExitCode, ProvenanceError
from .rules import rule_names

#: the libraries ``--version`` names
_LIBRARIES = (
    "pillow",
    "pillow-heif",
    "imagehash",
    "exifread",
    "click",
    "tqdm",
    "opencv-python-headless",
    "faiss-cpu",
    "beautifulsoup4",
    "jinja2",
    "numba",
    "c2pa-python",
)


def version_text() -> str:
    """The tool's version and what it can do here (optional extras, library versions, plugins)."""
    from importlib.metadata import PackageNotFoundError, version

    from . import hashes

    def ver(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    pdq = hashes.get("pdq")
    pdq_line = f"available (pdqhash {ver('pdqhash')})" if pdq.available else pdq.description
    lines = [f"provenance {__version__}", ", ".join(f"{name} {ver(name)}" for name in _LIBRARIES), f"pdq: {pdq_line}"]
    plugins = [k for k in hashes.registered().values() if k.name not in hashes.BUILTIN_NAMES]
    if plugins:
        lines.append("hash kinds from plugins: " + ", ".join(f"{k.name} ({k.bits} bits)" for k in plugins))
    lines.extend(f"warning: {message}" for message in hashes.plugin_errors())
    return "\n".join(lines)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit(ExitCode.OK)


def fail(message: str, status: ExitCode = ExitCode.USAGE) -> NoReturn:
    """One line on stderr (untrusted text in it escaped) and the exit status."""
    from .report.text import printable

    click.echo(f"provenance: {printable(message)}", err=True)
    sys.exit(status)


class _Commands(click.Group):
    """Every command's library errors, interruptions and closed pipes, handled in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ProvenanceError as exc:
            if ctx.meta.get("provenance.debug"):
                raise
            fail(str(exc))
        except KeyboardInterrupt:
            click.echo(f"provenance: interrupted{ctx.meta.get('provenance.interrupted', '')}", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except BrokenPipeError:  # `provenance ... | head`: the reader has gone; not an error of ours
            sys.stderr.close()
            sys.exit(ExitCode.OK)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-V",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and which optional parts are installed, then exit.",
)
def main() -> None:
    """Image provenance and deduplication for leaked photo sets."""


# -- shared options --------------------------------------------------------------------------------

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _options(*decorators: Decorator) -> Decorator:
    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta["provenance.debug"] = value
    return value


quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary on stderr.")
debug_option = click.option(
    "--debug",
    is_flag=True,
    callback=_set_debug,
    is_eager=True,
    help="Show tracebacks, and decoder and worker messages, on stderr.",
)
db_option = click.option(
    "--db",
    "db",
    required=True,
    envvar="PROVENANCE_DB",
    type=click.Path(),
    help="The index file (SQLite) [env: PROVENANCE_DB].",
)


class InputPath(click.Path):
    """A file or folder that must exist, or an fsspec URL (``s3://bucket/leak/``), checked when it is read."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from .files import is_url

        if isinstance(value, str) and is_url(value):
            return value
        return super().convert(value, param, ctx)


INPUT = InputPath(exists=True, path_type=str)


def walk_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--follow-symlinks`` and ``--all``: how folders are walked."""
    return _options(
        click.option("--follow-symlinks", is_flag=True, help="Follow symlinks met while walking folders."),
        click.option("--all", "include_hidden", is_flag=True, help="Include hidden files and directories."),
    )(command)


scheduler_option = click.option(
    "--scheduler",
    metavar="ADDRESS",
    envvar="PROVENANCE_SCHEDULER",
    default=None,
    help="Send the per-file work to the Dask cluster of this scheduler (tcp://HOST:8786) instead of "
    "local workers; its workers must see the same paths [env: PROVENANCE_SCHEDULER].",
)


def _load_trust(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """The PEM trust anchors of ``--c2pa-trust FILE``, checked before any work (exit 2 when unusable)."""
    if value is None:
        return ""
    from .credentials import trust_anchors

    try:
        with open(value, encoding="ascii", errors="replace") as stream:
            return trust_anchors(stream.read(4 * 1024 * 1024))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{value}: {exc}") from None


max_pixels_option = click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Refuse images declaring more pixels than this (decompression bombs).",
)

c2pa_trust_option = click.option(
    "--c2pa-trust",
    "c2pa_trust",
    metavar="FILE",
    callback=_load_trust,
    help="PEM certificates to trust as Content Credentials signers' roots; without it a valid manifest is "
    "'valid', never 'trusted' (docs/forensics.md).",
)


def reading_options(what: str) -> Decorator:
    """``-j``, ``--timeout``, ``--follow-symlinks`` and ``--all`` for a command whose workers read ``what``."""
    return _options(
        click.option(
            "-j",
            "--jobs",
            type=click.IntRange(min=0),
            default=None,
            help=f"Worker processes that read {what} [default: one per CPU]; 0 works in this process, unprotected.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=DEFAULT_TIMEOUT,
            show_default=True,
            help="Seconds one file may take before it is given up as an error.",
        ),
        walk_options,
    )


def report_options(kind: str, rows: str) -> Decorator:
    """``-f`` (the report formats of the registry) and repeatable ``-o FILE`` for a ``kind`` report."""
    from .report import report_formats

    formats = report_formats()
    described = ", ".join(f.description.replace("KIND", kind).replace("ROWS", rows) for f in formats.values())
    return _options(
        click.option("-f", "--format", "fmt", type=click.Choice(list(formats)), default=None, help=f"{described}."),
        click.option(
            "-o",
            "--output",
            "outputs",
            multiple=True,
            type=click.Path(allow_dash=True),  # checked by output.check_output: one line, before any work
            help="Write the report to FILE instead of stdout; repeat for several formats "
            "(-o report.html -o report.json: the format comes from the extension).",
        ),
    )


def query_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The query files and folders, and one option per document kind that lists queries (--html, --manifest)."""
    from .captions import QUERY_SOURCES

    sources = [
        click.option(
            f"--{s.name}",
            f"listing_{s.name}",
            multiple=True,
            metavar=s.metavar,
            type=click.Path(exists=True, path_type=str),
            help=s.help,
        )
        for s in QUERY_SOURCES.values()
    ]
    return _options(click.argument("paths", nargs=-1, type=INPUT), *sources)(command)


def _listings(options: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """The documents given to the query-source options, by source name."""
    return {name[len("listing_") :]: value for name, value in options.items() if name.startswith("listing_")}


def _progress(total: int | None, quiet: bool, unit: str = "file") -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, disable=quiet or not sys.stderr.isatty(), file=sys.stderr, dynamic_ncols=True)


def _count_files(paths: tuple[str, ...], quiet: bool, *, follow_symlinks: bool, include_hidden: bool) -> int | None:
    """A cheap listing pass so a progress bar can show a total; skipped when no bar is shown."""
    if quiet or not sys.stderr.isatty():
        return None
    from .files import iter_files

    return sum(1 for _ in iter_files(paths, follow_symlinks=follow_symlinks, include_hidden=include_hidden))


def _jobs(jobs: int | None) -> int:
    from .workers import default_jobs

    return default_jobs() if jobs is None else jobs


@contextlib.contextmanager
def _cluster(scheduler: str | None, jobs: int | None) -> Iterator[Any]:
    """The Dask client for ``--scheduler`` (connected before any work; one line and exit 2 when it cannot be)."""
    if scheduler is None:
        yield None
        return
    if jobs is not None:
        raise click.UsageError("--jobs and --scheduler: the cluster's workers do the work; give one of them")
    from .cluster import connect

    client, _ = connect(scheduler)
    try:
        yield client
    finally:
        client.close()


def _report_targets(outputs: tuple[str, ...], fmt: str | None) -> list[tuple[str, str]]:
    """(path, format) of every report output, each checked writable before any work starts."""
    from .output import check_output
    from .report import format_for

    if outputs.count("-") > 1:
        raise click.UsageError("only one report can go to stdout (-o -)")
    targets = [(path, format_for(path, fmt)) for path in (outputs or ("-",))]
    for path, _ in targets:
        check_output(path)
    return targets


def _write_reports(
    kind: str, report: dict[str, Any], targets: list[tuple[str, str]], quiet: bool, base: str | None = None
) -> None:
    """Write ``report`` to every target; HTML shows a progress bar while it makes thumbnails."""
    from .output import output
    from .report import write_report

    for path, fmt in targets:
        cards = len(report["clusters"] if kind == "dedup" else report["results"])
        with _progress(cards if fmt == "html" else None, quiet or fmt != "html") as bar, output(path) as stream:
            bar.set_description("thumbnails")
            write_report(kind, fmt, report, stream, base=base, progress=lambda: bar.update(1))


# -- commands --------------------------------------------------------------------------------------


def _record_format_option(command: Callable[..., Any]) -> Callable[..., Any]:
    from .report import record_formats

    formats = record_formats()
    return click.option(
        "-f",
        "--format",
        "fmt",
        type=click.Choice(list(formats)),
        default=next(iter(formats)),
        show_default=True,
        help=", or ".join(f.description for f in formats.values()) + ".",
    )(command)


@main.command("fingerprint")
@click.argument("paths", nargs=-1, required=True, type=INPUT)
@click.option(
    "-o",
    "--output",
    default="-",
    type=click.Path(allow_dash=True),  # checked by output.check_output: one line, before any work
    help="Write records to FILE instead of stdout (written whole when the run ends).",
)
@_record_format_option
@click.option("--details", is_flag=True, help="Add `exif`: every EXIF tag, MakerNotes included.")
@reading_options("the files")
@scheduler_option
@click.option(
    "--exact-hashes",
    is_flag=True,
    help="Decode JPEGs in full so pHash/dHash/aHash are bit-identical to imagehash (slower).",
)
@max_pixels_option
@c2pa_trust_option
@quiet_option
@debug_option
def fingerprint_command(
    paths: tuple[str, ...],
    output: str,
    fmt: str,
    details: bool,
    jobs: int | None,
    timeout: float,
    follow_symlinks: bool,
    include_hidden: bool,
    scheduler: str | None,
    exact_hashes: bool,
    max_pixels: int,
    c2pa_trust: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Fingerprint files and folders: digests, image-data digest, perceptual hashes, metadata.

    One record per file, in a stable order (folders walked recursively, sorted by
    name). Records go to stdout or -o FILE; progress goes to stderr. Exit status 3
    means the run finished but some files could not be read or decoded.

    \b
    Example:
        provenance fingerprint fixtures/leak -o leak.jsonl
        provenance fingerprint fixtures/leak fixtures/article --format csv
    """
    from .files import WalkStats, iter_files
    from .fingerprint import FingerprintOptions
    from .output import check_output
    from .output import output as open_output
    from .report import writer_for
    from .workers import fingerprint_many

    check_output(output)
    options = FingerprintOptions(
        details=details, max_pixels=max_pixels, exact_hashes=exact_hashes, c2pa_trust=c2pa_trust
    )
    walk: dict[str, Any] = {"follow_symlinks": follow_symlinks, "include_hidden": include_hidden}
    stats = WalkStats()
    count = failed = 0
    click.get_current_context().meta["provenance.interrupted"] = "; no output written"
    with (
        _cluster(scheduler, jobs) as client,
        open_output(output) as stream,
        _progress(_count_files(paths, quiet, **walk), quiet) as bar,
    ):
        writer = writer_for(fmt, stream)
        for record in fingerprint_many(
            iter_files(paths, stats=stats, **walk),
            jobs=_jobs(jobs),
            options=options,
            timeout=timeout,
            debug=debug,
            scheduler=client,
        ):
            writer.write(record.to_dict())
            count += 1
            failed += record.error is not None
            bar.update(1)
        writer.close()
    if not quiet:
        skipped = []
        if stats.skipped_symlinks:
            skipped.append(f"{stats.skipped_symlinks} symlinks" + ("" if follow_symlinks else " (--follow-symlinks)"))
        if stats.skipped_hidden:
            skipped.append(f"{stats.skipped_hidden} hidden (--all)")
        summary = f"provenance: {count} files, {failed} with errors"
        if skipped:
            summary += "; skipped " + ", ".join(skipped)
        click.echo(summary, err=True)
    sys.exit(ExitCode.SOME_FAILED if failed else ExitCode.OK)


@main.command("inspect")
@click.argument("paths", nargs=-1, required=True, type=INPUT)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "md", "html"]),
    default=None,
    help="text (the default on stdout), JSON (docs/schema/inspect.schema.json), Markdown, or HTML "
    "[default: from -o's extension].",
)
@click.option(
    "-o",
    "--output",
    default="-",
    type=click.Path(allow_dash=True),  # checked by output.check_output: one line, before any work
    help="Write the report to FILE instead of stdout (written whole when the run ends).",
)
@c2pa_trust_option
@reading_options("the files")
@max_pixels_option
@quiet_option
@debug_option
def inspect_command(
    paths: tuple[str, ...],
    fmt: str | None,
    output: str,
    c2pa_trust: str,
    jobs: int | None,
    timeout: float,
    follow_symlinks: bool,
    include_hidden: bool,
    max_pixels: int,
    quiet: bool,
    debug: bool,
) -> None:
    """Set out, file by file, what each file's own bytes say about its history.

    Its digests and whether its name is one of them, what its metadata claims, the
    encoder its JPEG tables point to, its structure, its Content Credentials (read
    offline), and the findings of docs/forensics.md with their facts and rules. Facts,
    not a verdict on any picture. Exit status 3 means some files could not be read.

    \b
    Example:
        provenance inspect fixtures/c2pa
        provenance inspect fixtures/leak -o leak-evidence.html
    """
    from . import runinfo
    from .files import iter_files
    from .fingerprint import FingerprintOptions
    from .inspection import inspect_files, report
    from .output import check_output
    from .output import output as open_output
    from .report import format_for, write_report
    from .report.text import write_inspect

    check_output(output)
    chosen = fmt or ("text" if output == "-" else format_for(output, None))
    if chosen not in ("text", "json", "md", "html"):
        raise click.UsageError(f"inspect writes text, json, md or html, not {chosen}")
    options = FingerprintOptions(max_pixels=max_pixels, c2pa_trust=c2pa_trust)
    walk: dict[str, Any] = {"follow_symlinks": follow_symlinks, "include_hidden": include_hidden}
    started = runinfo.now()
    click.get_current_context().meta["provenance.interrupted"] = "; no output written"
    with _progress(_count_files(paths, quiet, **walk), quiet) as bar:
        inspections = list(
            inspect_files(
                iter_files(paths, **walk), options, jobs=_jobs(jobs), timeout=timeout, progress=lambda: bar.update(1)
            )
        )
    result = report(inspections, started=started, options=options)
    with open_output(output) as stream:
        if chosen == "text":
            write_inspect(result, stream)
        else:
            write_report("inspect", chosen, result, stream)
    summary = result["summary"]
    if not quiet and output != "-":
        click.echo(f"provenance: {summary['files']} files, {summary['errors']} could not be read", err=True)
    sys.exit(ExitCode.SOME_FAILED if summary["errors"] else ExitCode.OK)


@main.command("index")
@click.argument("paths", nargs=-1, type=INPUT)
@db_option
@click.option("--prune", is_flag=True, help="Forget indexed files that no longer exist (missing roots are kept).")
@click.option(
    "--reroot",
    nargs=2,
    metavar="OLD NEW",
    default=None,
    help="The folder indexed as OLD now lives at NEW (a moved leak); nothing is re-read.",
)
@click.option("--retry-errors", is_flag=True, help="Read again unchanged files that failed last time.")
@click.option(
    "--no-features",
    is_flag=True,
    help="Store digests and hashes only, not the keypoint features `match` searches for hard cases.",
)
@reading_options("the files")
@scheduler_option
@click.option(
    "--details", is_flag=True, default=None, help="Store every EXIF tag too (fixed when the index is created)."
)
@click.option(
    "--exact-hashes",
    is_flag=True,
    default=None,
    help="Full JPEG decoding for imagehash-identical hashes (fixed when the index is created).",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=None,
    help=f"Decompression-bomb limit [default: {DEFAULT_MAX_PIXELS}] (fixed when the index is created).",
)
@c2pa_trust_option
@quiet_option
@debug_option
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=256,
    hidden=True,
    help="Files per committed transaction (tests use small batches).",
)
def index_command(
    paths: tuple[str, ...],
    db: str,
    prune: bool,
    reroot: tuple[str, str] | None,
    retry_errors: bool,
    no_features: bool,
    jobs: int | None,
    timeout: float,
    follow_symlinks: bool,
    include_hidden: bool,
    scheduler: str | None,
    details: bool | None,
    exact_hashes: bool | None,
    max_pixels: int | None,
    c2pa_trust: str,
    quiet: bool,
    debug: bool,
    batch_size: int,
) -> None:
    """Add files and folders to an index; a rerun reads only new and changed files.

    Files whose path, size and mtime are unchanged are skipped. Each image's keypoint
    features (what `match` searches when hashes find nothing) are made from the same
    read and stored; an index made without them gets them on its next run. Work is
    committed in batches: an interrupted run keeps what it did, and the next run
    finishes the rest.
    Exit status 3 means some files of this run could not be fingerprinted (they are
    stored with their error; `provenance stats` lists them).

    \b
    Example:
        provenance index fixtures/leak --db leak.db
        provenance index fixtures/article --db leak.db
        provenance index --db leak.db --prune
    """
    from .fingerprint import FingerprintOptions
    from .index import Index
    from .report.text import printable

    if not paths and not prune and not reroot:
        raise click.UsageError("give folders or files to index, --prune, or --reroot OLD NEW")
    options = None
    if details is not None or exact_hashes is not None or max_pixels is not None:
        options = FingerprintOptions(
            details=bool(details), exact_hashes=bool(exact_hashes), max_pixels=max_pixels or DEFAULT_MAX_PIXELS
        )
    summary = None
    with Index(db, create=True, options=options) as index:
        if c2pa_trust:
            index.options = dataclasses.replace(index.options, c2pa_trust=c2pa_trust)
        if reroot:
            index.move_root(*reroot)
            if not quiet:
                click.echo(f"provenance: {printable(reroot[0])} re-rooted to {printable(reroot[1])}", err=True)
        if paths:
            walk: dict[str, Any] = {"follow_symlinks": follow_symlinks, "include_hidden": include_hidden}
            click.get_current_context().meta["provenance.interrupted"] = "; what was committed is kept, rerun to finish"
            lists_bar: list[Any] = []  # made when the inverted file's lists are brought up to date (large sets)

            def lists_progress(done: int, total: int) -> None:
                if not lists_bar:
                    lists_bar.append(_progress(total, quiet, unit="image"))
                    lists_bar[0].set_description("search lists")
                lists_bar[0].update(done)

            with _cluster(scheduler, jobs) as client, _progress(_count_files(paths, quiet, **walk), quiet) as bar:
                try:
                    summary = index.add(
                        paths,
                        jobs=jobs,
                        retry_errors=retry_errors,
                        timeout=timeout,
                        batch_size=batch_size,
                        progress=lambda _path, _status: bar.update(1),
                        debug=debug,
                        keys=not no_features,
                        scheduler=client,
                        lists_progress=lists_progress,
                        **walk,
                    )
                finally:
                    for made in lists_bar:
                        made.close()
        if prune:
            pruned = index.prune()
            if not quiet:
                click.echo(f"provenance: pruned {len(pruned.removed)} files that no longer exist", err=True)
                for root in pruned.missing_roots:
                    click.echo(
                        f"provenance: root {printable(root)} is missing; its files were kept (--reroot OLD NEW)",
                        err=True,
                    )
    if summary is not None and not quiet:
        click.echo(
            f"provenance: {summary.seen} files: {summary.added} added, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, {summary.failed} failed"
            + (f"; keypoint features of {summary.keys_added} images stored" if summary.keys_added else "")
            + (f"; search lists of {summary.lists_added} images stored" if summary.lists_added else ""),
            err=True,
        )
        for path, kind, message in summary.errors[:20]:
            click.echo(f"  {printable(path)}: {kind}: {printable(message)}", err=True)
        if len(summary.errors) > 20:
            click.echo(f"  ... and {len(summary.errors) - 20} more (provenance stats --db {printable(db)})", err=True)
    sys.exit(ExitCode.SOME_FAILED if summary is not None and summary.failed else ExitCode.OK)


@main.command("lookup")
@click.argument("queries", nargs=-1, required=True)
@db_option
@click.option("--json", "as_json", is_flag=True, help="JSON (one object per query, in a list) instead of text.")
@click.option(
    "--distance",
    type=click.IntRange(min=0),
    default=None,
    help="Near-match radius in bits for every hash [default: each kind's own: pHash 10, PDQ 31].",
)
@debug_option
def lookup_command(queries: tuple[str, ...], db: str, as_json: bool, distance: int | None, debug: bool) -> None:
    """Look up digests, perceptual hashes or files in an index.

    A hex QUERY is recognised by its length: 32 MD5, 40 SHA-1, 64 SHA-256 / image-data
    digest / PDQ, 16 pHash / dHash / aHash / wHash (and 64-bit plugin kinds). A QUERY that
    is a file is fingerprinted, then its digests and near matches are looked up.

    \b
    Example:
        provenance lookup 97fdc6ae077d8165f3cb4aa494ddb7d4 --db leak.db
        provenance lookup fixtures/article/canteen-lunch-960x640-1.jpg --db leak.db --json
    """
    from .index import Index
    from .lookup import answer
    from .report.text import write_lookup

    with Index(db, create=False, writable=False) as index:
        answers = [answer(index, q, max_distance=distance) for q in queries]
    if as_json:
        click.echo(json.dumps(answers, indent=2, ensure_ascii=True))
    else:
        write_lookup(answers, sys.stdout)
    sys.exit(ExitCode.SOME_FAILED if any(a.get("error") for a in answers) else ExitCode.OK)


@main.command("stats")
@db_option
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
@debug_option
def stats_command(db: str, as_json: bool, debug: bool) -> None:
    """Counts, formats, cameras, date range and the files that failed, of an index.

    \b
    Example:
        provenance stats --db leak.db
    """
    from .index import Index
    from .report.text import write_stats

    with Index(db, create=False, writable=False) as index:
        stats = index.stats()
    if as_json:
        click.echo(json.dumps(stats, indent=2, ensure_ascii=True))
    else:
        write_stats(stats, sys.stdout)


@main.command("export")
@db_option
@click.option(
    "--parquet",
    "folder",
    required=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Folder to write files.parquet into (made if need be).",
)
@quiet_option
@debug_option
def export_command(db: str, folder: str, quiet: bool, debug: bool) -> None:
    """Write an index as a Parquet table, one row per file, for DuckDB, pandas or Dask.

    Columns: path, size, digests, name claim, every hash kind, format, dimensions, the main
    metadata fields and the error (docs/export.md). Written whole or not at all.

    \b
    Example:
        provenance export --db leak.db --parquet leak-parquet
        duckdb -c "SELECT make, model, count(*) FROM 'leak-parquet/files.parquet' GROUP BY ALL"
    """
    from .export import TABLE, export_parquet
    from .index import Index
    from .report.text import printable

    with Index(db, create=False, writable=False) as index:
        rows = export_parquet(index, folder)
    if not quiet:
        click.echo(f"provenance: {rows} files written to {printable(os.path.join(folder, TABLE))}", err=True)


def _dedup_settings(command: Callable[..., Any]) -> Callable[..., Any]:
    from .dedup import DedupOptions
    from .settings import click_option

    return _options(
        click_option(DedupOptions, "phash_distance", "--phash-distance"),
        click_option(DedupOptions, "pdq_distance", "--pdq-distance"),
    )(command)


@main.command("dedup")
@click.argument("paths", nargs=-1, type=INPUT)
@click.option(
    "--db",
    "db",
    default=None,
    envvar="PROVENANCE_DB",
    type=click.Path(),
    help="Deduplicate an index instead of folders [env: PROVENANCE_DB].",
)
@report_options("dedup", "one row per file")
@_dedup_settings
@reading_options("the files of folders")
@quiet_option
@debug_option
def dedup_command(
    paths: tuple[str, ...],
    db: str | None,
    fmt: str | None,
    outputs: tuple[str, ...],
    phash_distance: int,
    pdq_distance: int,
    jobs: int | None,
    timeout: float,
    follow_symlinks: bool,
    include_hidden: bool,
    quiet: bool,
    debug: bool,
) -> None:
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
    from .files import iter_files
    from .fingerprint import FingerprintOptions
    from .index import Index
    from .workers import fingerprint_many

    if bool(paths) == bool(db):
        raise click.UsageError("give either folders to deduplicate or --db INDEX")
    targets = _report_targets(outputs, fmt)
    options = DedupOptions(phash_distance=phash_distance, pdq_distance=pdq_distance)
    if db:
        with Index(db, create=False, writable=False) as index:
            result = dedup(index.records(), options, index=index)
    else:
        walk: dict[str, Any] = {"follow_symlinks": follow_symlinks, "include_hidden": include_hidden}
        with _progress(_count_files(paths, quiet, **walk), quiet) as bar:

            def records() -> Iterator[Any]:
                # dedup has no --max-pixels: its records say nothing of raising the limit
                reading = FingerprintOptions(max_pixels_hint="")
                for record in fingerprint_many(
                    iter_files(paths, **walk), jobs=_jobs(jobs), options=reading, timeout=timeout, debug=debug
                ):
                    bar.update(1)
                    yield record

            result = dedup(records(), options)
    report = result.to_dict()
    _write_reports("dedup", report, targets, quiet)
    if not quiet:
        s = report["summary"]
        click.echo(
            f"provenance: {s['files']} files, {s['clusters']} clusters, {s['copies']} copies, {s['errors']} errors",
            err=True,
        )
    sys.exit(ExitCode.SOME_FAILED if report["errors"] else ExitCode.OK)


def _match_settings(command: Callable[..., Any]) -> Callable[..., Any]:
    from .matching.options import MatchOptions
    from .settings import _fields, click_option

    keypoints = _fields(MatchOptions)["keypoint_search"].metadata["help"]
    return _options(
        click_option(MatchOptions, "max_candidates", "--max-candidates"),
        click.option("--no-keypoint-search", is_flag=True, help=f"Do not: {keypoints[0].lower()}{keypoints[1:]}"),
    )(command)


def _gather(
    paths: tuple[str, ...], listings: dict[str, tuple[str, ...]], follow_symlinks: bool, include_hidden: bool
) -> Any:
    from .captions import gather_queries

    if not paths and not any(listings.values()):
        from .captions import QUERY_SOURCES

        sources = ", ".join(f"--{s.name} {s.metavar}" for s in QUERY_SOURCES.values())
        raise click.UsageError(f"give query files or folders, or {sources}")
    return gather_queries(paths, listings, follow_symlinks=follow_symlinks, include_hidden=include_hidden)


@main.command("match")
@query_options
@click.option(
    "--against",
    required=True,
    envvar="PROVENANCE_DB",
    type=INPUT,
    help="The references: an index file, or a folder or folder URL (indexed on the fly) [env: PROVENANCE_DB].",
)
@report_options("match", "one row per query")
@_match_settings
@reading_options("the queries (and a reference folder)")
@scheduler_option
@quiet_option
@debug_option
def match_command(
    paths: tuple[str, ...],
    against: str,
    fmt: str | None,
    outputs: tuple[str, ...],
    max_candidates: int,
    no_keypoint_search: bool,
    jobs: int | None,
    timeout: float,
    follow_symlinks: bool,
    include_hidden: bool,
    scheduler: str | None,
    quiet: bool,
    debug: bool,
    **sources: Any,
) -> None:
    """Match query images against references: is each one a reuse of a known photo?

    Queries are files and folders, the images of saved HTML pages (--html) or the rows
    of a manifest (--manifest). Each gets a verdict (exact, metadata-only,
    near-duplicate, no-match), its best matches with evidence and the transform
    estimate, and the metadata difference. Exit status 3 means some queries could not
    be read (missing, outside their page's folder, undecodable).

    \b
    Example:
        provenance match fixtures/article --against fixtures/leak -f md
        provenance match fixtures/article --against leak.db -o report.json
        provenance match --manifest captions.csv --against leak.db -f csv
    """
    from .files import is_folder
    from .matching import MatchOptions, match, open_references

    gathered = _gather(paths, _listings(sources), follow_symlinks, include_hidden)
    targets = _report_targets(outputs, fmt)
    options = MatchOptions(max_candidates=max_candidates, keypoint_search=not no_keypoint_search)
    indexing = _progress(None, quiet or not is_folder(against))
    indexing.set_description("indexing references")
    with (
        _cluster(scheduler, jobs) as client,
        indexing,
        open_references(
            against, jobs=jobs, debug=debug, progress=lambda _path, _status: indexing.update(1), scheduler=client
        ) as index,
    ):
        indexing.close()
        with _progress(len(gathered.queries), quiet) as bar:
            report = match(
                gathered.queries,
                index,
                options,
                jobs=_jobs(jobs),
                timeout=timeout,
                progress=lambda _result: bar.update(1),
                against=against,
                debug=debug,
                scheduler=client,
            ).to_dict()
    _write_reports("match", report, targets, quiet)
    if not quiet:
        v = report["summary"]["verdicts"]
        click.echo(
            f"provenance: {report['summary']['queries']} queries: {v['exact']} exact, "
            f"{v['metadata-only']} metadata-only, {v['near-duplicate']} near-duplicate, "
            f"{v['no-match']} no match; {report['summary']['errors']} could not be read",
            err=True,
        )
    sys.exit(ExitCode.SOME_FAILED if report["summary"]["errors"] else ExitCode.OK)


@main.command("report")
@click.argument("saved", type=click.Path(exists=True, path_type=str))
@report_options("KIND", "one row per query or file")
@quiet_option
@debug_option
def report_command(saved: str, fmt: str | None, outputs: tuple[str, ...], quiet: bool, debug: bool) -> None:
    """Re-render a saved JSON report (of match, dedup or check) in other formats, without recomputing.

    HTML reads the images again for its thumbnails: paths relative to the current folder,
    then to the saved report's folder. A picture that is gone shows as a note, not an error.

    \b
    Example:
        provenance report results.json -f html -o report.html
        provenance report results.json -o report.md -o report.csv
    """
    from .errors import ReportError
    from .report.saved import load_saved

    targets = _report_targets(outputs, fmt)
    kind, report = load_saved(saved)
    try:
        _write_reports(kind, report, targets, quiet, base=os.path.dirname(os.path.abspath(saved)))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:  # valid, yet not renderable
        raise ReportError(f"{saved}: cannot be rendered ({type(exc).__name__}: {exc})") from exc


@main.command("check")
@query_options
@click.option(
    "--against",
    required=True,
    envvar="PROVENANCE_DB",
    type=click.Path(path_type=str),
    help="The reference index [env: PROVENANCE_DB]; created empty if missing with --update-index.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(path_type=str),
    default=None,
    help="A TOML policy: fail_on, ignore, thresholds, [match], [dedup] (docs/ci.md) "
    "[default: provenance.toml if present].",
)
@click.option(
    "--fail-on",
    "fail_on",
    default=None,
    metavar="RULES",
    help="Comma-separated rules that fail the run, replacing the policy's: " + ", ".join(rule_names()) + ".",
)
@click.option(
    "--junit",
    "junit",
    type=click.Path(allow_dash=True),  # checked by output.check_output: one line, before any work
    default=None,
    help="Also write JUnit XML: one test case per file, a failure per violation.",
)
@click.option(
    "--update-index",
    is_flag=True,
    help="When the policy holds, add the checked files to the index (one transaction, after the reports).",
)
@report_options("check", "one row per file")
@reading_options("the files")
@scheduler_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary (violations are still listed).")
@debug_option
def check_command(
    paths: tuple[str, ...],
    against: str,
    policy_path: str | None,
    fail_on: str | None,
    junit: str | None,
    update_index: bool,
    fmt: str | None,
    outputs: tuple[str, ...],
    jobs: int | None,
    timeout: float,
    follow_symlinks: bool,
    include_hidden: bool,
    scheduler: str | None,
    quiet: bool,
    debug: bool,
    **sources: Any,
) -> None:
    """Check a new drop of files against an index, by a policy: for CI.

    Every file is matched against the index, the drop is deduplicated within itself, and
    the policy's rules are applied. Each violation is one line on stderr
    (`path: rule: detail`); the report goes to stdout or -o FILE.

    \b
    Exit status: 0 the policy holds; 1 it is violated; 2 usage or configuration
    error; 3 the policy holds but some files could not be read.

    \b
    Example:
        provenance check fixtures/article --against leak.db --fail-on name-digest-mismatch --junit results.xml
        provenance check NEW_DROP --against leak.db --policy provenance.toml -o report.html
    """
    from .check import check_queries, index_update
    from .index import Index
    from .output import check_output, output
    from .policy import load_policy
    from .report.junit import write_junit
    from .report.text import printable

    targets = _report_targets(outputs, fmt)
    if junit == "-" and any(path == "-" for path, _ in targets):
        raise click.UsageError("--junit - and the report would both go to stdout: give the report -o FILE")
    if junit:
        check_output(junit)
    if policy_path is None and os.path.isfile("provenance.toml"):
        policy_path = "provenance.toml"
    rules = [r.strip() for r in fail_on.split(",") if r.strip()] if fail_on is not None else None
    policy = load_policy(policy_path, fail_on=rules)
    for warning in policy.disabled_detections():
        click.echo(f"provenance: warning: the policy switches a detection off: {printable(warning)}", err=True)
    if not update_index and not os.path.isfile(against):
        raise click.UsageError(f"the index {printable(against)} does not exist (give --update-index to start one)")
    gathered = _gather(paths, _listings(sources), follow_symlinks, include_hidden)
    with Index(against, create=update_index, writable=update_index) as index:
        with _cluster(scheduler, jobs) as client, _progress(None, quiet) as bar:
            report = check_queries(
                gathered.queries,
                index,
                policy,
                roots=paths,
                walk_errors=gathered.walk_errors,
                jobs=_jobs(jobs),
                timeout=timeout,
                progress=lambda _result: bar.update(1),
                against=against,
                debug=debug,
                scheduler=client,
            )
        # the index takes the drop only once every output is written (and the policy held)
        with index_update(index, report) if update_index else contextlib.nullcontext():
            data = report.to_dict()
            _write_reports("check", data, targets, quiet)
            if junit:
                with output(junit) as stream:
                    write_junit(data, stream)
    for violation in report.violations:
        click.echo(f"{printable(violation.path)}: {violation.rule}: {printable(violation.detail)}", err=True)
    if not quiet:
        s = data["summary"]
        click.echo(
            f"provenance: {s['files']} files checked ({s['ignored']} ignored): {s['violations']} violations "
            f"of {', '.join(policy.fail_on) or 'no rule'}; {s['errors']} unreadable",
            err=True,
        )
        if report.index_update:
            u = report.index_update
            click.echo(f"provenance: index updated: {u.added} added, {u.updated} updated", err=True)
        elif update_index:
            click.echo("provenance: index not updated: the policy is violated", err=True)
    sys.exit(report.exit_status)


if __name__ == "__main__":  # pragma: no cover
    main()
