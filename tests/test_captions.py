"""Where queries and captions come from: file names, saved HTML pages, manifests; paths never leave their folder."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.captions import (
    Query,
    apply_embedded,
    parse_name,
    queries_from_html,
    queries_from_manifest,
    resolve_inside,
)  # fmt: skip
from provenance.errors import ProvenanceError


@pytest.mark.parametrize(
    ("name", "caption", "size", "counter"),
    [
        ("xinjiang-police-files-tiger-chair-960x640-1.jpg", "Xinjiang police files tiger chair", [960, 640], 1),
        ("officials-tour-facility-960x640-1.jpg", "Officials tour facility", [960, 640], 1),
        ("Officials tour facility 960x640 1.jpg", "Officials tour facility", [960, 640], 1),
        ("camp-gate-at-night-1-1024x683.jpg", "Camp gate at night", [1024, 683], 1),  # counter before size
        ("camp-gate-at-night-scaled.jpg", "Camp gate at night", None, None),
        ("camp-gate-at-night-e1634567890123.jpg", "Camp gate at night", None, None),
        ("camp_gate_at_night.png", "Camp gate at night", None, None),
        ("8d81a50f5602b385c40b141c4ab16ca7.jpg", None, None, None),  # digest names carry no caption
        ("IMG_1234.jpg", None, None, None),
        ("DSCN0010.jpg", None, None, None),
        ("report.jpg", None, None, None),  # one word is not a caption
        ("photo-960x640.jpg", None, [960, 640], None),
        ("2022-05-24.jpg", None, None, None),  # a date, not a counter
    ],
)
def test_wordpress_names(name, caption, size, counter):
    parts = parse_name(name)
    assert (parts.caption, parts.declared_size, parts.counter) == (caption, size, counter)


@given(st.text(max_size=80))
def test_any_name_parses_without_error(name):
    parts = parse_name(name + ".jpg")
    if parts.caption is not None:
        assert parts.caption == parts.caption.strip() and parts.caption


@given(
    st.from_regex(r"[a-z]{3,8}(-[a-z]{3,8}){1,4}", fullmatch=True),
    st.integers(16, 9999),
    st.integers(16, 9999),
    st.integers(1, 99),
)
def test_declared_size_and_counter_round_trip(slug, width, height, counter):
    parts = parse_name(f"{slug}-{width}x{height}-{counter}.jpg")
    assert parts.declared_size == [width, height]
    assert parts.counter == counter
    assert parts.caption.lower() == slug.replace("-", " ")


def test_embedded_caption_beats_the_file_name_but_not_a_page():
    named = Query(path="x/camp-gate-at-night.jpg", caption="Camp gate at night", caption_source="filename")
    apply_embedded(named, {"caption": "  Gate  of the\ncamp ", "image_description": "ignored"})
    assert (named.caption, named.caption_source) == ("Gate of the camp", "metadata:caption")
    from_page = Query(path="x.jpg", caption="From the page", caption_source="html:figcaption")
    apply_embedded(from_page, {"caption": "embedded"})
    assert from_page.caption == "From the page"
    exif_only = Query(path="x.jpg")
    apply_embedded(exif_only, {"image_description": "OLYMPUS DIGITAL CAMERA"})
    assert exif_only.caption_source == "metadata:image_description"


def test_resolve_inside_refuses_to_leave_the_root(tmp_path):
    (tmp_path / "page").mkdir()
    (tmp_path / "page" / "img").mkdir()
    (tmp_path / "secret.jpg").write_bytes(b"x")
    (tmp_path / "page" / "img" / "a b.jpg").write_bytes(b"x")
    root = str(tmp_path / "page")
    assert resolve_inside(root, "img/a%20b.jpg")[0] == os.path.realpath(tmp_path / "page" / "img" / "a b.jpg")
    assert resolve_inside(root, "./img/a b.jpg?ver=3#x")[0].endswith("a b.jpg")
    for escape in (
        "../secret.jpg",
        "img/../../secret.jpg",
        "%2e%2e/secret.jpg",
        "/etc/passwd",
        str(tmp_path / "secret.jpg"),
    ):
        path, why = resolve_inside(root, escape)
        assert path is None and why, escape
    os.symlink(tmp_path / "secret.jpg", tmp_path / "page" / "link.jpg")
    assert resolve_inside(root, "link.jpg")[0] is None  # a symlink pointing out is outside too
    assert "remote" in resolve_inside(root, "https://example.org/a.jpg")[1]
    assert "remote" in resolve_inside(root, "//cdn.example.org/a.jpg")[1]
    assert resolve_inside(root, "javascript:alert(1)")[0] is None


PAGE = """<!doctype html><html><body>
<figure class="wp-block-image"><img src="img/small.jpg"
  srcset="img/small.jpg 300w, img/large.jpg 1024w, img/medium.jpg 768w" alt="alt text">
  <figcaption>Officials <em>tour</em> the facility</figcaption></figure>
