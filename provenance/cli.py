"""The ``provenance`` command: parses options, calls the library, owns progress bars and exit codes.

Exit codes: 0 success; 2 usage or configuration error; 3 the run completed but some
inputs failed (their records say why). ``check`` (a later command) adds 1.
"""

from __future__ import annotations

import contextlib
import sys
from typing import IO, Iterator

import click
from tqdm import tqdm

from . import __version__
from .decode import DEFAULT_MAX_PIXELS
from .files import WalkStats, iter_files
from .fingerprint import FingerprintOptions
from .pool import DEFAULT_TIMEOUT, default_jobs, fingerprint_many
from .report import writer_for

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
        f"{name} {ver(name)}" for name in ("pillow", "pillow-heif", "imagehash", "exifread", "click", "tqdm")
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


if __name__ == "__main__":  # pragma: no cover
    main()
