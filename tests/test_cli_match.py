"""`provenance match` through click: inputs (folders, pages, manifests), formats, exit codes."""

from __future__ import annotations

import csv
import io
import json
import shutil

from click.testing import CliRunner

from provenance.cli import main

from conftest import ARTICLE_FILES, FIXTURES

OFFICIALS = FIXTURES / "article" / "officials-tour-facility-960x640-1.jpg"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_match_a_folder_against_a_folder_as_json(tmp_path):
    out = tmp_path / "report.json"
    result = run("match", FIXTURES / "article", "--against", FIXTURES / "leak", "-o", out, "-j", "1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    report = json.loads(out.read_text())
    assert report["schema"] == "provenance/match-1"
    assert report["summary"]["queries"] == len(ARTICLE_FILES)
    assert report["summary"]["verdicts"]["near-duplicate"] == 4
    assert "4 near-duplicate" in result.stderr


def test_match_against_an_index_as_csv_and_markdown(tmp_path):
    db = tmp_path / "leak.db"
    assert run("index", FIXTURES / "leak", "--db", db, "-j", "1", "-q").exit_code == 0
    table = run("match", OFFICIALS, "--against", db, "-f", "csv", "-q")
    assert table.exit_code == 0 and table.stderr == ""
    (row,) = list(csv.DictReader(io.StringIO(table.stdout)))
    assert row["verdict"] == "near-duplicate"
    assert row["reference_path"].endswith("35b833f721ed391380a8ddf159852b50.jpg")
    assert row["caption"] == "Officials tour facility" and "make" in row["metadata_removed"].split()
    text = run("match", OFFICIALS, "--against", db, "-f", "md", "-q").stdout
    assert "**Verdict: near-duplicate**" in text and "| make | NIKON |  |" in text


def test_saved_page_with_hostile_captions(tmp_path):
    page_dir = tmp_path / "saved"
    (page_dir / "files").mkdir(parents=True)
    shutil.copyfile(OFFICIALS, page_dir / "files" / "photo.jpg")
    (page_dir / "index.html").write_text(
        '<figure><img src="files/photo.jpg"><figcaption>Officials | tour `x` <b>facility</b></figcaption></figure>'
        '<img src="files/gone.jpg" alt="<script>alert(1)</script>">'
        '<img src="../../etc/passwd" alt="escape">',
        encoding="utf-8",
    )
    result = run("match", "--html", page_dir / "index.html", "--against", FIXTURES / "leak", "-f", "md", "-q")
    assert result.exit_code == 3  # two of the page's images could not be read
    assert "Officials \\| tour \\`x\\` facility" in result.stdout  # Markdown-escaped, tags gone
    assert "\\<script\\>alert(1)\\</script\\>" in result.stdout  # the alt text is shown as text
    report = json.loads(run("match", "--html", page_dir / "index.html", "--against", FIXTURES / "leak", "-q").stdout)
    verdicts = [r["verdict"] for r in report["results"]]
    assert verdicts == ["near-duplicate", "no-match", "no-match"]
    assert report["results"][1]["query"]["problem"] == "missing on disk"
    assert "outside" in report["results"][2]["query"]["problem"]


def test_manifest_columns_pass_through(tmp_path):
    shutil.copyfile(OFFICIALS, tmp_path / "tip.jpg")
    manifest = tmp_path / "captions.csv"
    manifest.write_text("path,caption,story\ntip.jpg,Officials tour facility,2022-05-24 camp story\n")
    report = json.loads(run("match", "--manifest", manifest, "--against", FIXTURES / "leak", "-q").stdout)
    (result,) = report["results"]
    assert result["query"]["caption_source"] == "manifest"
    assert result["query"]["extra"] == {"story": "2022-05-24 camp story"}
    assert result["verdict"] == "near-duplicate"


def test_usage_errors_exit_2(tmp_path):
    assert run("match", "--against", FIXTURES / "leak").exit_code == 2  # no queries
    not_an_index = tmp_path / "x.db"
    not_an_index.write_text("garbage")
    bad = run("match", OFFICIALS, "--against", not_an_index)
    assert bad.exit_code == 2 and "provenance:" in bad.stderr
