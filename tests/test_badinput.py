"""Hostile input from the corpus: truncated files, crash reproducers, decompression bombs."""

import json
import subprocess
import sys

import pytest

from provenance import fingerprint_many

from conftest import corpus_path

pytestmark = pytest.mark.corpus


def hostile_files():
    folders = [
        corpus_path("pillow-images"),
        corpus_path("exif-samples", "jpg", "invalid"),
        corpus_path("heif", "heif_corrupted"),
        corpus_path("heif", "heif_truncated"),
    ]
    return [p for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()]


def test_every_hostile_file_gets_exactly_one_record_and_the_run_ends():
    files = hostile_files()
    assert len(files) > 750
    records = list(fingerprint_many(files, jobs=2, timeout=60))
    assert [r.path for r in records] == [str(p) for p in files]
    by_name = {r.path.rsplit("/", 1)[1]: r for r in records}
    for bomb in ("decompression_bomb.gif", "decompression_bomb.ico", "reallybig.bmp", "badwidth.bmp"):
        assert by_name[bomb].error["type"] == "ImageTooLarge", bomb
    assert by_name["truncated.heic"].error is not None
    failures = [
        (r.path, r.error)
        for r in records
        if r.error and r.error["type"] in ("InternalError", "WorkerCrashed", "Timeout")
    ]
    assert failures == []  # damage is always named, never an unexplained failure
    assert all(r.sha256 for r in records)  # every file's bytes were digested


def test_the_command_line_reports_damage_with_exit_code_3(tmp_path):
    out = tmp_path / "hostile.jsonl"
    folder = corpus_path("exif-samples", "jpg", "invalid")
    done = subprocess.run(
        [sys.executable, "-m", "provenance", "fingerprint", str(folder), "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == len([p for p in folder.iterdir() if not p.name.startswith(".")])
    assert done.returncode == (3 if any(r["error"] for r in lines) else 0)
    assert done.stdout == ""


def test_matching_hostile_queries_gives_one_result_each(tmp_path):
    """Crash reproducers, bombs and truncated files as match queries: one result each, the run ends."""
    from provenance import Index, match
    from provenance.captions import from_name

    from conftest import FIXTURES

    pillow = corpus_path("pillow-images")
    pattern = ("crash", "oom", "timeout", "bomb", "trunc", "broken", "bad")
    files = [p for p in sorted(pillow.iterdir()) if p.is_file() and any(w in p.name.lower() for w in pattern)]
    files += sorted(p for p in corpus_path("heif", "heif_truncated").iterdir() if p.is_file())
    assert len(files) > 50
    with Index(tmp_path / "leak.db") as index:
        index.add([str(FIXTURES / "leak")], jobs=1)
        report = match([from_name(str(p)) for p in files], index, jobs=2, timeout=60).to_dict()
    assert [r["query"]["path"] for r in report["results"]] == [str(p) for p in files]
    assert all(r["verdict"] == "no-match" for r in report["results"])
    assert report["summary"]["errors"] > 0
