"""HTML: one self-contained page (no network, thumbnails as data URIs), escaped by Jinja2.

Captions, file names and metadata come from leaks and web pages: every value reaches the page
through Jinja2's autoescaping, and a Content-Security-Policy lets only the report's own
script and style run, so even a value that slipped through could not execute.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from . import ReportFormat

if TYPE_CHECKING:  # thumbnails load Pillow and the decoder: only when a page is written
    from .thumbs import Thumbnails

ProgressCallback = Callable[[], None]

#: cards per page; only the first page's pictures load with the page (report.js shows the others)
PAGE_SIZE = 50


def _asset(name: str) -> str:
    from importlib import resources

    return resources.files(__package__).joinpath("templates").joinpath(name).read_text(encoding="utf-8")


def _environment() -> Any:
    import jinja2  # loaded only when an HTML report is written

    return jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _render(template: str, stream: IO[str], **context: Any) -> None:
    css, js = _asset("report.css"), _asset("report.js")
    csp = (
        f"default-src 'none'; img-src data:; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
        "base-uri 'none'; form-action 'none'"
    )
    page = _environment().get_template(template)
    for chunk in page.generate(css=css, js=js, csp=csp, page_size=PAGE_SIZE, **context):
        stream.write(chunk)


# -- match and check reports -----------------------------------------------------------------------


def write_match(
    report: dict[str, Any],
    stream: IO[str],
    *,
    thumbnails: Thumbnails | None = None,
    progress: ProgressCallback | None = None,
) -> None:
    """A match report (``MatchReport.to_dict()``) or a check report as one HTML page."""
    from ..matching.records import VERDICTS
    from .thumbs import Thumbnails

    thumbnails = thumbnails or Thumbnails()
    thumbnails.prefetch(
        path
        for result in report["results"]
        for path in (
            None if result["query"].get("problem") else result["query"].get("path"),
            result["matches"][0]["reference"].get("path") if result["matches"] else None,
        )
    )
    violations = report.get("violations")
    by_path: dict[str, list[dict[str, Any]]] = {}
    for finding in report.get("findings") or []:
        by_path.setdefault(finding["path"], []).append(finding)

    def cards() -> Any:  # made as the page is written, so memory holds one card's thumbnails at a time
        for result in report["results"]:
            yield _match_card(result, thumbnails, by_path.get(result["query"].get("path") or "", []))
            if progress:
                progress()

    if violations:
        numbers = {r["query"].get("path"): n for n, r in enumerate(report["results"], 1)}
        violations = [{**v, "card": numbers.get(v["path"], 0)} for v in violations]
    title = "Provenance check" if report.get("schema", "").startswith("provenance/check") else "Provenance matches"
    _render(
        "match.html.j2",
        stream,
        title=title,
        run=report.get("run") or {},
        summary=report["summary"],
        verdicts=tuple(VERDICTS),
        verdict_labels={**VERDICTS, "error": "could not be read"},
        violations=violations,
        cards=cards(),
    )


def _match_card(result: dict[str, Any], thumbnails: Thumbnails, findings: list[dict[str, Any]]) -> dict[str, Any]:
    query = result["query"]
    best = result["matches"][0] if result["matches"] else None
    tone = "error" if result.get("error") and not best else result["verdict"]
    query_thumb = None if query.get("problem") else thumbnails.get(query.get("path"))
    reference_thumb = thumbnails.get(best["reference"].get("path")) if best else None
    return {
        "result": result,
        "tone": tone,
        "findings": findings,
        "words": _verdict_words(result, best),
        "query_thumb": query_thumb,
        "reference_thumb": reference_thumb,
        "region": _region(best, query, query_thumb) if best else None,
        "facts": _reference_facts(best["reference"]) if best else [],
        "diff": _diff_rows(best.get("metadata_diff") or {}) if best else [],
        "authenticity": _authenticity(query, best),
    }


def _authenticity(query: dict[str, Any], best: dict[str, Any] | None) -> list[tuple[str, list[str]]]:
    """The Authenticity section's (whose, lines) for the query and its best match's reference."""
    from ..forensics import authenticity_lines

    out = []
    if "authenticity" in query and not query.get("problem"):
        out.append(("The query", authenticity_lines(query["authenticity"])))
    if best and "authenticity" in best["reference"]:
        out.append(("The reference", authenticity_lines(best["reference"]["authenticity"])))
    return out


def _verdict_words(result: dict[str, Any], best: dict[str, Any] | None) -> str:
    verdict = result["verdict"]
    if result.get("error") and not best:
        return f"Could not be read: {result['error']['message']}."
    if verdict == "exact":
        return "The same file as a known reference: every byte is identical."
    if verdict == "metadata-only":
        return "The same picture as a known reference: the image data is identical, only the metadata differs."
    if verdict == "near-duplicate" and best:
        how = _transform_words(best.get("transform") or {})
        return "A reuse of a known photo, changed" + (f": {how}." if how else ".")
    return "Not found among the references: no candidate was confirmed."


def _transform_words(transform: dict[str, Any]) -> str:
    words = []
    if transform.get("crop_fraction") is not None and transform["crop_fraction"] < 0.97:
        words.append(f"cropped to {transform['crop_fraction']:.0%} of the reference's area")
    if transform.get("scale"):
        words.append(f"scaled to {transform['scale']:.0%}")
    if transform.get("flip"):
        words.append("mirrored")
    if transform.get("rotation") and abs(transform["rotation"]) >= 0.5:
        words.append(f"rotated {transform['rotation']:.1f}° counter-clockwise")
    if transform.get("query_fraction") is not None and transform["query_fraction"] < 0.9:
        words.append(
            f"the reference fills {transform['query_fraction']:.0%} of the query (borders, a page or a collage)"
        )
    return ", ".join(words)


def _region(best: dict[str, Any], query: dict[str, Any], query_thumb: Any) -> str | None:
    """The outline, in reference pixels, of the part of the reference the query shows (SVG points)."""
    transform = best.get("transform") or {}
    h = transform.get("homography")
    if not h:
        return None
    box = transform.get("query_box")
    if not box:
        size = (
            (query_thumb.full_width, query_thumb.full_height)
            if query_thumb
            else (query.get("width"), query.get("height"))
        )
        if not all(size):
            return None
        box = [0, 0, size[0], size[1]]
    left, top, right, bottom = box
    points = []
    for x, y in ((left, top), (right, top), (right, bottom), (left, bottom)):
        w = h[2][0] * x + h[2][1] * y + h[2][2]
        if abs(w) < 1e-9:
            return None
        points.append(
            f"{(h[0][0] * x + h[0][1] * y + h[0][2]) / w:.1f},{(h[1][0] * x + h[1][1] * y + h[1][2]) / w:.1f}"
        )
    return " ".join(points)


def _reference_facts(reference: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    metadata = reference.get("metadata") or {}
    facts: list[tuple[str, Any, bool]] = []
    camera = " ".join(str(metadata[k]) for k in ("make", "model") if metadata.get(k))
    if camera:
        facts.append(("camera", camera, False))
    if metadata.get("lens_model"):
        facts.append(("lens", metadata["lens_model"], False))
    if metadata.get("datetime_original"):
        facts.append(("taken", metadata["datetime_original"], False))
    if metadata.get("gps_latitude") is not None and metadata.get("gps_longitude") is not None:
        gps = f"{metadata['gps_latitude']:.6f}, {metadata['gps_longitude']:.6f}"
        if metadata.get("gps_altitude") is not None:
            gps += f", {metadata['gps_altitude']:.0f} m"
        facts.append(("GPS", gps, False))
    if metadata.get("software"):
        facts.append(("software", metadata["software"], False))
    if reference.get("width"):
        size = f"{reference['width']}×{reference['height']} {reference.get('format') or ''}"
        if reference.get("jpeg_quality"):
            size += f", JPEG quality ≈{reference['jpeg_quality']}"
        facts.append(("size", size, False))
    for key, label in (("md5", "MD5"), ("sha1", "SHA-1"), ("sha256", "SHA-256")):
        if reference.get(key):
            facts.append((label, reference[key], True))
    name = reference.get("name_digest")
    if name:
        facts.append(
            (
                "file name",
                f"its own {name['algorithm'].upper()}"
                if name.get("matches")
                else f"NOT its own {name['algorithm'].upper()}",
                False,
            )
        )
    others = [p for p in reference.get("paths") or [] if p != reference.get("path")]
    if others:
        facts.append(("also at", "; ".join(others), False))
    return facts


def _diff_rows(diff: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [
        {"field": k, "reference": _text(v), "query": "", "change": "removed"}
        for k, v in (diff.get("removed") or {}).items()
    ]
    rows += [
        {"field": k, "reference": _text(v.get("reference")), "query": _text(v.get("query")), "change": "changed"}
        for k, v in (diff.get("changed") or {}).items()
    ]
    rows += [
        {"field": k, "reference": "", "query": _text(v), "change": "added"}
        for k, v in (diff.get("added") or {}).items()
    ]
    return rows


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


# -- dedup reports -------------------------------------------------------------------------------------


def write_dedup(
    result: dict[str, Any],
    stream: IO[str],
    *,
    thumbnails: Thumbnails | None = None,
    progress: ProgressCallback | None = None,
) -> None:
    """A dedup result (``DedupResult.to_dict()``) as one HTML page: a row of thumbnails per cluster."""
    from .thumbs import Thumbnails

    thumbnails = thumbnails or Thumbnails(side=200)
    thumbnails.prefetch(m["path"] for cluster in result["clusters"] for m in cluster["members"])

    def cards() -> Any:
        for cluster in result["clusters"]:
            yield {"cluster": cluster, "members": [(m, thumbnails.get(m["path"])) for m in cluster["members"]]}
            if progress:
                progress()

    _render(
        "dedup.html.j2",
        stream,
        title="Duplicates",
        run=result.get("run") or {},
        summary=result["summary"],
        relations=("exact", "metadata-only", "near-duplicate"),
        parameters=result.get("parameters") or {},
        cards=cards(),
        errors=result.get("errors") or [],
        low_information=result.get("low_information") or [],
    )


def _match_page(
    report: dict[str, Any], stream: IO[str], *, base: str | None = None, progress: ProgressCallback | None = None
) -> None:
    from ..workers import default_jobs
    from .thumbs import THUMBNAIL_SIDE, Thumbnails

    with Thumbnails(side=THUMBNAIL_SIDE, base=base, jobs=default_jobs()) as thumbnails:
        write_match(report, stream, thumbnails=thumbnails, progress=progress)


def _dedup_page(
    report: dict[str, Any], stream: IO[str], *, base: str | None = None, progress: ProgressCallback | None = None
) -> None:
    from ..workers import default_jobs
    from .thumbs import Thumbnails

    with Thumbnails(side=200, base=base, jobs=default_jobs()) as thumbnails:
        write_dedup(report, stream, thumbnails=thumbnails, progress=progress)


# -- inspect reports -----------------------------------------------------------------------------------


def write_inspect(
    report: dict[str, Any], stream: IO[str], *, base: str | None = None, progress: ProgressCallback | None = None
) -> None:
    """An inspect report as one HTML page: a card per file with its facts, findings and Content Credentials."""
    from .text import inspect_lines

    def cards() -> Any:
        for item in report["files"]:
            lines = inspect_lines(item)
            state = item["c2pa"]["state"]
            yield {"path": lines[0][1], "lines": lines[1:], "c2pa": None if state == "absent" else state}
            if progress:
                progress()

    _render(
        "inspect.html.j2",
        stream,
        title="Authenticity evidence",
        run=report.get("run") or {},
        summary=report["summary"],
        cards=cards(),
    )


FORMAT = ReportFormat(
    "html",
    (".html", ".htm"),
    "HTML (one self-contained page with thumbnails)",
    {"match": _match_page, "dedup": _dedup_page, "check": _match_page, "inspect": write_inspect},
    order=40,
)
