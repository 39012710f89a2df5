"""Where query images and their captions come from: folders, saved HTML pages, manifests, file names.

Everything here is untrusted text from leaks and web pages: it is parsed, never evaluated,
and a path taken from a page or a manifest never leaves the folder that page or manifest is in.
"""

from __future__ import annotations

import csv
import io
import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .digests import name_digest_algorithm
from .errors import InputListError, ProvenanceError
from .files import WalkError, iter_files, load_json, read_text

#: caption_source values, strongest first
SOURCES = ("html:figcaption", "html:alt", "html:title", "manifest", "metadata:caption",
           "metadata:image_description", "filename")  # fmt: skip


@dataclass
class Query:
    """One image to match, with the caption it was published under."""

    path: str
    caption: str | None = None
    caption_source: str | None = None
    #: the size a WordPress-style file name declares ("-960x640"), as [width, height]
    declared_size: list[int] | None = None
    #: WordPress's duplicate counter ("-1") from the file name
    name_counter: int | None = None
    #: where the query was listed: the page or manifest and the reference in it (``src`` or ``path`` as written)
    listed_in: str | None = None
    listed_as: str | None = None
    #: extra manifest columns, passed through to the report
    extra: dict[str, Any] = field(default_factory=dict)
    #: why the image cannot be read from disk (missing, outside its folder, remote), else None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "caption": self.caption, "caption_source": self.caption_source,
            "declared_size": self.declared_size, "name_counter": self.name_counter,
            "listed_in": self.listed_in, "listed_as": self.listed_as, "extra": self.extra,
            "problem": self.problem,
        }  # fmt: skip


# -- file names ---------------------------------------------------------------------------------

_SIZE = re.compile(r"^(?P<w>[1-9]\d{1,4})x(?P<h>[1-9]\d{1,4})$")
_COUNTER = re.compile(r"^\d{1,3}$")
_EDITED = re.compile(r"^e\d{10,13}$")  # WordPress's "edited in the media library" suffix
_CAMERA = re.compile(r"^(img|dsc|dscn|dscf|dcim|pxl|mvimg|p|sam|gopr|wp|photo|image|screenshot)[\W_]*\d", re.I)


@dataclass
class NameParts:
    """What a WordPress-style file name says: the caption slug, the declared size and the counter."""

    caption: str | None
    declared_size: list[int] | None
    counter: int | None


def parse_name(filename: str) -> NameParts:
    """Split ``officials-tour-facility-960x640-1.jpg`` into caption, declared size and counter.

    Digest-named files, camera names (``IMG_1234``) and names without two words give no caption.
    """
    stem = os.path.splitext(os.path.basename(filename))[0]
    if name_digest_algorithm(stem) is not None:
        return NameParts(None, None, None)
    parts = [p for p in re.split(r"[-_\s]+", stem) if p]
    size: list[int] | None = None
    counter: int | None = None
    # suffixes WordPress appends, in either order: -1 (duplicate), -960x640 (size), -scaled, -e1634567890
    while parts:
        last = parts[-1].lower()
        found = _SIZE.match(last)
        if found and size is None:
            size = [int(found["w"]), int(found["h"])]
        elif _COUNTER.match(last) and counter is None and len(parts) > 1:
            counter = int(last)
        elif (last in ("scaled", "rotated") or _EDITED.match(last)) and len(parts) > 1:
            pass
        else:
            break
        parts.pop()
    words = [p for p in parts if re.search(r"[^\W\d_]", p)]
    if len(words) < 2 or _CAMERA.match(stem):
        # a trailing number means a WordPress counter only next to a size ("2022-05-24" is a date)
        return NameParts(None, size, counter if size else None)
    text = " ".join(parts)
    return NameParts(text[0].upper() + text[1:], size, counter)


def _clean(text: str | None) -> str | None:
    """Whitespace collapsed; None for empty text."""
    if text is None:
        return None
    text = " ".join(str(text).split())
    return text or None


def from_name(path: str, **fields: Any) -> Query:
    """A query for ``path`` with what its file name says (caption only as a last resort)."""
    parts = parse_name(path)
    return Query(
        path=path,
        caption=parts.caption,
        caption_source="filename" if parts.caption else None,
        declared_size=parts.declared_size,
        name_counter=parts.counter,
        **fields,
    )


