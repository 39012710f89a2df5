"""Report formats: HTML escaping and self-containment, the drawn region, repeated -o, ``provenance report``."""

from __future__ import annotations

import base64
import copy
import csv
import io
import json
import re

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from PIL import Image

from provenance import Index, MatchOptions, match
from provenance.captions import from_name
from provenance.cli import main
from provenance.report import format_for, write_report
from provenance.report import html as html_report
from provenance.report.thumbs import THUMBNAIL_SIDE

from conftest import ARTICLE_FILES, FIXTURES

HOSTILE = "<img src=x onerror=alert(1)> \"quoted\" 'single' & <script>alert(2)</script>"
OFFICIALS_ORIGINAL = FIXTURES / "leak" / "35b833f721ed391380a8ddf159852b50.jpg"
CROP_BOX = (100, 60, 500, 380)  # in the original's pixels


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def leak_index(tmp_path_factory):
    index = Index(tmp_path_factory.mktemp("db") / "leak.db")
    index.add([str(FIXTURES / "leak")], jobs=1)
    yield index
    index.close()


@pytest.fixture(scope="module")
def report(leak_index, tmp_path_factory):
    """A match report of the article fixtures plus a crop of a leak photo whose box we know."""
    folder = tmp_path_factory.mktemp("queries")
    crop = folder / "crop.jpg"
    Image.open(OFFICIALS_ORIGINAL).crop(CROP_BOX).save(crop, quality=90)
    queries = [from_name(str(p)) for p in ARTICLE_FILES] + [from_name(str(crop))]
    return match(queries, leak_index, MatchOptions()).to_dict()


def render(report_dict, kind="match"):
    stream = io.StringIO()
    write_report(kind, "html", report_dict, stream)
    return stream.getvalue()


def hostile_copy(report_dict):
    hostile = copy.deepcopy(report_dict)
    first = hostile["results"][0]
    first["query"]["caption"] = HOSTILE
    first["query"]["caption_source"] = HOSTILE
    first["evidence"].append(HOSTILE)
    best = first["matches"][0]
    best["reference"]["metadata"]["make"] = HOSTILE
    best["metadata_diff"]["removed"]["make"] = HOSTILE
    best["evidence"].append(HOSTILE)
    best["reference"]["paths"].append(f"/leak/{HOSTILE}.jpg")
    return hostile


def test_hostile_text_stays_text(report):
    page = render(hostile_copy(report))
    soup = BeautifulSoup(page, "html.parser")
    # the only script is the report's own, and no element carries an event handler
    scripts = soup.find_all("script")
    assert len(scripts) == 1 and "alert" not in scripts[0].get_text()
    assert not [tag for tag in soup.find_all(True) if any(a.lower().startswith("on") for a in tag.attrs)]
    assert all(img["src"].startswith("data:image/jpeg;base64,") for img in soup.find_all("img"))
    # and the caption reads exactly as it was written
    texts = [t for t in soup.find_all(string=True) if "onerror" in t]
    assert any(HOSTILE in t for t in texts)
    assert len(texts) >= 5  # caption, its source, evidence, metadata, other path


def test_page_is_self_contained_and_locked_down(report):
    page = render(report)
    soup = BeautifulSoup(page, "html.parser")
    csp = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
    assert "default-src 'none'" in csp and "img-src data:" in csp and "unsafe-inline" not in csp
    for tag in soup.find_all(True):
        for attribute in ("src", "href"):
            value = tag.get(attribute)
            if value is not None:
                assert value.startswith(("data:", "#")), (tag.name, value[:60])
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", page)
    assert "<link" not in page and "@import" not in page


def test_every_readable_query_and_its_reference_have_thumbnails(report):
    soup = BeautifulSoup(render(report), "html.parser")
    cards = soup.select("article.card")
    assert len(cards) == len(report["results"])
    for card, result in zip(cards, report["results"]):
        image = card.select_one("figure.query img")
        data = base64.b64decode(image["src"].split(",", 1)[1])
        thumb = Image.open(io.BytesIO(data))
        assert thumb.format == "JPEG" and max(thumb.size) <= THUMBNAIL_SIDE
        original = Image.open(result["query"]["path"])
        assert abs(thumb.width / thumb.height - original.width / original.height) < 0.02
        if result["matches"]:
            assert card.select_one("figure.reference svg image")["href"].startswith("data:image/jpeg")


