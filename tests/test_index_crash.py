"""SIGKILL at any moment loses nothing committed and never corrupts the index; readers work during writes."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from provenance import Index

FILES = 240


@pytest.fixture(scope="module")
def drop(tmp_path_factory):
    """A folder of distinct small JPEGs (seeded noise), enough for several committed batches."""
    folder = tmp_path_factory.mktemp("drop")
    rng = np.random.default_rng(7)
    for n in range(FILES):
        pixels = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{n:04d}.jpg", quality=80)
    return folder


def start_index(db, folder) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "provenance",
        "index",
        str(folder),
        "--db",
        str(db),
        "-q",
        "-j",
        "1",
        "--batch-size",
        "8",
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def committed_files(db) -> int:
    """Rows another connection can see (only committed transactions are visible)."""
    if not os.path.exists(db):
        return 0
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return connection.execute("SELECT count(*) FROM files").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.OperationalError:  # the schema is not created yet
        return 0


def wait_for(predicate, limit=60.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_sigkill_at_several_moments_then_rerun_finishes_the_rest(tmp_path, drop):
    db = tmp_path / "leak.db"
    seen_before_kill = []
    # kill immediately (maybe mid-creation), then after one, then after several committed batches
    for threshold in (0, 8, 64):
        process = start_index(db, drop)
        if threshold:
            assert wait_for(lambda: committed_files(db) >= threshold or process.poll() is not None)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode in (-signal.SIGKILL, 0)
        with sqlite3.connect(db) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = committed_files(db)
        # nothing committed is ever lost
        assert count >= (seen_before_kill[-1] if seen_before_kill else 0)
        seen_before_kill.append(count)
    assert seen_before_kill[-1] < FILES, "the runs finished before they could be killed; use more files"

    process = start_index(db, drop)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr.decode()
    with Index(db, create=False) as index:
        records = [r.to_dict() for r in index.records()]
        assert len(records) == FILES
        assert len({r["path"] for r in records}) == FILES
        for record in records:
            data = open(record["path"], "rb").read()
            assert record["sha256"] == hashlib.sha256(data).hexdigest()
            assert record["error"] is None and record["hashes"]["phash"]
    # and the rerun after that reads nothing
    process = start_index(db, drop)
    process.communicate(timeout=120)
    with Index(db, create=False) as index:
        assert index.add([drop], jobs=0).unchanged == FILES


def test_readers_work_while_a_writer_commits(tmp_path, drop):
    db = tmp_path / "leak.db"
    process = start_index(db, drop)
    try:
        assert wait_for(lambda: committed_files(db) >= 8)
        reads = 0
        previous = 0
        while process.poll() is None or reads == 0:
            with Index(db, create=False) as reader:
                stats = reader.stats()
                assert stats["files"] >= previous  # a reader sees whole batches, never a partial one
                assert stats["files"] % 8 == 0 or stats["files"] == FILES
                previous = stats["files"]
                reader.lookup("0" * 32)
            reads += 1
        assert process.returncode == 0, process.stderr.read().decode()
        assert reads > 1
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
