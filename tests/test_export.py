"""`provenance export --parquet`: one row per indexed file, read back with pyarrow and checked against
hashlib, Pillow and ExifTool's readings of the fixtures."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from click.testing import CliRunner
from PIL import Image

from provenance.cli import main

from conftest import FIXTURES

pq = pytest.importorskip("pyarrow.parquet", reason="the Parquet export needs pyarrow (the test extra brings it)")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    runner = CliRunner()
    db = folder / "leak.db"
    assert runner.invoke(main, ["index", str(FIXTURES / "leak"), "--db", str(db), "-q", "-j", "1"]).exit_code == 0
    result = runner.invoke(main, ["export", "--db", str(db), "--parquet", str(folder / "out")])
    assert result.exit_code == 0, result.output
    return pq.read_table(folder / "out" / "files.parquet")


def test_one_row_per_file_with_its_digests_and_size(exported):
    files = sorted(p for p in (FIXTURES / "leak").iterdir() if p.is_file())
    rows = {r["path"]: r for r in exported.to_pylist()}
    assert sorted(rows) == [str(p) for p in files]
    for path in files:
        data = path.read_bytes()
        row = rows[str(path)]
        assert row["size"] == len(data) == os.path.getsize(path)
        assert row["md5"] == hashlib.md5(data).hexdigest()
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert row["name_digest_matches"] is (path.stem == hashlib.md5(data).hexdigest())


def test_dimensions_and_hashes_are_typed_columns(exported):
    assert str(exported.schema.field("width").type) == "int64"
    assert str(exported.schema.field("gps_latitude").type) == "double"
    for row in exported.to_pylist():
        if row["path"].endswith(".jpg"):
            with Image.open(row["path"]) as im:
                assert (row["width"], row["height"]) == im.size  # stored as decoded, before orientation
            assert len(row["phash"]) == 16 and int(row["phash"], 16) >= 0
        elif row["path"].endswith(".txt"):
            assert row["kind"] == "other" and row["phash"] is None


def test_metadata_columns_agree_with_exiftool(exported):
    oracle = json.loads((FIXTURES / "exiftool-oracle.json").read_text())
    rows = {os.path.relpath(r["path"], FIXTURES): r for r in exported.to_pylist()}
    checked = 0
    for name, tags in oracle.items():
        if name not in rows:
            continue
        row = rows[name]
        if "IFD0:Make" in tags:
            assert row["make"] == str(tags["IFD0:Make"]).strip()
            checked += 1
        if "GPS:GPSLatitude" in tags:
            sign = -1 if tags.get("GPS:GPSLatitudeRef") == "S" else 1
            assert row["gps_latitude"] == pytest.approx(sign * tags["GPS:GPSLatitude"], abs=1e-6)
            checked += 1
    assert checked >= 2


def test_record_column_holds_the_whole_record(exported):
    for row in exported.to_pylist():
        record = json.loads(row["record"])
        assert record["sha256"] == row["sha256"] and record["path"] == row["path"]


def test_an_export_that_cannot_be_written_is_one_line_and_leaves_nothing(tmp_path):
    runner = CliRunner()
    db = tmp_path / "leak.db"
    runner.invoke(main, ["index", str(FIXTURES / "article"), "--db", str(db), "-q", "-j", "1"])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "files.parquet").mkdir()  # a directory where the table goes
    result = runner.invoke(main, ["export", "--db", str(db), "--parquet", str(tmp_path / "out")])
    assert result.exit_code == 2 and "is a directory" in result.stderr
    assert os.listdir(tmp_path / "out") == ["files.parquet"]
    missing = runner.invoke(main, ["export", "--db", str(tmp_path / "none.db"), "--parquet", str(tmp_path / "x")])
    assert missing.exit_code == 2 and not (tmp_path / "x").exists()


def test_without_pyarrow_the_export_says_what_to_install(tmp_path, monkeypatch):
    import sys

    runner = CliRunner()
    db = tmp_path / "leak.db"
    runner.invoke(main, ["index", str(FIXTURES / "article"), "--db", str(db), "-q", "-j", "1"])
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # an import of it now fails, as where it is not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    result = runner.invoke(main, ["export", "--db", str(db), "--parquet", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "pip install 'provenance[parquet]'" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