<p><img src="img/alt.jpg" alt="<img src=x onerror=alert(1)>"></p>
<img src="img/title.jpg" title="Only a title">
<img src="img/missing.jpg" alt="Gone">
<img src="../outside.jpg" alt="Escape">
<img src="https://example.org/remote.jpg" alt="Remote">
<img alt="no source">
<script>document.write('<img src="img/scripted.jpg">')</script>
</body></html>"""


def test_html_page_queries(tmp_path):
    (tmp_path / "img").mkdir()
    for name in ("small.jpg", "large.jpg", "medium.jpg", "alt.jpg", "title.jpg", "scripted.jpg"):
        (tmp_path / "img" / name).write_bytes(b"x")
    (tmp_path.parent / "outside.jpg").write_bytes(b"x")
    page = tmp_path / "index.html"
    page.write_text(PAGE, encoding="utf-8")
    queries = queries_from_html(str(page))
    by_listing = {q.listed_as: q for q in queries}
    first = by_listing["img/large.jpg"]  # the largest srcset candidate
    assert first.caption == "Officials tour the facility" and first.caption_source == "html:figcaption"
    assert first.problem is None and first.path.endswith("large.jpg")
    hostile = by_listing["img/alt.jpg"]
    assert hostile.caption == "<img src=x onerror=alert(1)>" and hostile.caption_source == "html:alt"
    assert by_listing["img/title.jpg"].caption_source == "html:title"
    assert by_listing["img/missing.jpg"].problem == "missing on disk"
    assert "outside" in by_listing["../outside.jpg"].problem
    assert "remote" in by_listing["https://example.org/remote.jpg"].problem
    assert any(q.problem == "an <img> without src" for q in queries)
    assert "img/scripted.jpg" not in by_listing  # script text is not parsed as markup, let alone run
    assert len(queries) == 7


def test_csv_manifest_keeps_extra_columns_and_refuses_escapes(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    manifest = tmp_path / "captions.csv"
    manifest.write_text(
        "path,caption,source_url,desk\n"
        "a.jpg,Officials tour facility,https://example.org/story,=cmd|' /C calc'!A0\n"
        "../b.jpg,Escape,,\n"
        "missing.jpg,,,\n",
        encoding="utf-8",
    )
    first, escape, missing = queries_from_manifest(str(manifest))
    assert first.caption == "Officials tour facility" and first.caption_source == "manifest"
    assert first.extra == {"source_url": "https://example.org/story", "desk": "=cmd|' /C calc'!A0"}
    assert "outside" in escape.problem
    assert missing.problem == "missing on disk" and missing.caption is None


def test_json_manifest(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    manifest = tmp_path / "queries.json"
    manifest.write_text(json.dumps({"queries": [{"path": "a.jpg", "caption": "A caption", "id": 7}]}))
    (query,) = queries_from_manifest(str(manifest))
    assert query.caption == "A caption" and query.extra == {"id": 7}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"queries": "nope"}))
    with pytest.raises(ProvenanceError):
        queries_from_manifest(str(bad))
    no_path = tmp_path / "no-path.csv"
    no_path.write_text("file,caption\na.jpg,x\n")
    with pytest.raises(ProvenanceError):
        queries_from_manifest(str(no_path))
