"""fsspec URLs where a Dask user gives them: ``file:///…`` stands in for ``s3://…`` (same code path).

The oracle is the same work done on the plain local path: the records must be identical but for
``path``, which keeps the URL the user gave.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from provenance import Index, match
from provenance.captions import from_name
from provenance.files import iter_files
from provenance.workers import fingerprint_many

from conftest import ARTICLE_FILES, FIXTURES, run_cli

pytest.importorskip("fsspec", reason="the dask extra is not installed (pip install '.[dask]')")


def url(path: Path) -> str:
    return "file://" + str(path.resolve())


@pytest.fixture
def leak(tmp_path) -> Path:
    folder = tmp_path / "leak"
    shutil.copytree(FIXTURES / "leak", folder)
    (folder / ".hidden.jpg").write_bytes((FIXTURES / "leak" / sorted(os.listdir(folder))[0]).read_bytes())
    return folder


def test_a_folder_url_lists_what_the_folder_holds_in_the_same_order(leak):
    local = [p for p in iter_files([str(leak)])]
    remote = [p for p in iter_files([url(leak)])]
    assert remote == [url(Path(p)) for p in local]
    assert not any(".hidden" in p for p in remote)
    assert any(".hidden" in p for p in iter_files([url(leak)], include_hidden=True))


def test_records_read_through_a_url_are_the_local_records(leak):
    local = [r.to_dict() for r in fingerprint_many(iter_files([str(leak)]), jobs=1)]
    remote = [r.to_dict() for r in fingerprint_many(iter_files([url(leak)]), jobs=1)]
    assert [r["path"] for r in remote] == [url(Path(r["path"])) for r in local]
    for a, b in zip(remote, local):
        assert {**a, "path": None} == {**b, "path": None}
    assert any(r["hashes"] for r in remote)


def test_an_index_of_a_url_is_incremental_and_prunes(leak, tmp_path):
    with Index(tmp_path / "u.db") as index:
        first = index.add([url(leak)], jobs=1)
        again = index.add([url(leak)], jobs=1)
        victim = sorted(p for p in leak.iterdir() if p.suffix == ".jpg" and not p.name.startswith("."))[0]
        data = victim.read_bytes()
        victim.write_bytes(data + b"\0")  # a changed size: read again
        changed = index.add([url(leak)], jobs=1)
        (leak / "b5f323ea309943eca9a9b117c36133f9.txt").unlink()
        pruned = index.prune()
        assert index.roots() == [url(leak)]
        paths = {r.path for r in index.records()}
    assert first.added == len(os.listdir(FIXTURES / "leak")) and first.keys_added > 0
    assert again.unchanged == first.added and again.added == again.updated == 0
    assert changed.updated == 1 and changed.unchanged == first.added - 1
    assert pruned.removed == [url(leak / "b5f323ea309943eca9a9b117c36133f9.txt")]
    assert url(victim) in paths


def verdicts(report):
    return [(r["verdict"], [Path(m["reference"]["path"]).name for m in r["matches"]]) for r in report["results"]]


def test_matching_against_references_behind_urls_gives_the_local_verdicts(leak, tmp_path):
    queries = [from_name(str(p)) for p in ARTICLE_FILES]
    with Index(tmp_path / "local.db") as index:
        index.add([str(leak)], jobs=1)
        local = match(queries, index, jobs=1).to_dict()
    with Index(tmp_path / "remote.db") as index:
        index.add([url(leak)], jobs=1)
        remote = match(queries, index, jobs=1).to_dict()
    assert verdicts(remote) == verdicts(local)
    assert sum(v == "near-duplicate" for v, _ in verdicts(remote)) >= 3
    assert all(m["reference"]["path"].startswith("file://") for r in remote["results"] for m in r["matches"])


def test_the_cli_takes_urls_for_files_folders_and_references(leak, tmp_path):
    done = run_cli("fingerprint", url(leak), "-q")
    assert done.returncode == 0, done.stderr
    assert all(json.loads(line)["path"].startswith("file://") for line in done.stdout.splitlines())
    matched = run_cli("match", str(FIXTURES / "article"), "--against", url(leak), "-q")
    local = run_cli("match", str(FIXTURES / "article"), "--against", str(leak), "-q")
    assert verdicts(json.loads(matched.stdout)) == verdicts(json.loads(local.stdout))


def test_a_url_that_cannot_be_read_is_one_error_record_and_the_run_goes_on(leak):
    done = run_cli("fingerprint", "nosuchscheme://bucket/leak/", url(leak / "missing.jpg"), str(ARTICLE_FILES[0]), "-q")
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 3
    assert [r["path"] for r in records][-1] == str(ARTICLE_FILES[0]) and records[-1]["error"] is None
    assert records[0]["error"]["type"] == "UnreadableFile" and "nosuchscheme" in records[0]["error"]["message"]
    assert records[1]["error"]["type"] == "UnreadableFile"
