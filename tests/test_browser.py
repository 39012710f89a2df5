"""The HTML report in a real browser (headless Chromium): no script from the data runs, the report's
own paging does, and a screenshot shows the cards. Skipped where Chromium is absent; CI installs it."""

from __future__ import annotations

import copy
import io
import os
import re
import shutil
import subprocess

import pytest
from PIL import Image

from provenance import Index, MatchOptions, match
from provenance.captions import from_name
from provenance.report import write_report

from conftest import ARTICLE_FILES, FIXTURES

CHROMIUM = os.environ.get("PROVENANCE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("PROVENANCE_REQUIRE_CHROMIUM"):
    raise RuntimeError("PROVENANCE_REQUIRE_CHROMIUM is set but no Chromium was found")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (apt-get install chromium); set PROVENANCE_CHROMIUM to its path"
)

# each payload, if it ever ran, would leave a mark in the DOM
PAYLOADS = [
    "<img src=x onerror=\"document.title='PWNED-img'\">",
    "<script>document.title='PWNED-script'</script>",
    "<svg onload=\"document.body.setAttribute('data-pwned','svg')\"></svg>",
    '"><b id=pwned-attr onmouseover=x>',
    "</style><script>document.title='PWNED-style'</script>",
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=3000",
]


def chromium(page, tmp_path, *args, fragment=""):
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri() + fragment],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result


def dump_dom(page, tmp_path, fragment=""):
    result = chromium(page, tmp_path, "--dump-dom", fragment=fragment)
    assert "<html" in result.stdout, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    index = Index(tmp_path_factory.mktemp("db") / "leak.db")
    index.add([str(FIXTURES / "leak")], jobs=1)
    with index:
        return match([from_name(str(p)) for p in ARTICLE_FILES], index, MatchOptions()).to_dict()


def hostile(report):
    data = copy.deepcopy(report)
    for n, result in enumerate(data["results"]):
        payload = PAYLOADS[n % len(PAYLOADS)]
        result["query"]["caption"] = payload
        result["query"]["path"] = result["query"]["path"]  # the file must still be found for its thumbnail
        result["evidence"].append(" ".join(PAYLOADS))
        for m in result["matches"]:
            m["reference"]["metadata"]["model"] = payload
            m["evidence"].append(payload)
    return data


def write_html(data, path):
    stream = io.StringIO()
    write_report("match", "html", data, stream)
    path.write_text(stream.getvalue(), encoding="utf-8")
    return path


def test_the_payloads_would_run_if_they_were_not_escaped(tmp_path):
    """The detector works: the same payloads pasted raw into a page do leave their marks."""
    page = tmp_path / "control.html"
    page.write_text(
        "<!doctype html><html><head><title>control</title></head><body>" + "".join(PAYLOADS) + "</body></html>"
    )
    dom = dump_dom(page, tmp_path)
    assert "PWNED" in dom.split("</title>")[0] or 'data-pwned="svg"' in dom


def test_no_script_from_the_data_runs_and_the_reports_own_does(report, tmp_path):
    page = write_html(hostile(report), tmp_path / "report.html")
    dom = dump_dom(page, tmp_path)
    head = dom.split("</title>")[0]
    assert "<title>Provenance matches</title>" in dom and "PWNED" not in head
    body = re.search(r"<body[^>]*>", dom).group()
    assert "data-pwned" not in body and 'id="pwned-attr"' not in dom
    assert 'data-paged="yes"' in dom  # the report's own script ran under its Content-Security-Policy
    assert "&lt;img src=x onerror=" in dom  # the caption is shown, as text


def test_a_long_report_is_paged(report, tmp_path):
    data = copy.deepcopy(report)
    data["results"] = [copy.deepcopy(report["results"][n % len(report["results"])]) for n in range(120)]
    dom = dump_dom(write_html(data, tmp_path / "long.html"), tmp_path)
    cards = dom.count('<article class="card')
    hidden = dom.count('data-verdict="near-duplicate" hidden') + dom.count('data-verdict="no-match" hidden')
    assert cards == 120
    assert cards - hidden == 50
    assert dom.count('<img src="data:') == 50  # the shown page's pictures, and no others
    assert dom.count('<img data-src="data:') == 70
    assert dom.count("<button") >= 3 + 3  # verdict filters and three page buttons
    # a link to a card on the second page opens that page
    linked = dump_dom(tmp_path / "long.html", tmp_path, fragment="#q75")
    assert re.search(r'<article class="card[^"]*" id="q75" data-verdict="[^"]*">', linked)
    assert re.search(r'id="q1" data-verdict="[^"]*" hidden', linked)


def test_screenshot_shows_the_cards(report, tmp_path):
    page = write_html(report, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    result = chromium(page, tmp_path, "--window-size=1280,1600", f"--screenshot={shot}")
    assert shot.exists(), result.stderr[-2000:]
    pixels = Image.open(shot).convert("RGB")
    colours = pixels.getcolors(maxcolors=1 << 24)

    def near(rgb, tolerance=12):
        return sum(n for n, c in colours if all(abs(a - b) <= tolerance for a, b in zip(c, rgb)))

    assert near((0x8A, 0x3F, 0xFC)) > 2000  # near-duplicate badges and card edges
    assert near((0xFF, 0xC4, 0x00), 30) > 500  # the matched region drawn on a reference
    assert len(colours) > 5000  # photographs, not an empty page
