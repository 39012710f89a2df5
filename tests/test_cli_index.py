"""The index, lookup, stats and dedup commands, driven through click and parsed back."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil

from click.testing import CliRunner

from provenance.cli import main
from provenance.testing.files import strip_metadata as strip_jpeg_metadata

from conftest import ARTICLE_FILES, FIXTURES, LEAK_FILES, MISNAMED

NIKON = FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_index_then_rerun_then_stats(tmp_path):
    db = tmp_path / "leak.db"
    first = run("index", FIXTURES / "leak", "--db", db, "-j", "1")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == ""  # nothing for machines: the summary is for people, on stderr
    assert f"{len(LEAK_FILES)} added" in first.stderr
    second = run("index", FIXTURES / "leak", "--db", db)
    assert f"{len(LEAK_FILES)} unchanged" in second.stderr

    stats = json.loads(run("stats", "--db", db, "--json").stdout)
    assert stats["files"] == len(LEAK_FILES)
    assert stats["name_digest_mismatches"] == [str(MISNAMED)]
    assert stats["formats"]["JPEG"] == sum(1 for p in LEAK_FILES if p.suffix == ".jpg")
    text = run("stats", "--db", db).stdout
    assert "NIKON COOLPIX P6000" in text and MISNAMED.name in text


def test_lookup_by_digest_and_by_file(tmp_path):
    db = tmp_path / "leak.db"
    run("index", FIXTURES / "leak", "--db", db, "-j", "1")
    md5 = hashlib.md5(NIKON.read_bytes()).hexdigest()
    [answer] = json.loads(run("lookup", md5, "--db", db, "--json").stdout)
    assert answer["query_type"] == "md5"
    assert [h["record"]["path"] for h in answer["hits"]] == [str(NIKON)]
    assert str(NIKON) in run("lookup", md5, "--db", db).stdout

    stripped = tmp_path / "tip.jpg"
    stripped.write_bytes(strip_jpeg_metadata(NIKON.read_bytes()))
    [answer] = json.loads(run("lookup", stripped, "--db", db, "--json").stdout)
    assert [(h["field"], h["record"]["path"]) for h in answer["hits"]] == [("image_data_sha256", str(NIKON))]

    # a file named after a leak file's MD5 whose bytes are not that file's: the name's target is shown
    impostor = tmp_path / f"{md5}.jpg"
    impostor.write_bytes((FIXTURES / "article" / ARTICLE_FILES[0].name).read_bytes())
    [answer] = json.loads(run("lookup", impostor, "--db", db, "--json").stdout)
    assert ("named_after", str(NIKON)) in [(h["field"], h["record"]["path"]) for h in answer["hits"]]

    nothing = run("lookup", "0" * 64, "--db", db)
    assert nothing.exit_code == 0 and "not in the index" in nothing.stdout


def test_lookup_usage_errors_are_one_line(tmp_path):
    db = tmp_path / "leak.db"
    missing = run("lookup", "0" * 32, "--db", db)
    assert missing.exit_code == 2 and "no index at" in missing.stderr
    run("index", FIXTURES / "leak", "--db", db, "-j", "1")
    bad = run("lookup", "not-a-digest", "--db", db)
    assert bad.exit_code == 2 and bad.stderr.startswith("provenance: not a digest")
    assert run("index", "--db", db).exit_code == 2  # nothing to do


def test_prune_and_reroot(tmp_path):
    leak = tmp_path / "leak"
    shutil.copytree(FIXTURES / "leak", leak)
    db = tmp_path / "leak.db"
    run("index", leak, "--db", db, "-j", "1")
    (leak / LEAK_FILES[0].name).unlink()
    pruned = run("index", "--db", db, "--prune")
    assert pruned.exit_code == 0 and "pruned 1 files" in pruned.stderr
    moved = tmp_path / "moved"
    leak.rename(moved)
    assert run("index", "--db", db, "--reroot", leak, moved).exit_code == 0
    again = run("index", moved, "--db", db)
    assert f"{len(LEAK_FILES) - 1} unchanged" in again.stderr


def test_index_exit_code_3_when_a_file_fails(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "ok.jpg").write_bytes(NIKON.read_bytes())
    (drop / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 30)
    result = run("index", drop, "--db", tmp_path / "i.db", "-j", "1")
    assert result.exit_code == 3
    assert "broken.jpg" in result.stderr
    assert "broken.jpg" in run("stats", "--db", tmp_path / "i.db").stdout


def test_dedup_formats_from_folder_and_from_index(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(NIKON.read_bytes())
    (folder / "b.jpg").write_bytes(NIKON.read_bytes())
    (folder / "c.jpg").write_bytes(strip_jpeg_metadata(NIKON.read_bytes()))
    (folder / "note|<b>.txt").write_text("unrelated")

    report = json.loads(run("dedup", folder, "-j", "1").stdout)
    [cluster] = report["clusters"]
    assert cluster["relation"] == "metadata-only" and cluster["size"] == 3

    rows = list(csv.DictReader(io.StringIO(run("dedup", folder, "-j", "1", "-f", "csv").stdout)))
    assert len(rows) == 4  # one row per file
    assert sorted(r["role"] for r in rows) == ["copy", "copy", "original", "unique"]

    md = run("dedup", folder, "-j", "1", "-f", "md").stdout
    assert "| 4 | 3 | 1 | 0 | 1 | 0 | 2 | 0 | 0 |" in md  # files, images, clusters by relation, copies, ...
    assert "## Cluster 1: metadata-only, 3 files" in md

    db = tmp_path / "i.db"
    run("index", folder, "--db", db, "-j", "1")
    out = tmp_path / "dups.json"
    assert run("dedup", "--db", db, "-o", out).exit_code == 0
    from_index = json.loads(out.read_text())
    assert [sorted(m["path"] for m in c["members"]) for c in from_index["clusters"]] == [
        sorted(m["path"] for m in c["members"]) for c in report["clusters"]
    ]
    assert run("dedup", folder, "--db", db).exit_code == 2  # one source at a time


def test_markdown_keeps_hostile_names_as_text(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    name = "x|y [link](javascript:evil) <script>.jpg"
    (folder / name).write_bytes(NIKON.read_bytes())
    (folder / "twin.jpg").write_bytes(NIKON.read_bytes())
    md = run("dedup", folder, "-j", "1", "-f", "md").stdout
    assert "<script>" not in md and "[link](" not in md
    assert "x\\|y \\[link\\](javascript:evil) \\<script\\>.jpg" in md


def test_lookup_shows_the_forensics_findings_the_index_stored(tmp_path):
    db = tmp_path / "leak.db"
    run("index", FIXTURES / "leak", "--db", db, "-j", "1")
    gimp = FIXTURES / "leak" / "406958840ad1665ffcd1be9c29d515b9.jpg"  # a Canon file re-saved by GIMP
    text = run("lookup", gimp.stem, "--db", db).stdout
    assert "findings resaved-by-software software-tag" in text
    [answer] = json.loads(run("lookup", gimp.stem, "--db", db, "--json").stdout)
    codes = {f["code"] for f in answer["hits"][0]["record"]["forensics"]["findings"]}
    assert codes == {"resaved-by-software", "software-tag"}
    nikon = run("lookup", hashlib.md5(NIKON.read_bytes()).hexdigest(), "--db", db).stdout
    assert "findings" not in nikon
