import csv
import io
import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from provenance.cli import main

from conftest import ARTICLE_FILES, FIXTURES, LEAK_FILES

NIKON = FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg"


def run(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def test_version_says_what_is_installed():
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("provenance ")
    assert "pillow" in result.stdout and "pdq:" in result.stdout


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "provenance", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("provenance ")


def test_fingerprint_fixtures_jsonl_on_stdout_summary_on_stderr(schema_validator):
    result = run("fingerprint", str(FIXTURES / "leak"), str(FIXTURES / "article"), "-j", "2")
    assert result.exit_code == 0, result.stderr
    lines = records(result.stdout)  # stdout is nothing but records
    assert len(lines) == len(LEAK_FILES) + len(ARTICLE_FILES)
    for record in lines:
        schema_validator.validate(record)
    assert [r["path"] for r in lines[: len(LEAK_FILES)]] == [str(p) for p in LEAK_FILES]
    assert f"provenance: {len(lines)} files, 0 with errors" in result.stderr


@pytest.mark.skipif(not shutil.which("md5sum") or not shutil.which("sha256sum"), reason="coreutils not installed")
def test_digests_agree_with_coreutils():
    result = run("fingerprint", str(FIXTURES / "leak"), "-q")
    ours = {r["path"]: (r["md5"], r["sha256"]) for r in records(result.stdout)}
    paths = list(ours)
    md5 = subprocess.run(["md5sum", *paths], capture_output=True, text=True, check=True).stdout
    sha256 = subprocess.run(["sha256sum", *paths], capture_output=True, text=True, check=True).stdout
    theirs_md5 = {line.split("  ", 1)[1]: line.split()[0] for line in md5.splitlines()}
    theirs_sha = {line.split("  ", 1)[1]: line.split()[0] for line in sha256.splitlines()}
    assert ours == {p: (theirs_md5[p], theirs_sha[p]) for p in paths}


def test_csv_is_flat_and_defuses_formulas(tmp_path):
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "=cmd|' /C calc'!A0"
    Image.new("RGB", (20, 20)).save(tmp_path / "a.jpg", exif=exif.tobytes())
    shutil.copy(NIKON, tmp_path / NIKON.name)
    result = run("fingerprint", str(tmp_path), "--format", "csv", "-q")
    assert result.exit_code == 0
    rows = {row["path"].rsplit("/", 1)[1]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert len(rows) == 2 and rows["a.jpg"]["make"] == "'=cmd|' /C calc'!A0"
    nikon = rows[NIKON.name]
    assert nikon["name_digest_matches"] == "true" and len(nikon["phash"]) == 16 and nikon["make"] == "NIKON"


def test_output_file_and_exit_code_3_when_a_file_fails(tmp_path):
    (tmp_path / "ok.jpg").write_bytes(LEAK_FILES[0].read_bytes())
    (tmp_path / "cut.jpg").write_bytes(LEAK_FILES[0].read_bytes()[:5000])
    out = tmp_path / "out.jsonl"
    result = run("fingerprint", str(tmp_path), "-o", str(out), "-q")
    assert result.exit_code == 3
    assert result.stdout == ""
    by_name = {r["path"].rsplit("/", 1)[1]: r for r in records(out.read_text())}
    assert by_name["cut.jpg"]["error"]["type"] == "CorruptImage" and by_name["ok.jpg"]["error"] is None


def test_usage_errors_exit_2(tmp_path):
    assert run("fingerprint", str(tmp_path / "missing")).exit_code == 2
    assert run("fingerprint", str(FIXTURES), "--format", "xml").exit_code == 2
    assert run("fingerprint").exit_code == 2


def test_hidden_files_and_details_flags(tmp_path):
    shutil.copy(NIKON, tmp_path / ".hidden.jpg")
    assert run("fingerprint", str(tmp_path), "-q").stdout == ""
    (record,) = records(run("fingerprint", str(tmp_path), "--all", "--details", "-q").stdout)
    assert record["exif"]["Image Make"] == "NIKON"


def test_no_progress_bar_when_stderr_is_not_a_terminal():
    result = run("fingerprint", str(FIXTURES / "article"))
    assert "\r" not in result.stderr and "file/s" not in result.stderr
