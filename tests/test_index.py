"""The persistent index: incremental adds, content stored once, look-ups, pruning, re-rooting, bad files."""

from __future__ import annotations

import collections
import hashlib
import io
import os
import shutil
import sqlite3
import sys

import imagehash
import pytest
from PIL import Image

from provenance import Index
from provenance.errors import IndexCorrupt, IndexMismatch
from provenance.fingerprint import FingerprintOptions
from provenance.store import SCHEMA_VERSION

from conftest import FIXTURES, LEAK_FILES, MISNAMED


@pytest.fixture()
def leak(tmp_path):
    """A writable copy of fixtures/leak."""
    folder = tmp_path / "leak"
    shutil.copytree(FIXTURES / "leak", folder)
    return folder


def build(db, *paths, **kw):
    with Index(db) as index:
        return index.add(paths, jobs=kw.pop("jobs", 0), **kw)


def test_add_stores_every_file_with_its_digests(tmp_path, leak):
    summary = build(tmp_path / "i.db", leak)
    assert (summary.added, summary.unchanged, summary.failed) == (len(LEAK_FILES), 0, 0)
    with Index(tmp_path / "i.db", create=False) as index:
        records = {r.path: r.to_dict() for r in index.records()}
        assert sorted(records) == sorted(str(p) for p in leak.iterdir())
        for path, record in records.items():
            data = open(path, "rb").read()
            assert record["md5"] == hashlib.md5(data).hexdigest()
            assert record["sha256"] == hashlib.sha256(data).hexdigest()
            assert record["size"] == len(data)
        assert records[str(leak / MISNAMED.name)]["name_digest"] == {"algorithm": "md5", "matches": False}


def test_rerun_reads_nothing_unchanged_and_rereads_a_changed_file(tmp_path, leak):
    db = tmp_path / "i.db"
    build(db, leak)
    again = build(db, leak)
    assert (again.unchanged, again.added, again.updated) == (len(LEAK_FILES), 0, 0)

    target = leak / "b5f323ea309943eca9a9b117c36133f9.txt"
    target.write_bytes(b"an edited document\n")
    changed = build(db, leak)
    assert (changed.updated, changed.unchanged) == (1, len(LEAK_FILES) - 1)
    with Index(db) as index:
        [hit] = index.lookup(hashlib.sha256(b"an edited document\n").hexdigest())
        assert hit.record.path == str(target)
        # the old bytes are gone from disk, so the index forgets them too
        assert index.store.stats()["contents"] == len(LEAK_FILES)


def test_identical_bytes_under_two_paths_are_stored_once(tmp_path, leak):
    shutil.copy(LEAK_FILES[0], leak / "copy-of-first.jpg")
    build(tmp_path / "i.db", leak)
    with Index(tmp_path / "i.db") as index:
        stats = index.stats()
        assert stats["files"] == len(LEAK_FILES) + 1
        assert stats["contents"] == len(LEAK_FILES)
        assert stats["duplicate_files"] == 1
        paths = {h.record.path for h in index.lookup(hashlib.md5(LEAK_FILES[0].read_bytes()).hexdigest())}
        assert paths == {str(leak / LEAK_FILES[0].name), str(leak / "copy-of-first.jpg")}


def _scans(db, statement):
    """The tables SQLite's plan for ``statement`` reads in full, each with whether it does so inside
    a correlated subquery (once per row of the outer query)."""
    rows = db.execute("EXPLAIN QUERY PLAN " + statement).fetchall()
    parent = {row[0]: row[1] for row in rows}
    detail = {row[0]: row[3] for row in rows}

    def correlated(node):
        while node in parent:
            node = parent[node]
            if "CORRELATED" in detail.get(node, ""):
                return True
        return False

    small = ("SCAN roots", "SCAN meta")  # a row per indexed folder, per setting: never the set's size
    return [(d, correlated(n)) for n, d in detail.items() if d.startswith("SCAN") and not d.startswith(small)]