def test_matched_region_is_drawn_where_the_crop_came_from(report):
    crop = next(r for r in report["results"] if r["query"]["path"].endswith("crop.jpg"))
    assert crop["matches"][0]["reference"]["path"].endswith(OFFICIALS_ORIGINAL.name)
    soup = BeautifulSoup(render({**report, "results": [crop]}), "html.parser")
    svg = soup.select_one("figure.reference svg")
    assert svg["viewbox" if "viewbox" in svg.attrs else "viewBox"] == "0 0 640 480"
    points = [tuple(float(v) for v in p.split(",")) for p in soup.select_one("polygon.region")["points"].split()]
    left, top, right, bottom = CROP_BOX
    for (x, y), (ex, ey) in zip(points, [(left, top), (right, top), (right, bottom), (left, bottom)]):
        assert abs(x - ex) <= 6 and abs(y - ey) <= 6, points


def test_verdicts_are_coloured_and_said_in_words(report):
    soup = BeautifulSoup(render(report), "html.parser")
    for card, result in zip(soup.select("article.card"), report["results"]):
        assert f"v-{result['verdict']}" in card["class"]
        badge = card.select_one(".badge").get_text()
        words = {
            "exact": "exact copy",
            "metadata-only": "metadata-only change",
            "near-duplicate": "near-duplicate",
            "no-match": "no match",
        }
        assert badge == words[result["verdict"]]
    rally = next(c for c in soup.select("article.card") if "rally" in c.h2.get_text())
    assert "Not found among the references" in rally.get_text()


def test_changed_metadata_fields_are_marked(report):
    officials = next(r for r in report["results"] if "officials" in r["query"]["path"])
    changed = copy.deepcopy(officials)
    changed["matches"][0]["metadata_diff"]["changed"] = {"software": {"reference": "camera 1.0", "query": "Photoshop"}}
    soup = BeautifulSoup(render({**report, "results": [changed]}), "html.parser")
    rows = {tr.td.get_text(): tr.get("class") for tr in soup.select("table.diff tr") if tr.td}
    assert rows["software"] == ["changed"] and rows["make"] == ["removed"]


def test_missing_pictures_show_a_note_not_an_error(report, tmp_path):
    gone = copy.deepcopy(report)
    for result in gone["results"]:
        result["query"]["path"] = str(tmp_path / "gone.jpg")
        for m in result["matches"]:
            m["reference"]["path"] = str(tmp_path / "gone-too.jpg")
    soup = BeautifulSoup(render(gone), "html.parser")
    assert not soup.find_all("img")
    assert len(soup.select(".missing")) >= len(report["results"])


def test_dedup_html_puts_the_likely_original_first(tmp_path):
    from provenance import dedup, fingerprint_many
    from provenance.files import iter_files

    result = dedup(fingerprint_many(iter_files([FIXTURES / "leak", FIXTURES / "article"]), jobs=0)).to_dict()
    soup = BeautifulSoup(render(result, "dedup"), "html.parser")
    sections = soup.select("section.card")
    assert len(sections) == len(result["clusters"]) > 0
    for section, cluster in zip(sections, result["clusters"]):
        roles = [f.select_one(".role").get_text() for f in section.select("figure")]
        assert roles == ["original"] + ["copy"] * (cluster["size"] - 1)
        assert cluster["original"] in section.select("figure")[0].figcaption.get_text()


@pytest.mark.parametrize(
    "path, fmt, expected",
    [
        ("r.html", None, "html"),
        ("r.HTM", None, "html"),
        ("r.json", None, "json"),
        ("r.md", None, "md"),
        ("r.csv", "csv", "csv"),
        ("r.txt", "md", "md"),
        ("-", None, "json"),
        ("-", "csv", "csv"),
        ("/dev/null", None, "json"),
        ("out/report", "html", "html"),
        ("out.d/report", None, "json"),
    ],
)
def test_format_comes_from_the_extension(path, fmt, expected):
    assert format_for(path, fmt) == expected