def apply_embedded(query: Query, metadata: Mapping[str, Any] | None) -> None:
    """Use the image's own caption (IPTC/XMP, then EXIF ImageDescription) when nothing stronger gave one."""
    if query.caption_source not in (None, "filename") or not metadata:
        return
    for key in ("caption", "image_description"):
        text = _clean(metadata.get(key))
        if text:
            query.caption, query.caption_source = text, f"metadata:{key}"
            return


# -- paths inside a root -------------------------------------------------------------------------


def resolve_inside(root: str, reference: str) -> tuple[str | None, str | None]:
    """The file a relative reference (URL-encoded ``src`` or manifest path) names inside ``root``.

    Returns (path, None), or (None, why) for remote URLs, absolute paths and anything that
    would leave ``root`` (``..``, symlinks pointing out).
    """
    parsed = urllib.parse.urlsplit(reference.strip())
    if parsed.scheme and len(parsed.scheme) > 1:  # "c:" is a Windows drive, not a scheme
        if parsed.scheme in ("http", "https"):
            return None, f"remote image ({parsed.scheme}), not saved with the page"
        return None, f"unsupported address scheme {parsed.scheme!r}"
    if parsed.netloc:
        return None, "remote image (protocol-relative address), not saved with the page"
    relative = urllib.parse.unquote(parsed.path)
    if not relative:
        return None, "empty address"
    if "\x00" in relative:
        return None, "the path contains a NUL byte"
    if os.path.isabs(relative) or relative.startswith(("/", "\\")):
        return None, "absolute path: only paths relative to the page or manifest are read"
    base = os.path.realpath(root)
    target = os.path.realpath(os.path.join(base, relative))
    if os.path.commonpath([base, target]) != base:
        return None, "the path leads outside the folder of the page or manifest"
    return target, None


def _located(root: str, listed_in: str, reference: str, **fields: Any) -> Query:
    path, problem = resolve_inside(root, reference)
    if path is not None and not os.path.isfile(path):
        problem = "missing on disk"
    query = from_name(path or reference, listed_in=listed_in, listed_as=reference, **fields)
    query.problem = problem
    return query


# -- where queries come from ---------------------------------------------------------------------


class QuerySource(Protocol):
    """A kind of document that lists query images and their captions (a saved page, a manifest).

    ``name`` is also the command-line option that takes such documents (``--html PAGE``);
    ``queries`` reads one document, raising ``InputListError`` when it cannot be read as one.
    """

    name: str
    metavar: str
    help: str

    def queries(self, location: str) -> list[Query]: ...


def _document_text(location: str, what: str) -> str:
    """A page or manifest as text: a regular file (never a FIFO), UTF-8 (a byte-order mark is accepted)."""
    try:
        return read_text(location)
    except ProvenanceError as exc:
        raise InputListError(f"{location}: cannot read the {what}: {exc}") from exc


def _largest_candidate(srcset: str) -> str | None:
    """The widest (or highest-density) candidate of a ``srcset``."""
    best: tuple[float, str] | None = None
    for candidate in srcset.split(","):
        bits = candidate.strip().split()
        if not bits:
            continue
        weight = 1.0
        if len(bits) > 1:
            try:
                weight = float(bits[1][:-1]) if bits[1][-1] in "wx" else 1.0
            except ValueError:
                weight = 1.0
        if best is None or weight > best[0]:
            best = (weight, bits[0])
    return best[1] if best else None


def _attribute(tag: Any, name: str) -> str | None:
    """An attribute of a tag as text (Beautiful Soup gives lists for multi-valued attributes)."""
    value = tag.get(name)
    if value is None:
        return None
    return " ".join(value) if isinstance(value, list) else str(value)