def test_writing_a_record_never_scans_the_hashes_table_and_a_rewrite_replaces_its_hash_rows(tmp_path):
    """Each write must cost the same at 10^5 images as at 10 (a scan per write made indexing
    quadratic); SQLite's own query plans are the oracle."""
    from provenance.store import Store

    store = Store(tmp_path / "i.db")
    root = store.add_root(str(tmp_path))
    statements = []
    store.db.set_trace_callback(statements.append)

    def record(n, hashes):
        sha = hashlib.sha256(str(n).encode()).hexdigest()
        return {"sha256": sha, "md5": sha[:32], "sha1": sha[:40], "size": 1, "kind": "image", "hashes": hashes}

    store.begin()
    for n in range(20):
        store.put(root, f"{n}.jpg", 0, record(n, {"phash": f"{n:016x}", "dhash": f"{n:016x}"}), ["phash", "dhash"])
    # the same bytes again, under another path, now without a dHash
    store.put(root, "again.jpg", 0, record(3, {"phash": "ff" * 8}), ["phash"])
    store.commit()
    store.db.set_trace_callback(None)

    on_hashes = {s for s in statements if " hashes" in s and not s.startswith(("BEGIN", "COMMIT"))}
    assert any(s.startswith("DELETE") for s in on_hashes)  # the rewrite deleted the old rows
    once = "SELECT DISTINCT kind FROM hashes"  # the kinds present: one scan per connection, not per write
    assert statements.count(once) <= 1
    for statement in on_hashes - {once}:
        assert _scans(store.db, statement) == [], statement
    sha3 = hashlib.sha256(b"3").hexdigest()
    rows = store.db.execute("SELECT kind, value FROM hashes WHERE kind IN ('phash', 'dhash') AND sha256 = ?", (sha3,))
    assert sorted(rows) == [("phash", "ff" * 8)]
    assert store.db.execute("SELECT count(*) FROM hashes").fetchone()[0] == 19 * 2 + 1
    store.db.close()


def test_an_index_run_reads_no_table_in_full_once_per_file(tmp_path, leak):
    """What made indexing 10^5 images quadratic: a per-file statement, or a per-row subquery, that
    reads a whole table. Every statement a first run, a rerun after a change and the look-ups
    execute, and a match's, is asked of SQLite's planner."""
    import re

    from provenance.captions import Query
    from provenance.matching import Matcher

    db = tmp_path / "i.db"
    statements = []
    with Index(db) as index:
        index.store.db.set_trace_callback(statements.append)
        index.add([str(leak)], jobs=0)
        (leak / "b5f323ea309943eca9a9b117c36133f9.txt").write_bytes(b"an edited document\n")
        shutil.copy(LEAK_FILES[0], leak / "copy-of-first.jpg")
        index.add([str(leak)], jobs=0)
        index.lookup(hashlib.md5(LEAK_FILES[0].read_bytes()).hexdigest())
        [record] = [r for r in index.records() if r.path == str(leak / "copy-of-first.jpg")]
        index.near(record.hashes)
        Matcher(index).match_query(Query(path=str(FIXTURES / "article" / sorted(os.listdir(FIXTURES / "article"))[0])))
        index.store.db.set_trace_callback(None)

        def shape(statement):  # the statement with its literals taken out: one per place in the code
            return re.sub(r"'[^']*'|\b\d+\b", "?", statement)

        runs = collections.Counter(shape(s) for s in statements)
        files = len(LEAK_FILES)
        checked = 0
        for statement in dict.fromkeys(statements):
            if not statement.lstrip().upper().startswith(("SELECT", "DELETE", "UPDATE", "INSERT")):
                continue
            checked += 1
            per_file = runs[shape(statement)] >= files
            for scan, inner in _scans(index.store.db, statement):
                assert not inner, f"reads a table once per row: {statement!r}: {scan}"
                assert not per_file, f"reads a table in full for every file: {statement!r}: {scan}"
    assert checked > 20


def test_lookup_recognises_each_digest_by_length(tmp_path, leak):
    build(tmp_path / "i.db", leak)
    source = leak / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg"
    data = source.read_bytes()
    with Index(tmp_path / "i.db") as index:
        for digest, field in (
            (hashlib.md5(data).hexdigest(), "md5"),
            (hashlib.sha1(data).hexdigest(), "sha1"),
            (hashlib.sha256(data).hexdigest().upper(), "sha256"),
        ):
            [hit] = index.lookup(digest)
            assert (hit.field, hit.record.path) == (field, str(source))
        phash = next(r for r in index.records() if r.path == str(source)).hashes["phash"]
        assert str(source) in {h.record.path for h in index.lookup(phash) if h.field == "phash"}
        assert index.lookup("0" * 32) == []
        for bad in ("xyz", "abc", "0" * 33):
            with pytest.raises(ValueError):
                index.lookup(bad)


