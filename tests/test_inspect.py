"""``provenance inspect``: the per-file authenticity report, in text, JSON, Markdown and HTML; its facts
against independent readings (hashlib, c2pa-python's own state), hostile names kept as text."""

from __future__ import annotations

import hashlib
import json
import shutil

import cmarkgfm
import pytest
from bs4 import BeautifulSoup

from conftest import FIXTURES, report_validator, run_cli

C2PA = FIXTURES / "c2pa"
GIMP = FIXTURES / "leak" / "406958840ad1665ffcd1be9c29d515b9.jpg"  # Canon EOS 40D, resized in GIMP
HOSTILE = "<img src=x onerror=alert(1)> [link](javascript:alert(3)) www.example.com *em* \x1b[31mred"


@pytest.fixture(scope="module")
def drop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drop")
    shutil.copy(C2PA / "XCA.jpg", folder / "XCA.jpg")
    shutil.copy(C2PA / "CA.jpg", folder / "CA.jpg")
    shutil.copy(GIMP, folder / f"{HOSTILE}.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 cut short")
    return folder


@pytest.fixture(scope="module")
def report(drop, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "report.json"
    result = run_cli("inspect", str(drop), "-j", "1", "-q", "-o", str(out))
    assert result.returncode == 3, result.stderr  # the broken file
    return json.loads(out.read_text())


def by_name(report):
    return {item["path"].rsplit("/", 1)[-1]: item for item in report["files"]}


def test_the_json_report_follows_its_schema_and_says_what_the_bytes_say(report, drop):
    report_validator("inspect").validate(report)
    files = by_name(report)
    assert set(files) == {"XCA.jpg", "CA.jpg", f"{HOSTILE}.jpg", "broken.jpg"}
    for name, item in files.items():
        assert item["digests"]["sha256"] == hashlib.sha256((drop / name).read_bytes()).hexdigest()
    assert files["broken.jpg"]["error"]["type"]
    assert files["XCA.jpg"]["c2pa"]["state"] == "invalid" and files["CA.jpg"]["c2pa"]["state"] == "valid"
    assert {f["code"] for f in files["XCA.jpg"]["findings"]} == {"c2pa-invalid"}
    gimp = files[f"{HOSTILE}.jpg"]
    assert gimp["claims"]["camera"] == "Canon Canon EOS 40D" and gimp["claims"]["software"] == "GIMP 2.4.5"
    assert {"software-tag", "resaved-by-software"} <= {f["code"] for f in gimp["findings"]}
    assert report["summary"] == {
        "files": 4,
        "errors": 1,
        "findings": {"c2pa-invalid": 1, "resaved-by-software": 1, "software-tag": 1, "structure-damaged": 1},
        "c2pa": {"absent": 2, "invalid": 1, "valid": 1},
    }


def test_text_on_a_terminal_sets_out_each_file_and_never_obeys_a_name(drop):
    result = run_cli("inspect", str(drop), "-j", "1")
    assert result.returncode == 3
    out = result.stdout
    assert "\x1b" not in out and "\\x1b[31mred" in out
    assert "Content Credentials: invalid" in out and "failure: assertion.dataHash.mismatch" in out
    assert "warning c2pa-invalid" in out and "notice software-tag" in out
    assert "not a verdict" in out
    assert "fake" not in out.lower() and "authentic" not in out.lower()


def test_trust_anchors_make_a_good_signer_trusted(drop):
    result = run_cli(
        "inspect", str(drop / "CA.jpg"), "-j", "1", "-f", "json", "--c2pa-trust", str(C2PA / "test-trust-anchors.pem")
    )
    assert result.returncode == 0, result.stderr
    item = json.loads(result.stdout)["files"][0]
    assert item["c2pa"]["state"] == "trusted"
    assert json.loads(result.stdout)["run"]["parameters"]["c2pa_trust_anchors"] == 9


def test_markdown_keeps_hostile_names_as_text(drop, tmp_path):
    out = tmp_path / "evidence.md"
    assert run_cli("inspect", str(drop), "-j", "1", "-q", "-o", str(out)).returncode == 3
    html = cmarkgfm.github_flavored_markdown_to_html(out.read_text())
    soup = BeautifulSoup(html, "html.parser")
    assert not soup.find_all("img") and not soup.find_all("a") and not soup.find_all("em")
    assert any("<img src=x onerror=alert(1)>" in t for t in soup.find_all(string=True))


def test_html_is_escaped_and_locked_down(drop, tmp_path):
    out = tmp_path / "evidence.html"
    assert run_cli("inspect", str(drop), "-j", "1", "-q", "-o", str(out)).returncode == 3
    soup = BeautifulSoup(out.read_text(), "html.parser")
    assert not soup.find_all("img")
    assert not [tag for tag in soup.find_all(True) if any(a.lower().startswith("on") for a in tag.attrs)]
    csp = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
    assert "default-src 'none'" in csp
    cards = soup.select("section.card")
    assert len(cards) == 4
    assert any("<img src=x onerror=alert(1)>" in card.h2.get_text() for card in cards)


def test_an_output_that_cannot_be_written_is_refused_before_any_work(drop, tmp_path):
    result = run_cli("inspect", str(drop), "-o", str(tmp_path / "missing" / "x.json"))
    assert result.returncode == 2 and not (tmp_path / "missing").exists()
    result = run_cli("inspect", str(drop), "-o", str(tmp_path / "x.csv"))
    assert result.returncode == 2 and not (tmp_path / "x.csv").exists()


def test_match_and_dedup_reports_carry_each_files_authenticity(tmp_path):
    query = tmp_path / "tip.jpg"
    shutil.copy(GIMP, query)
    out_md, out_html, out_json = tmp_path / "r.md", tmp_path / "r.html", tmp_path / "r.json"
    result = run_cli(
        "match", str(query), "--against", str(FIXTURES / "leak"), "-j", "1", "-q",
        "-o", str(out_md), "-o", str(out_html), "-o", str(out_json),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(out_json.read_text())
    report_validator("match").validate(report)
    [r] = report["results"]
    for whose in (r["query"], r["matches"][0]["reference"]):
        assert {f["code"] for f in whose["authenticity"]["findings"]} == {"resaved-by-software", "software-tag"}
        assert whose["authenticity"]["c2pa"] == {"state": "absent"}
    md = out_md.read_text()
    assert "Authenticity of the query" in md and "Authenticity of the reference" in md
    assert md.count("notice resaved-by-software") == 2
    soup = BeautifulSoup(out_html.read_text(), "html.parser")
    section = soup.select_one("section.authenticity")
    assert [h.get_text() for h in section.find_all("h4")] == ["The query", "The reference"]
    assert "notice software-tag: software names 'GIMP 2.4.5'" in section.get_text()

    dedup_json = tmp_path / "d.json"
    assert (
        run_cli("dedup", str(tmp_path), str(FIXTURES / "leak"), "-j", "1", "-q", "-o", str(dedup_json)).returncode == 0
    )
    dedup = json.loads(dedup_json.read_text())
    report_validator("dedup").validate(dedup)
    members = [m for c in dedup["clusters"] for m in c["members"] if m["path"].endswith(("tip.jpg", GIMP.name))]
    assert len(members) == 2 and all(m["findings"] == ["resaved-by-software", "software-tag"] for m in members)
    assert all(m["c2pa"] == "absent" for m in members)