class HtmlPages:
    """Every ``<img>`` of a saved page, with its ``<figcaption>``, else ``alt``, else ``title``, as caption."""

    name = "html"
    metavar = "PAGE"
    help = "A saved web page: every <img> in it is a query, captioned by its <figcaption>, alt or title."

    def queries(self, location: str) -> list[Query]:
        from bs4 import BeautifulSoup

        text = _document_text(location, "page")
        try:
            soup = BeautifulSoup(text, "html.parser")
        except RecursionError as exc:
            raise InputListError(f"{location}: the page is nested too deeply to read") from exc
        root = os.path.dirname(os.path.abspath(location))
        queries = []
        for img in soup.find_all("img"):
            reference = (
                _largest_candidate(str(img.get("srcset") or img.get("data-srcset") or ""))
                or img.get("src")
                or img.get("data-src")
            )
            caption, source = None, None
            figure = img.find_parent("figure")
            figcaption = figure.find("figcaption") if figure is not None else None
            for text_, where in (
                (figcaption.get_text(" ") if figcaption else None, "html:figcaption"),
                (_attribute(img, "alt"), "html:alt"),
                (_attribute(img, "title"), "html:title"),
            ):
                if _clean(text_):
                    caption, source = _clean(text_), where
                    break
            if not reference:
                query = Query(path="", listed_in=location, problem="an <img> without src")
            else:
                query = _located(root, location, str(reference))
            if caption:
                query.caption, query.caption_source = caption, source
            queries.append(query)
        return queries


class Manifests:
    """One query per row of a CSV or JSON manifest (``path``, ``caption``, any extra columns kept)."""

    name = "manifest"
    metavar = "FILE"
    help = "A CSV or JSON list of queries with `path` and `caption` (extra columns are kept)."

    def rows(self, location: str) -> list[dict[str, Any]]:
        if location.lower().endswith(".json"):
            try:
                data = load_json(location)
            except ProvenanceError as exc:
                raise InputListError(f"{location}: cannot read the manifest: {exc}") from exc
            rows = data.get("queries", data.get("images")) if isinstance(data, dict) else data
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise InputListError(f"{location}: expected a JSON list of objects with 'path' and 'caption'")
            return rows
        text = _document_text(location, "manifest")
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            if not reader.fieldnames or "path" not in reader.fieldnames:
                raise InputListError(f"{location}: the CSV needs a 'path' column (and usually 'caption')")
            return list(reader)
        except csv.Error as exc:
            raise InputListError(f"{location}: not a CSV manifest (line {reader.line_num}: {exc})") from exc

    def queries(self, location: str) -> list[Query]:
        root = os.path.dirname(os.path.abspath(location))
        queries = []
        for row in self.rows(location):
            value = row.get("path")
            reference = value if isinstance(value, str) else "" if value is None else str(value)
            extra = {k: v for k, v in row.items() if k not in ("path", "caption") and k is not None}
            if not reference:
                queries.append(Query(path="", listed_in=location, extra=extra, problem="a row without path"))
                continue
            query = _located(root, location, reference, extra=extra)
            caption = _clean(row.get("caption"))
            if caption:
                query.caption, query.caption_source = caption, "manifest"
            queries.append(query)
        return queries


#: the documents that list queries, by the name of the option that takes them
QUERY_SOURCES: dict[str, QuerySource] = {source.name: source for source in (HtmlPages(), Manifests())}


def queries_from_html(page: str) -> list[Query]:
    """The queries of a saved page (``HtmlPages``)."""
    return QUERY_SOURCES["html"].queries(page)


def queries_from_manifest(manifest: str) -> list[Query]:
    """The queries of a CSV or JSON manifest (``Manifests``)."""
    return QUERY_SOURCES["manifest"].queries(manifest)


def queries_from_paths(files: Iterable[str]) -> Iterator[Query]:
    """A query per file, captioned (for now) by its file name."""
    for path in files:
        yield from_name(path)


@dataclass
class Gathered:
    """The queries of a run, in order, and the folders that could not be listed."""

    queries: list[Query]
    walk_errors: list[WalkError]


def gather_queries(
    paths: Iterable[str] = (),
    listings: Mapping[str, Iterable[str]] | None = None,
    *,
    follow_symlinks: bool = False,
    include_hidden: bool = False,
) -> Gathered:
    """Every query of a run: each document's (``listings``: source name → documents, in
    ``QUERY_SOURCES`` order), then the files under ``paths``."""
    listings = listings or {}
    unknown = set(listings) - set(QUERY_SOURCES)
    if unknown:
        raise ValueError(f"unknown query source {', '.join(sorted(unknown))}")
    queries: list[Query] = []
    for name, source in QUERY_SOURCES.items():
        for location in listings.get(name, ()):
            queries.extend(source.queries(location))
    errors: list[WalkError] = []
    for item in iter_files(paths, follow_symlinks=follow_symlinks, include_hidden=include_hidden):
        if isinstance(item, WalkError):
            errors.append(item)
        else:
            queries.append(from_name(item))
    return Gathered(queries, errors)