def test_near_agrees_with_imagehash_distances(tmp_path, leak):
    """near() against a brute-force oracle: every indexed pHash within 10 of a re-encoded copy, by imagehash."""
    source = leak / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg"
    with Image.open(source) as im:
        buffer = io.BytesIO()
        im.resize((im.width // 2, im.height // 2)).save(buffer, "JPEG", quality=60)
    build(tmp_path / "i.db", leak)
    from provenance import fingerprint

    query = fingerprint(buffer.getvalue(), name="copy.jpg").hashes
    with Index(tmp_path / "i.db") as index:
        found = {p for m in index.near(query, {"phash": 10}, kinds=["phash"]) for p in m.paths}
        expected = {
            r.path
            for r in index.records()
            if r.hashes.get("phash")
            and imagehash.hex_to_hash(r.hashes["phash"]) - imagehash.hex_to_hash(query["phash"]) <= 10
        }
    assert str(source) in found
    assert found == expected


def test_prune_forgets_deleted_files_but_keeps_a_missing_root(tmp_path, leak):
    db = tmp_path / "i.db"
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(LEAK_FILES[0], other / "x.jpg")
    build(db, leak, other)
    (leak / LEAK_FILES[1].name).unlink()
    shutil.rmtree(other)  # unmounted drive or moved folder: not evidence that its files are gone
    with Index(db) as index:
        pruned = index.prune()
        assert pruned.removed == [str(leak / LEAK_FILES[1].name)]
        assert pruned.missing_roots == [str(other)]
        assert len(index) == len(LEAK_FILES)


def test_moved_folder_is_rerooted_without_rereading(tmp_path, leak):
    db = tmp_path / "i.db"
    build(db, leak)
    moved = tmp_path / "moved-leak"
    leak.rename(moved)
    with Index(db) as index:
        index.move_root(str(leak), str(moved))
        assert index.roots() == [str(moved)]
    again = build(db, moved)
    assert (again.unchanged, again.added) == (len(LEAK_FILES), 0)


def test_indexing_a_parent_folder_absorbs_the_roots_inside_it(tmp_path, leak):
    db = tmp_path / "i.db"
    build(db, leak)
    (tmp_path / "notes.txt").write_text("case notes")
    summary = build(db, tmp_path, include_hidden=False)
    assert summary.unchanged == len(LEAK_FILES)  # the leak's files keep their rows under the new root
    with Index(db) as index:
        assert index.roots() == [str(tmp_path)]


def test_bad_files_are_stored_with_their_error_and_listed(tmp_path, leak):
    data = (leak / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg").read_bytes()
    (leak / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (leak / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(100))
    summary = build(tmp_path / "i.db", leak)
    assert summary.failed >= 1 and summary.added == len(LEAK_FILES) + 2
    with Index(tmp_path / "i.db") as index:
        errors = {e["path"]: e["type"] for e in index.stats()["errors"]}
        assert str(leak / "garbage.png") in errors
        truncated = next(r.to_dict() for r in index.records() if r.path.endswith("truncated.jpg"))
        assert truncated["sha256"] == hashlib.sha256(data[: len(data) // 3]).hexdigest()
    # unchanged failures are not retried unless asked
    assert build(tmp_path / "i.db", leak).unchanged == len(LEAK_FILES) + 2
    assert build(tmp_path / "i.db", leak, retry_errors=True).updated == len(errors)


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses names that are not UTF-8")
def test_file_names_that_are_not_utf8_round_trip(tmp_path, leak):
    name = os.fsdecode(b"caf\xe9-\xff.jpg")
    shutil.copy(LEAK_FILES[0], os.path.join(leak, name))
    build(tmp_path / "i.db", leak)
    assert build(tmp_path / "i.db", leak).unchanged == len(LEAK_FILES) + 1
    with Index(tmp_path / "i.db") as index:
        assert os.path.join(str(leak), name) in {r.path for r in index.records()}


def test_files_that_are_not_an_index_are_refused(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(IndexCorrupt):
        Index(garbage)
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)")
    with pytest.raises(IndexCorrupt, match="not a provenance index"):
        Index(foreign)
    newer = tmp_path / "newer.db"
    Index(newer).close()
    connection = sqlite3.connect(newer)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(IndexCorrupt, match="newer"):
        Index(newer)


def test_schema_is_versioned_and_options_are_fixed_at_creation(tmp_path):
    db = tmp_path / "i.db"
    with Index(db, options=FingerprintOptions(max_pixels=1000)) as index:
        assert index.store.schema_version() == SCHEMA_VERSION
        assert index.store.get_meta("schema_version") == str(SCHEMA_VERSION)
    with Index(db) as index:
        assert index.options.max_pixels == 1000
    with pytest.raises(IndexMismatch, match="max_pixels"):
        Index(db, options=FingerprintOptions(max_pixels=2000))


def old_index(db, version, paths):
    """An index as release ``version`` (1 or 2) wrote it: its schema from the migrations, one column per
    built-in hash kind in ``contents``, rows as that release's writer filled them."""
    import json

    import provenance.store as store
    from provenance import fingerprint

    connection = sqlite3.connect(db)
    for target in range(1, version + 1):
        for statement in store.MIGRATIONS[target].split(";"):
            if statement.strip():
                connection.execute(statement)
    connection.execute(f"PRAGMA user_version = {version}")
    connection.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [
            ("created", "2026-01-01T00:00:00Z"),
            ("schema_version", str(version)),
            ("fingerprint_options", json.dumps({"details": False, "max_pixels": 250_000_000, "exact_hashes": False})),
        ],
    )
    connection.execute("INSERT INTO roots VALUES (1, ?, '2026-01-01T00:00:00Z')", (str(paths[0].parent),))
    columns = ("phash", "dhash", "ahash", "whash", "colorhash", "pdq")
    for path in paths:
        record = fingerprint(path).to_dict()
        hashes, metadata = record["hashes"], record["metadata"]
        content = {k: v for k, v in record.items() if k not in ("path", "mtime", "name_digest", "error")}
        connection.execute(
            "INSERT OR IGNORE INTO contents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                record["sha256"],
                record["md5"],
                record["sha1"],
                record["size"],
                record["kind"],
                record["format"],
                record["width"],
                record["height"],
                record["image_data_sha256"],
                *[hashes.get(c) for c in columns],
                hashes.get("pdq_quality"),
                record["jpeg_quality"],
                metadata.get("make"),
                metadata.get("model"),
                metadata.get("software"),
                metadata.get("datetime_original"),
                1,
                json.dumps(content),
            ),
        )
        connection.execute(
            "INSERT INTO files (root_id, path, size, mtime_ns, mtime, sha256, name_digest, indexed_at)"
            " VALUES (1, ?, ?, ?, ?, ?, ?, '2026-01-01T00:00:00Z')",
            (
                path.name,
                record["size"],
                os.stat(path).st_mtime_ns,
                record["mtime"],
                record["sha256"],
                json.dumps(record["name_digest"]) if record["name_digest"] else None,
            ),
        )
    connection.commit()
    connection.close()


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_index_is_migrated_and_keeps_its_records(tmp_path, version):
    db = tmp_path / "old.db"
    images = [p for p in LEAK_FILES if p.suffix != ".txt"]
    old_index(db, version, LEAK_FILES)
    connection = sqlite3.connect(db)
    old_phash = dict(connection.execute("SELECT sha256, phash FROM contents WHERE phash IS NOT NULL"))
    connection.close()
    assert len(old_phash) == len(images)
    with Index(db) as index:
        assert index.store.schema_version() == SCHEMA_VERSION == 4
        assert index.store.get_meta("schema_version") == "4"
        assert sorted(r.sha256 for r in index.records()) == sorted(
            hashlib.sha256(p.read_bytes()).hexdigest() for p in LEAK_FILES
        )
        assert index.store.features("any") == {}
        shas, values = index.store.hash_column("phash")
        assert dict(zip(shas, values)) == old_phash
        sha, phash = next(iter(old_phash.items()))
        assert [h.record.sha256 for h in index.lookup(phash) if h.field == "phash"] == [sha]
        # and it keeps working as a current index: a rerun finds every file unchanged
        assert index.add([str(FIXTURES / "leak")], jobs=0).unchanged == len(LEAK_FILES)
    columns = {row[1] for row in sqlite3.connect(db).execute("PRAGMA table_info(contents)")}
    assert "phash" not in columns and "pdq_quality" not in columns


def test_an_older_index_is_read_without_being_changed(tmp_path):
    db = tmp_path / "old.db"
    old_index(db, 2, LEAK_FILES)
    before = db.read_bytes()
    nikon = LEAK_FILES[[p.name for p in LEAK_FILES].index("35b833f721ed391380a8ddf159852b50.jpg")]
    with Index(db, create=False, writable=False) as index:
        assert index.store.schema_version() == 2
        phash = next(r for r in index.records() if r.path == str(nikon)).hashes["phash"]
        assert [h.record.path for h in index.lookup(phash) if h.field == "phash"] == [str(nikon)]
        assert index.near({"phash": phash}, 4, kinds=["phash"])[0].paths == [str(nikon)]
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.db"]
