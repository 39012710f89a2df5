"""Hostile files, pages, databases and terminals (docs/security.md): each probe is built here and run
through the command line in a real process; every bad input is one line naming the file and the
reason, exit status 2, and nothing changes that must not change."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pty
import select
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from conftest import ARTICLE_FILES, FIXTURES, run_cli

LEAK = FIXTURES / "leak"
NIKON = LEAK / "35b833f721ed391380a8ddf159852b50.jpg"
CANTEEN = FIXTURES / "article" / "canteen-lunch-960x640-1.jpg"


@pytest.fixture(scope="module")
def leak_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("index") / "leak.db"
    assert run_cli("index", LEAK, "--db", db, "-q").returncode == 0
    return db


def copy_db(leak_db: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "leak.db"
    shutil.copyfile(leak_db, target)
    return target


def one_line_error(done: subprocess.CompletedProcess, *names: str) -> str:
    """The run failed as a user error: exit 2, one line on stderr naming each of ``names``."""
    assert done.returncode == 2, (done.returncode, done.stdout[-500:], done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


# 1 -------------------------------------------------------------------------------------------------


def test_a_nul_byte_in_a_page_or_a_manifest_costs_that_query_only(tmp_path, leak_db):
    shutil.copyfile(CANTEEN, tmp_path / "good.jpg")
    (tmp_path / "page.html").write_text('<img src="a%00.jpg"><img src="good.jpg" alt="A good picture">')
    (tmp_path / "rows.json").write_text(json.dumps([{"path": "b\u0000.jpg", "caption": "x"}, {"path": "good.jpg"}]))
    (tmp_path / "rows.csv").write_text("path,caption\nc%00.jpg,y\ngood.jpg,z\n")
    out = tmp_path / "r.json"
    done = run_cli(
        "match",
        "--html",
        tmp_path / "page.html",
        "--manifest",
        tmp_path / "rows.json",
        "--manifest",
        tmp_path / "rows.csv",
        "--against",
        leak_db,
        "-q",
        "-o",
        out,
    )
    assert done.returncode == 3, done.stderr  # some queries could not be read; the run went on
    results = json.loads(out.read_text())["results"]
    assert len(results) == 6
    bad = [r for r in results if r["query"]["problem"]]
    assert [r["query"]["problem"] for r in bad] == ["the path contains a NUL byte"] * 3
    good = [r for r in results if not r["query"]["problem"]]
    assert len(good) == 3 and all(r["verdict"] == "near-duplicate" for r in good)


# 2 -------------------------------------------------------------------------------------------------


def nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "name, text",
    [
        ("big.csv", "path,caption\ngood.jpg," + "x" * (200 * 1024) + "\n"),
        ("deep.json", nested_json(100_000)),
        ("latin1.csv", "path,caption\ngood.jpg,caf\xe9\n"),
    ],
)
def test_a_manifest_that_cannot_be_read_is_one_line(tmp_path, leak_db, name, text):
    manifest = tmp_path / name
    manifest.write_bytes(text.encode("latin-1"))
    done = run_cli("match", "--manifest", manifest, "--against", leak_db, "-o", tmp_path / "r.json")
    one_line_error(done, manifest)
    assert not (tmp_path / "r.json").exists()


def test_a_policy_or_a_saved_report_nested_too_deep_is_one_line(tmp_path, leak_db):
    policy = tmp_path / "deep.toml"
    policy.write_text("fail_on = " + "[" * 50_000 + "]" * 50_000 + "\n")
    one_line_error(run_cli("check", CANTEEN, "--against", leak_db, "--policy", policy), policy)
    report = tmp_path / "deep.json"
    report.write_text('{"schema": "provenance/match-1", "results": ' + nested_json(100_000) + "}")
    one_line_error(run_cli("report", report, "-f", "md"), report)
    latin = tmp_path / "latin1.toml"
    latin.write_bytes('fail_on = ["unknown"] # caf\xe9\n'.encode("latin-1"))
    assert "not UTF-8" in one_line_error(run_cli("check", CANTEEN, "--against", leak_db, "--policy", latin), latin)


def tampered(leak_db: Path, folder: Path, how: str) -> Path:
    db = copy_db(leak_db, folder)
    connection = sqlite3.connect(db)
    if how == "schema_version":
        connection.execute("UPDATE meta SET value = 'seven' WHERE key = 'schema_version'")
    elif how == "dropped table":
        connection.execute("DROP TABLE hashes")
    elif how == "newer":
        connection.execute("PRAGMA user_version = 99")
    connection.commit()
    connection.close()
    return db


def foreign_sqlite(path: Path) -> Path:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE photos (name TEXT)")
    connection.execute("INSERT INTO photos VALUES ('not ours')")
    connection.commit()
    connection.close()
    return path


COMMANDS = {
    "stats": lambda db: ["stats", "--db", db],
    "lookup": lambda db: ["lookup", "0" * 32, "--db", db],
    "dedup": lambda db: ["dedup", "--db", db],
    "match": lambda db: ["match", CANTEEN, "--against", db],
    "check": lambda db: ["check", CANTEEN, "--against", db],
    "index": lambda db: ["index", FIXTURES / "article", "--db", db],
}


@pytest.mark.parametrize("how", ["foreign", "empty", "schema_version", "dropped table", "newer", "garbage"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_file_that_is_not_a_usable_index_is_refused_and_left_as_it_was(tmp_path, leak_db, how, command):
    folder = tmp_path / "db"
    folder.mkdir()
    if how == "foreign":
        db = foreign_sqlite(folder / "photos.db")
    elif how == "empty":
        db = folder / "empty.db"
        db.write_bytes(b"")
    elif how == "garbage":
        db = folder / "garbage.db"
        db.write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    else:
        db = tampered(leak_db, folder, how)
    before = db.read_bytes()
    done = run_cli(*COMMANDS[command](db))
    if command == "index" and how == "empty":
        assert done.returncode == 0  # an empty file given to index becomes an index, as a missing one does
        return
    one_line_error(done, db)
    assert db.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [db.name]  # no -wal, no -shm


def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path, leak_db):
    (tmp_path / "a-folder").mkdir()
    for output in (tmp_path / "missing" / "r.json", tmp_path / "a-folder"):
        started = time.monotonic()
        one_line_error(run_cli("match", FIXTURES / "article", "--against", LEAK, "-o", output), output)
        assert time.monotonic() - started < 20  # refused before the references were indexed and matched
        one_line_error(run_cli("check", CANTEEN, "--against", leak_db, "--junit", output), output)
        one_line_error(run_cli("fingerprint", LEAK, "-o", output), output)
        one_line_error(run_cli("dedup", LEAK, "-o", output), output)


@pytest.mark.parametrize(
    "edit, where",
    [
        (lambda r: r["results"][0].__setitem__("confidence", "high"), "results/0/confidence"),
        (lambda r: r["results"][0]["matches"][0]["transform"]["homography"].pop(), "homography"),
        (
            lambda r: r["results"][0]["matches"][0]["reference"]["metadata"].__setitem__("gps_latitude", "north"),
            "gps_latitude",
        ),
        (lambda r: r["results"][0]["matches"][0]["distances"].__setitem__("phash", None), "distances/phash"),
    ],
)
def test_a_hand_edited_report_with_wrong_types_is_one_line(tmp_path, leak_db, edit, where):
    saved = tmp_path / "saved.json"
    assert (
        run_cli("match", NIKON.with_name(NIKON.name), CANTEEN, "--against", leak_db, "-q", "-o", saved).returncode == 0
    )
    report = json.loads(saved.read_text())
    report["results"] = [r for r in report["results"] if r["verdict"] == "near-duplicate"]
    edit(report)
    saved.write_text(json.dumps(report))
    for fmt in ("md", "html", "csv"):
        line = one_line_error(run_cli("report", saved, "-f", fmt, "-o", tmp_path / f"r.{fmt}"), saved)
        assert where in line
        assert not (tmp_path / f"r.{fmt}").exists()


# 3, 8 ----------------------------------------------------------------------------------------------


def test_check_updates_the_index_only_after_every_output_and_a_held_policy(tmp_path, leak_db):
    db = copy_db(leak_db, tmp_path / "db")
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copyfile(CANTEEN, drop / "canteen.jpg")
    before = db.read_bytes()
    done = run_cli(
        "check", drop, "--against", db, "--update-index", "--fail-on", "unknown", "-o", tmp_path / "missing" / "r.json"
    )
    one_line_error(done, tmp_path / "missing")
    assert db.read_bytes() == before
    # a violated policy leaves the index as it was, features and all
    rows = lambda: (
        sqlite3.connect(db)
        .execute("SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM features), (SELECT count(*) FROM hashes)")
        .fetchone()
    )
    counts = rows()
    shutil.copyfile(ARTICLE_FILES[2], drop / "rally.jpg")  # matches nothing: a keypoint search runs
    done = run_cli("check", drop, "--against", db, "--update-index", "--fail-on", "unknown", "-q")
    assert done.returncode == 1 and rows() == counts
    # without --update-index the file is not even opened for writing
    stamp = db.stat().st_mtime_ns
    before = db.read_bytes()
    assert run_cli("check", drop, "--against", db, "-q").returncode == 0
    assert db.read_bytes() == before and db.stat().st_mtime_ns == stamp


def test_a_failed_output_rolls_the_index_update_back(tmp_path, leak_db):
    from provenance import Index
    from provenance.check import check, index_update
    from provenance.policy import Policy

    db = copy_db(leak_db, tmp_path / "db")
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copyfile(CANTEEN, drop / "canteen.jpg")
    with Index(db) as index:
        before = len(index)
        report = check([str(drop)], index, Policy(fail_on=[]), jobs=0)
        with pytest.raises(OSError), index_update(index, report):
            raise OSError("disk full while writing the report")
        assert len(index) == before and report.index_update is None
        with index_update(index, report) as summary:
            pass
        assert summary.added == 1 and len(index) == before + 1


# 4 -------------------------------------------------------------------------------------------------


def read_only_run(folder: Path, *args: object) -> subprocess.CompletedProcess:
    """Run the command line with ``folder`` read-only: a read-only bind mount in a private mount
    namespace (as root, for whom file modes do not bind), or file modes (otherwise)."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
        for p in modes:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            return run_cli(*args)
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("running as root, and no private mount namespace for a read-only mount (unshare -m)")
    view = folder.parent / f"{folder.name}-read-only"
    view.mkdir(exist_ok=True)
    script = (
        f'mount --bind "{folder}" "{view}" && mount -o remount,bind,ro "{view}" && '
        f'exec "{sys.executable}" -m provenance ' + " ".join(f"'{a}'" for a in args)
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script.replace(str(folder) + "/", str(view) + "/")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_read_only_commands_work_on_a_read_only_index_in_a_read_only_folder(tmp_path, leak_db):
    folder = tmp_path / "shared"
    db = copy_db(leak_db, folder)
    before = db.read_bytes()
    md5 = hashlib.md5(NIKON.read_bytes()).hexdigest()
    stats = read_only_run(folder, "stats", "--db", db)
    assert stats.returncode == 0 and "files: 9" in stats.stdout, stats.stderr
    lookup = read_only_run(folder, "lookup", md5, "--db", db)
    assert lookup.returncode == 0 and "md5 match" in lookup.stdout, lookup.stderr
    assert read_only_run(folder, "dedup", "--db", db, "-q").returncode == 0
    matched = read_only_run(folder, "match", CANTEEN, "--against", db, "-q")
    assert matched.returncode == 0 and json.loads(matched.stdout)["results"][0]["verdict"] == "near-duplicate"
    assert read_only_run(folder, "check", CANTEEN, "--against", db, "-q").returncode == 0
    writing = read_only_run(folder, "index", FIXTURES / "article", "--db", db)
    assert writing.returncode == 2 and "read-only" in writing.stderr  # refused before any work
    assert db.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["leak.db"]


# 5 -------------------------------------------------------------------------------------------------

ESCAPES = "\x1b]0;owned\x07\x1b[2J"


def run_on_a_terminal(*args: object, cwd: Path) -> bytes:
    """What ``provenance ARGS`` writes to a pseudo-terminal (stdout and stderr both)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "provenance", *map(str, args)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=cwd,
        close_fds=True,
    )
    os.close(terminal)
    output = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 120)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process exited
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(controller)
    return output


def hostile_jpeg(path: Path) -> None:
    """A JPEG whose EXIF Make and Model carry terminal escape sequences."""
    with Image.open(NIKON) as im:
        exif = im.getexif()
        exif[0x010F] = ESCAPES + "Make"
        exif[0x0110] = ESCAPES + "Model"
        im.save(path, exif=exif.tobytes())


def test_text_from_a_leak_never_reaches_the_terminal_raw(tmp_path):
    leak = tmp_path / "leak"
    leak.mkdir()
    hostile_jpeg(leak / "camera.jpg")
    (leak / f"{ESCAPES}broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    (leak / f"{ESCAPES}.md").write_text("notes")
    db = tmp_path / "leak.db"
    md5 = hashlib.md5((leak / "camera.jpg").read_bytes()).hexdigest()
    outputs = {
        "index": run_on_a_terminal("index", leak, "--db", db, cwd=tmp_path),
        "lookup": run_on_a_terminal("lookup", md5, "--db", db, cwd=tmp_path),
        "stats": run_on_a_terminal("stats", "--db", db, cwd=tmp_path),
        "dedup md": run_on_a_terminal("dedup", "--db", db, "-f", "md", cwd=tmp_path),
        "dedup csv": run_on_a_terminal("dedup", "--db", db, "-f", "csv", cwd=tmp_path),
        "match md": run_on_a_terminal("match", leak, "--against", db, "-f", "md", cwd=tmp_path),
        "match csv": run_on_a_terminal("match", leak, "--against", db, "-f", "csv", cwd=tmp_path),
        "fingerprint csv": run_on_a_terminal("fingerprint", leak, "-f", "csv", cwd=tmp_path),
        "check": run_on_a_terminal("check", leak, "--against", db, "--fail-on", "unreadable", cwd=tmp_path),
    }
    for name, output in outputs.items():
        text = output.decode("utf-8", errors="replace")
        assert "broken.jpg" in text or "camera" in text or "Make" in text, (name, text[:300])
        assert b"\x07" not in output and b"\x1b]" not in output and b"\x1b[2J" not in output, (name, text[:500])
    assert b"\\x1b]0;owned\\x07" in outputs["lookup"]  # shown, escaped
    assert b"\\x1b]0;owned\\x07" in outputs["index"]


# 6 -------------------------------------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc to see the worker processes")
@pytest.mark.parametrize("command", ["match", "check", "dedup"])
def test_ctrl_c_exits_130_and_leaves_no_output(tmp_path, leak_db, command):
    queries = tmp_path / "queries"
    queries.mkdir()
    for n in range(40):
        shutil.copyfile(ARTICLE_FILES[n % len(ARTICLE_FILES)], queries / f"q{n:02d}-{n}.jpg")
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    args = {
        "match": ["match", queries, "--against", leak_db],
        "check": ["check", queries, "--against", leak_db],
        "dedup": ["dedup", queries],
    }[command]
    process = subprocess.Popen(
        [sys.executable, "-m", "provenance", *map(str, args), "-j", "1", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not children_of(process.pid) and time.monotonic() < deadline:  # a worker is at work
        time.sleep(0.05)
    assert children_of(process.pid), "no worker process started"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert list(out.parent.iterdir()) == []  # no report, no partial file


# 7 -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("[match]\nmax_candidates = 0\n", "between 1 and 100"),
        ("[match]\nmax_candidates = 1000000000\n", "between 1 and 100"),
        ("[dedup]\nphash_distance = -1\n", "between 0 and 32"),
        ("min_confidence = 7\n", "between 0 and 1"),
    ],
)
def test_a_policy_out_of_bounds_is_refused(tmp_path, leak_db, text, message):
    policy = tmp_path / "p.toml"
    policy.write_text(text)
    assert message in one_line_error(run_cli("check", CANTEEN, "--against", leak_db, "--policy", policy), policy)


def test_a_policy_that_switches_a_detection_off_says_so(tmp_path, leak_db):
    policy = tmp_path / "p.toml"
    policy.write_text(
        'fail_on = ["duplicate-of-reference"]\nduplicate_relations = []\n[match]\nkeypoint_search = false\n'
    )
    out = tmp_path / "r.json"
    done = run_cli("check", CANTEEN, "--against", leak_db, "--policy", policy, "-o", out)
    assert done.returncode == 0
    warnings = [line for line in done.stderr.splitlines() if "switches a detection off" in line]
    assert len(warnings) == 2 and any("keypoint_search = false" in w for w in warnings)
    assert any("duplicate_relations = []" in w for w in warnings)
    off = json.loads(out.read_text())["run"]["parameters"]["detections_off"]
    assert len(off) == 2


# 9 -------------------------------------------------------------------------------------------------


def test_a_fifo_named_as_a_page_or_a_manifest_is_refused_at_once(tmp_path, leak_db):
    fifo = tmp_path / "page.html"
    os.mkfifo(fifo)
    for option in ("--html", "--manifest"):
        started = time.monotonic()
        line = one_line_error(run_cli("match", option, fifo, "--against", leak_db, timeout=60), fifo)
        assert "FIFO" in line and time.monotonic() - started < 30
    policy = tmp_path / "policy.toml"
    os.mkfifo(policy)
    assert "FIFO" in one_line_error(run_cli("check", CANTEEN, "--against", leak_db, "--policy", policy, timeout=60))


def test_report_thumbnails_are_made_in_workers_under_the_pixel_limit(tmp_path, monkeypatch):
    import provenance.report.thumbs as thumbs

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_declaring(20_000, 20_000))  # 400 MP declared in a few hundred bytes
    monkeypatch.setattr(thumbs, "make_thumbnail", lambda *a, **k: pytest.fail("the parent decoded a picture"))
    with thumbs.Thumbnails(side=64, jobs=1, timeout=60) as made:
        made.prefetch([str(NIKON), str(bomb)])
        assert made.get(str(NIKON)).width == 64
        assert made.get(str(bomb)) is None  # refused by the pixel limit, in the worker


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )


# 10 ------------------------------------------------------------------------------------------------


def test_a_copy_disguised_by_a_text_bomb_is_still_found(tmp_path, leak_db):
    drop = tmp_path / "drop"
    drop.mkdir()
    with Image.open(NIKON) as im:
        buffer = io.BytesIO()
        im.save(buffer, "PNG")
    plain = buffer.getvalue()
    (drop / "plain.png").write_bytes(plain)
    text = b"Comment\x00\x00" + zlib.compress(b"A" * (4 * 1024 * 1024))
    bomb_chunk = struct.pack(">I", len(text)) + b"zTXt" + text + struct.pack(">I", zlib.crc32(b"zTXt" + text))
    (drop / "disguised.png").write_bytes(plain[:33] + bomb_chunk + plain[33:])
    out = tmp_path / "r.json"
    done = run_cli("check", drop, "--against", leak_db, "--fail-on", "unknown,duplicate-of-reference", "-q", "-o", out)
    assert done.returncode == 1
    found = {(v["path"].rsplit("/", 1)[-1], v["rule"]) for v in json.loads(out.read_text())["violations"]}
    assert found == {("plain.png", "duplicate-of-reference"), ("disguised.png", "duplicate-of-reference")}
    record = json.loads(run_cli("fingerprint", drop / "disguised.png", "-q").stdout)
    assert record["error"] is None and record["hashes"]["phash"]
    assert any("PNG text chunk" in w["message"] for w in record["warnings"])


# 11 ------------------------------------------------------------------------------------------------


def test_markdown_reports_never_make_links_of_untrusted_text(tmp_path, leak_db):
    import cmarkgfm

    folder = tmp_path / "www.evil.example"
    folder.mkdir()
    shutil.copyfile(CANTEEN, folder / "see-http-evil.jpg")
    (folder / "manifest.csv").write_text(
        "path,caption\nsee-http-evil.jpg,Read http://evil.example/x or www.evil.example or mail a@evil.example\n"
    )
    out = tmp_path / "r.md"
    assert (
        run_cli("match", "--manifest", folder / "manifest.csv", "--against", leak_db, "-q", "-o", out).returncode == 0
    )
    html = cmarkgfm.github_flavored_markdown_to_html(out.read_text())
    assert "evil.example" in html and "<a " not in html


# 12 ------------------------------------------------------------------------------------------------


def test_a_byte_order_mark_is_accepted_in_json_manifests_and_toml_policies(tmp_path, leak_db):
    shutil.copyfile(CANTEEN, tmp_path / "canteen.jpg")
    manifest = tmp_path / "rows.json"
    manifest.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"path": "canteen.jpg", "caption": "c"}]).encode())
    policy = tmp_path / "p.toml"
    policy.write_bytes(b'\xef\xbb\xbffail_on = ["unknown"]\n')
    done = run_cli("check", "--manifest", manifest, "--against", leak_db, "--policy", policy, "-q")
    assert done.returncode == 0, done.stderr


def test_the_max_pixels_hint_appears_only_where_that_option_exists(tmp_path, leak_db):
    big = tmp_path / "big.png"
    big.write_bytes(png_declaring(20_000, 20_000))
    fingerprinted = json.loads(run_cli("fingerprint", big, "-q").stdout)
    assert "--max-pixels" in fingerprinted["error"]["message"]
    matched = json.loads(run_cli("match", big, "--against", leak_db, "-q").stdout)["results"][0]
    assert matched["error"]["type"] == "ImageTooLarge" and "--max-pixels" not in matched["error"]["message"]
    deduplicated = json.loads(run_cli("dedup", tmp_path, "-q").stdout)["errors"][0]
    assert "--max-pixels" not in deduplicated["message"]


def test_the_symlink_summary_hints_at_follow_symlinks_only_when_not_given(tmp_path):
    folder = tmp_path / "loop"
    folder.mkdir()
    shutil.copyfile(NIKON, folder / "a.jpg")
    (folder / "again").symlink_to(folder)
    without = run_cli("fingerprint", folder)
    assert "skipped 1 symlinks (--follow-symlinks)" in without.stderr
    followed = run_cli("fingerprint", folder, "--follow-symlinks")
    assert "skipped 1 symlinks" in followed.stderr and "(--follow-symlinks)" not in followed.stderr


def test_lookup_of_a_fifo_says_what_it_is(tmp_path, leak_db):
    fifo = tmp_path / "tip.jpg"
    os.mkfifo(fifo)
    done = run_cli("lookup", fifo, "--db", leak_db, timeout=60)
    assert done.returncode == 3 and "not a regular file (a FIFO)" in done.stdout


def test_a_broken_leak_file_in_a_check_is_named_with_its_reason(tmp_path, leak_db):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "truncated.jpg").write_bytes(NIKON.read_bytes()[:3000])
    done = run_cli("check", drop, "--against", leak_db, "--fail-on", "unreadable")
    assert done.returncode == 1
    assert any(
        line.startswith(str(drop / "truncated.jpg")) and "unreadable" in line for line in done.stderr.splitlines()
    )