@pytest.mark.parametrize("path, fmt", [("r.txt", None), ("r.json", "csv"), ("r.xml", None)])
def test_format_that_cannot_be_told_is_refused(path, fmt):
    with pytest.raises(ValueError):
        format_for(path, fmt)


def test_repeated_outputs_write_every_format_from_one_run(tmp_path):
    outputs = [tmp_path / name for name in ("r.json", "r.html", "r.md", "r.csv")]
    args = ["match", FIXTURES / "article", "--against", FIXTURES / "leak", "-j", "1", "-q"]
    for out in outputs:
        args += ["-o", out]
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    report = json.loads(outputs[0].read_text())
    assert BeautifulSoup(outputs[1].read_text(), "html.parser").select("article.card")
    assert outputs[2].read_text().startswith("# Matches")
    rows = list(csv.DictReader(outputs[3].open()))
    assert [r["verdict"] for r in rows] == [r["verdict"] for r in report["results"]]
    assert not list(tmp_path.glob("*.partial"))


def test_unknown_output_format_is_a_usage_error(tmp_path):
    result = run("match", FIXTURES / "article", "--against", FIXTURES / "leak", "-o", tmp_path / "r.txt")
    assert result.exit_code == 2 and "cannot tell the format" in result.stderr
    result = run("match", FIXTURES / "article", "--against", FIXTURES / "leak", "-f", "csv", "-o", tmp_path / "r.json")
    assert result.exit_code == 2


def test_saved_report_rerenders_in_every_format(report, tmp_path):
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps(report))
    result = run("report", saved, "-o", tmp_path / "r.html", "-o", tmp_path / "r.csv", "-o", tmp_path / "r.md", "-q")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [r["query_path"] for r in rows] == [r["query"]["path"] for r in report["results"]]
    cards = BeautifulSoup((tmp_path / "r.html").read_text(), "html.parser").select("article.card")
    assert len(cards) == len(report["results"])
    json_out = run("report", saved)
    assert json.loads(json_out.stdout) == report


@pytest.mark.parametrize("content", ['{"schema": "something-else"}', "not json", '{"schema": "provenance/match-1"}'])
def test_report_refuses_what_is_not_a_report(tmp_path, content):
    saved = tmp_path / "odd.json"
    saved.write_text(content)
    result = run("report", saved, "-f", "html", "-o", tmp_path / "r.html")
    assert result.exit_code == 2
    assert str(saved) in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_only_the_first_page_loads_its_pictures_with_the_page(report):
    data = {**report, "results": [report["results"][n % len(report["results"])] for n in range(120)]}
    soup = BeautifulSoup(render(data), "html.parser")
    cards = soup.select("article.card")
    first, rest = cards[: html_report.PAGE_SIZE], cards[html_report.PAGE_SIZE :]
    assert all(img.get("src") for card in first for img in card.select("img"))
    assert all(img.get("data-src") and not img.get("src") for card in rest for img in card.select("img"))
    assert all(image.get("data-src") and not image.get("href") for card in rest for image in card.select("svg image"))


def test_html_grows_linearly_with_queries(report):
    one = len(render({**report, "results": report["results"][:1] * 10}))
    many = len(render({**report, "results": report["results"][:1] * 40}))
    per_card = (many - one) / 30
    assert per_card < 60_000  # two thumbnails and the tables; measured in benchmarks/bench_report.py
    assert many < one * 4.2


def test_special_files_are_written_to_not_replaced(report, tmp_path):
    import os
    import threading

    from provenance.output import output

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    with output(str(fifo)) as stream:
        write_report("match", "json", report, stream)
    reader.join(timeout=30)
    assert json.loads(received[0]) == report
    assert fifo.is_fifo()  # still the pipe, not a regular file renamed over it
