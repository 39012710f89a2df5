"""The SQLite index file: schema, migrations, transactions; SQL lives here and nowhere else.

Layout (docs/index-db.md): ``roots`` are absolute folder paths; ``files`` are paths relative
to a root with the size and mtime seen when they were read; ``contents`` hold one
fingerprint per distinct ``sha256``, so identical bytes under two paths are stored once;
``hashes`` holds one row per content and hash kind (the kinds of ``hashes.py``, plugins
included); ``features`` the keypoint descriptors of the hard-case search. The database runs
in WAL mode, so readers never block the writer.

Nothing is written to a file before it is known to be a provenance index: a file is first
classified by its header and read through a read-only connection; only then is it opened
for writing (``writable=True``), switched to WAL and migrated. A read-only ``Store`` never
writes: it reads older schemas through temporary views, and works on a read-only file in a
read-only folder.
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .errors import IndexCorrupt

#: the schema this code reads and writes; older files are migrated forward when opened for writing
SCHEMA_VERSION = 4

#: per-file fields of a fingerprint record, kept in ``files``; the rest describes content
FILE_FIELDS = ("path", "mtime", "name_digest", "error")
#: digest columns of ``contents`` that ``lookup`` searches, by hex length
DIGEST_COLUMNS = {32: ("md5",), 40: ("sha1",), 64: ("sha256", "image_data_sha256")}

_SQLITE_HEADER = b"SQLite format 3\x00"

# The schema as the first release wrote it; later versions migrate from here (a new file too).
_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE roots (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    added TEXT NOT NULL
);
CREATE TABLE contents (
    sha256 TEXT PRIMARY KEY,
    md5 TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL,
    format TEXT,
    width INTEGER,
    height INTEGER,
    image_data_sha256 TEXT,
    phash TEXT, dhash TEXT, ahash TEXT, whash TEXT, colorhash TEXT, pdq TEXT,
    pdq_quality INTEGER,
    jpeg_quality INTEGER,
    make TEXT, model TEXT, software TEXT, datetime_original TEXT,
    complete INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX contents_md5 ON contents(md5);
CREATE INDEX contents_sha1 ON contents(sha1);
CREATE INDEX contents_image_data ON contents(image_data_sha256);
CREATE INDEX contents_phash ON contents(phash);
CREATE INDEX contents_dhash ON contents(dhash);
CREATE INDEX contents_ahash ON contents(ahash);
CREATE INDEX contents_whash ON contents(whash);
CREATE INDEX contents_colorhash ON contents(colorhash);
CREATE INDEX contents_pdq ON contents(pdq);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    root_id INTEGER NOT NULL REFERENCES roots(id),
    path TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    mtime TEXT,
    sha256 TEXT,
    name_digest TEXT,
    error_type TEXT,
    error_message TEXT,
    indexed_at TEXT NOT NULL,
    UNIQUE (root_id, path)
);
CREATE INDEX files_sha256 ON files(sha256);
CREATE INDEX files_error ON files(error_type) WHERE error_type IS NOT NULL;
"""

# v2: the keypoint descriptors the matcher's keypoint search uses
_SCHEMA_V2 = """
CREATE TABLE features (
    sha256 TEXT NOT NULL,
    method TEXT NOT NULL,
    data BLOB NOT NULL,
    computed TEXT NOT NULL,
    PRIMARY KEY (sha256, method)
);
"""

# v4: search structures built over all the contents' features (the keypoint search's list centres)
_SCHEMA_V4 = """
CREATE TABLE structures (
    name TEXT PRIMARY KEY,
    params TEXT NOT NULL,
    data BLOB NOT NULL,
    computed TEXT NOT NULL
);
"""

#: v1 and v2 kept one column per built-in hash kind in ``contents`` (the names are that old schema's)
_V2_HASH_COLUMNS = ("phash", "dhash", "ahash", "whash", "colorhash", "pdq")

_HASHES_TABLE = """
CREATE TABLE hashes (
    sha256 TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, sha256)
) WITHOUT ROWID;
CREATE INDEX hashes_value ON hashes(kind, value);
"""

_CONTENTS_V3 = """
CREATE TABLE contents_v3 (
    sha256 TEXT PRIMARY KEY,
    md5 TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL,
    format TEXT,
    width INTEGER,
    height INTEGER,
    image_data_sha256 TEXT,
    jpeg_quality INTEGER,
    make TEXT, model TEXT, software TEXT, datetime_original TEXT,
    complete INTEGER NOT NULL,
    record TEXT NOT NULL
);
"""

#: the record's own fields and the metadata fields kept in columns of ``contents``
_RECORD_COLUMNS = ("sha256", "md5", "sha1", "size", "kind", "format", "width", "height", "image_data_sha256",
                   "jpeg_quality")  # fmt: skip
_METADATA_COLUMNS = ("make", "model", "software", "datetime_original")
_CONTENT_COLUMNS = (*_RECORD_COLUMNS, *_METADATA_COLUMNS, "complete", "record")


def _migrate_to_v3(db: sqlite3.Connection) -> None:
    """v3: hashes move from one column per kind to a kind-keyed table, so a new kind (a plugin's)
    needs no new column."""
    _run_script(db, _HASHES_TABLE)
    for column in _V2_HASH_COLUMNS:
        db.execute(f"INSERT INTO hashes SELECT sha256, '{column}', {column} FROM contents WHERE {column} IS NOT NULL")
    _run_script(db, _CONTENTS_V3)
    db.execute(f"INSERT INTO contents_v3 SELECT {', '.join(_CONTENT_COLUMNS)} FROM contents")
    db.execute("DROP TABLE contents")
    db.execute("ALTER TABLE contents_v3 RENAME TO contents")
    _run_script(
        db,
        """
        CREATE INDEX contents_md5 ON contents(md5);
        CREATE INDEX contents_sha1 ON contents(sha1);
        CREATE INDEX contents_image_data ON contents(image_data_sha256);
    """,
    )


def _run_script(db: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


#: MIGRATIONS[n] takes a database from schema n-1 to n (0 is an empty file)
MIGRATIONS: dict[int, str | Callable[[sqlite3.Connection], None]] = {
    1: _SCHEMA_V1,
    2: _SCHEMA_V2,
    3: _migrate_to_v3,
    4: _SCHEMA_V4,
}

#: the columns each schema version's tables must have (a dropped table or column is damage)
_REQUIRED = {
    "meta": {"key", "value"},
    "roots": {"id", "path"},
    "contents": set(_CONTENT_COLUMNS),
    "files": {"id", "root_id", "path", "size", "mtime_ns", "mtime", "sha256", "name_digest", "error_type",
              "error_message"},
}  # fmt: skip
_REQUIRED_FROM = {
    "features": (2, {"sha256", "method", "data"}),
    "hashes": (3, {"sha256", "kind", "value"}),
    "structures": (4, {"name", "params", "data"}),
}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def encode_path(path: str) -> str | bytes:
    """A path as SQLite can hold it: text, or its raw bytes when the name is not valid UTF-8."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path)


def decode_path(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


@dataclass(frozen=True)
class FileRow:
    """What the index remembers of one path."""

    id: int
    root_id: int
    path: str
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    error_type: str | None


def _uri(path: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{urllib.parse.quote(os.path.abspath(path))}?{query}"


class Store:
    """One connection to an index file. Use as a context manager; writes go through ``begin``/``commit``.

    ``create``: make the file when it is missing (or empty); ``writable``: open for writing
    (refused before any work when the file or its folder cannot be written).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, writable: bool = True, timeout: float = 60.0
    ) -> None:
        self.path = os.fspath(path)
        self.writable = writable or create
        self._kinds: set[str] | None = None
        self.timeout = timeout
        version = self._classify(create)
        try:
            if self.writable:
                self._check_writable()
                self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                if self.schema_version() < SCHEMA_VERSION:
                    self._migrate()
            else:
                self.db = self._connect_read_only()
                if version < SCHEMA_VERSION:
                    self._compatibility_views(version)
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"{self.path}: not a provenance index or damaged ({exc})") from exc

    # opening without writing -------------------------------------------------------------------

    def _classify(self, create: bool) -> int:
        """The schema version of the file (0: to be created), decided without writing to it."""
        if not os.path.lexists(self.path):
            if not create:
                raise IndexCorrupt(f"{self.path}: no such index")
            return 0
        if not os.path.isfile(self.path):
            raise IndexCorrupt(f"{self.path}: not a regular file, not a provenance index")
        try:
            with open(self.path, "rb") as stream:
                header = stream.read(100)
        except OSError as exc:
            raise IndexCorrupt(f"{self.path}: cannot be read ({exc.strerror or exc})") from exc
        if not header:
            if not create:
                raise IndexCorrupt(f"{self.path}: an empty file, not a provenance index")
            return 0
        if not header.startswith(_SQLITE_HEADER):
            raise IndexCorrupt(f"{self.path}: not an SQLite file, so not a provenance index")
        try:
            probe = self._connect_read_only(header)
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"{self.path}: not a provenance index or damaged ({exc})") from exc
        try:
            return self._check_schema(probe)
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"{self.path}: not a provenance index or damaged ({exc})") from exc
        finally:
            probe.close()

    def _connect_read_only(self, header: bytes | None = None) -> sqlite3.Connection:
        """A connection that cannot write. A WAL file with no ``-wal`` beside it is read as immutable
        (nothing to recover, and no ``-shm`` to create); otherwise read-only, falling back to
        immutable where the folder is read-only and SQLite cannot make its shared-memory file."""
        if header is None:
            with open(self.path, "rb") as stream:
                header = stream.read(100)
        wal_mode = len(header) > 19 and header[18] == 2
        if wal_mode and not os.path.exists(self.path + "-wal"):
            return sqlite3.connect(_uri(self.path, mode="ro", immutable="1"), uri=True, isolation_level=None)
        db = sqlite3.connect(_uri(self.path, mode="ro"), uri=True, timeout=self.timeout, isolation_level=None)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
            return sqlite3.connect(_uri(self.path, mode="ro", immutable="1"), uri=True, isolation_level=None)

    def _check_schema(self, db: sqlite3.Connection) -> int:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version == 0:
            if tables:
                raise IndexCorrupt(f"{self.path}: an SQLite file, but not a provenance index")
            return 0
        if version > SCHEMA_VERSION:
            raise IndexCorrupt(
                f"{self.path}: made by a newer provenance (schema {version}; this one reads up to {SCHEMA_VERSION})"
            )
        if version < 0 or "meta" not in tables or "files" not in tables:
            raise IndexCorrupt(f"{self.path}: an SQLite file, but not a provenance index")
        required = dict(_REQUIRED)
        required.update({t: cols for t, (since, cols) in _REQUIRED_FROM.items() if version >= since})
        if version < 3:  # the hash columns were in contents then
            required["contents"] = required["contents"] | set(_V2_HASH_COLUMNS)
        for table, columns in required.items():
            if table not in tables:
                raise IndexCorrupt(f"{self.path}: a damaged provenance index (table {table!r} is missing)")
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if not columns <= have:
                missing = ", ".join(sorted(columns - have))
                raise IndexCorrupt(f"{self.path}: a damaged provenance index (table {table!r} lacks {missing})")
        stated = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if stated is not None and stated[0] != str(version):
            raise IndexCorrupt(
                f"{self.path}: a damaged provenance index (its meta says schema {stated[0]!r}, "
                f"its header says {version})"
            )
        return version

    def _check_writable(self) -> None:
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise IndexCorrupt(f"{self.path}: the folder {folder} does not exist")
        if os.path.exists(self.path) and not os.access(self.path, os.W_OK):
            raise IndexCorrupt(f"{self.path}: the index file is read-only (this command writes to it)")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise IndexCorrupt(f"{self.path}: its folder is not writable (SQLite writes its journal beside it)")

    def _compatibility_views(self, version: int) -> None:
        """Read an older schema without changing it: its hash columns through a temporary ``hashes``
        view, empty temporary ``features`` (schema 1) and ``structures`` (before 4) tables (temporary
        objects live in memory)."""
        if version < 3:
            union = " UNION ALL ".join(
                f"SELECT sha256, '{column}' AS kind, {column} AS value FROM main.contents WHERE {column} IS NOT NULL"
                for column in _V2_HASH_COLUMNS
            )
            self.db.execute(f"CREATE TEMP VIEW hashes AS {union}")
        if version < 2:
            _run_script(self.db, _SCHEMA_V2.replace("CREATE TABLE", "CREATE TEMP TABLE"))
        if version < 4:
            _run_script(self.db, _SCHEMA_V4.replace("CREATE TABLE", "CREATE TEMP TABLE"))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # schema ------------------------------------------------------------------------------------

    def _migrate(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            # another process may have migrated while we waited for the lock
            version = self.schema_version()
            for target in range(version + 1, SCHEMA_VERSION + 1):
                step = MIGRATIONS[target]
                if callable(step):
                    step(self.db)
                else:
                    _run_script(self.db, step)
                if target == 1:
                    self.db.execute("INSERT INTO meta VALUES ('created', ?)", (now_iso(),))
                self.db.execute(f"PRAGMA user_version = {target}")
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    # transactions ------------------------------------------------------------------------------

    def begin(self) -> None:
        if not self.writable:
            raise IndexCorrupt(f"{self.path}: opened read-only")
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def data_version(self) -> int:
        """Changes whenever any connection commits; cached search structures compare it."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    # meta and roots ----------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def roots(self) -> dict[int, str]:
        return {rid: decode_path(p) for rid, p in self.db.execute("SELECT id, path FROM roots ORDER BY id")}

    def add_root(self, path: str) -> int:
        cursor = self.db.execute("INSERT INTO roots (path, added) VALUES (?, ?)", (encode_path(path), now_iso()))
        return int(cursor.lastrowid or 0)

    def absorb_root(self, inner_id: int, outer_id: int, prefix: str) -> None:
        """Move the files of root ``inner_id`` under ``outer_id`` (which contains it at ``prefix``)."""
        for fid, path in self.db.execute("SELECT id, path FROM files WHERE root_id = ?", (inner_id,)).fetchall():
            self.db.execute(
                "UPDATE files SET root_id = ?, path = ? WHERE id = ?",
                (outer_id, encode_path(prefix + decode_path(path)), fid),
            )
        self.db.execute("DELETE FROM roots WHERE id = ?", (inner_id,))

    def move_root(self, root_id: int, new_path: str) -> None:
        self.db.execute("UPDATE roots SET path = ? WHERE id = ?", (encode_path(new_path), root_id))

    # files and contents ------------------------------------------------------------------------

    def get_file(self, root_id: int, path: str) -> FileRow | None:
        row = self.db.execute(
            "SELECT id, root_id, path, size, mtime_ns, sha256, error_type FROM files WHERE root_id = ? AND path = ?",
            (root_id, encode_path(path)),
        ).fetchone()
        return None if row is None else FileRow(row[0], row[1], decode_path(row[2]), *row[3:])

    def put(
        self, root_id: int, path: str, mtime_ns: int | None, record: dict[str, Any], hash_fields: Iterable[str] = ()
    ) -> None:
        """Store one fingerprint record for ``path`` (its content first, then the file row).

        ``hash_fields`` names the keys of ``record["hashes"]`` that are hash values (one row each
        in ``hashes``); the others (PDQ's quality) stay in the record only.
        """
        sha256 = record.get("sha256")
        if sha256:
            self._put_content(record, hash_fields)
        error = record.get("error") or {}
        name = record.get("name_digest")
        self.db.execute(
            "INSERT INTO files (root_id, path, size, mtime_ns, mtime, sha256, name_digest, error_type,"
            " error_message, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (root_id, path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,"
            " mtime = excluded.mtime, sha256 = excluded.sha256, name_digest = excluded.name_digest,"
            " error_type = excluded.error_type, error_message = excluded.error_message,"
            " indexed_at = excluded.indexed_at",
            (
                root_id,
                encode_path(path),
                record.get("size"),
                mtime_ns,
                record.get("mtime"),
                sha256,
                json.dumps(name) if name is not None else None,
                error.get("type"),
                error.get("message"),
                now_iso(),
            ),
        )

    def _put_content(self, record: dict[str, Any], hash_fields: Iterable[str]) -> None:
        sha256 = record["sha256"]
        complete = int(record.get("error") is None)
        known = self.db.execute("SELECT complete FROM contents WHERE sha256 = ?", (sha256,)).fetchone()
        if known is not None and known[0] > complete:
            return  # a complete fingerprint replaces one from a failed read of the same bytes, never the reverse
        metadata = record.get("metadata") or {}
        content = {k: v for k, v in record.items() if k not in FILE_FIELDS}
        values = {
            **{k: record.get(k) for k in _RECORD_COLUMNS},
            **{k: metadata.get(k) for k in _METADATA_COLUMNS},
            "complete": complete,
            "record": json.dumps(content, separators=(",", ":")),
        }
        columns = ", ".join(_CONTENT_COLUMNS)
        self.db.execute(
            f"INSERT OR REPLACE INTO contents ({columns}) VALUES ({', '.join('?' * len(_CONTENT_COLUMNS))})",
            [values[c] for c in _CONTENT_COLUMNS],
        )
        stored_kinds = self._stored_kinds()
        if known is not None:  # a new content has no hash rows to replace
            # by the primary key (kind, sha256): a WHERE on sha256 alone scans every hash row, which
            # made each write cost O(index size) (about 40 files a second at 50,000 images)
            self.db.executemany("DELETE FROM hashes WHERE kind = ? AND sha256 = ?", [(k, sha256) for k in stored_kinds])
        hashes = record.get("hashes") or {}
        rows = [(sha256, kind, hashes[kind]) for kind in hash_fields if isinstance(hashes.get(kind), str)]
        self.db.executemany("INSERT INTO hashes VALUES (?, ?, ?)", rows)
        stored_kinds.update(kind for _, kind, _ in rows)

    def _stored_kinds(self) -> set[str]:
        """Every hash kind the hashes table holds rows of (read once per connection, then kept up to
        date by this connection's writes; the index has one writer)."""
        if self._kinds is None:
            self._kinds = {kind for (kind,) in self.db.execute("SELECT DISTINCT kind FROM hashes")}
        return self._kinds

    def delete_files(self, ids: Iterable[int]) -> int:
        count = 0
        for fid in ids:
            count += self.db.execute("DELETE FROM files WHERE id = ?", (fid,)).rowcount
        return count

    def delete_orphan_contents(self) -> int:
        """Forget contents no file points to any more (a changed file's old bytes), their hashes and features."""
        removed = self.db.execute(
            "DELETE FROM contents WHERE sha256 NOT IN (SELECT sha256 FROM files WHERE sha256 IS NOT NULL)"
        ).rowcount
        self.db.execute("DELETE FROM hashes WHERE sha256 NOT IN (SELECT sha256 FROM contents)")
        self.db.execute("DELETE FROM features WHERE sha256 NOT IN (SELECT sha256 FROM contents)")
        return removed

    def features(self, method: str) -> dict[str, bytes]:
        """Stored feature blobs of ``method`` by content."""
        return dict(self.db.execute("SELECT sha256, data FROM features WHERE method = ?", (method,)))

    def contents_without_features(self, method: str) -> set[str]:
        """Image contents with hashes (they decoded) and no feature blob of ``method``."""
        return {
            sha
            for (sha,) in self.db.execute(
                "SELECT c.sha256 FROM contents c WHERE c.kind = 'image'"
                # uncorrelated: a subquery on sha256 alone would scan every hash row for each content
                " AND c.sha256 IN (SELECT sha256 FROM hashes)"
                " AND NOT EXISTS (SELECT 1 FROM features f WHERE f.sha256 = c.sha256 AND f.method = ?)",
                (method,),
            )
        }

    def put_features(self, method: str, rows: list[tuple[str, bytes]]) -> None:
        """Store feature blobs of ``method`` (in the caller's transaction)."""
        self.db.executemany(
            "INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?)",
            [(sha, method, data, now_iso()) for sha, data in rows],
        )

    def feature_lengths(self, method: str) -> dict[str, int]:
        """The byte length of each content's feature blob of ``method`` (without reading the blobs)."""
        return dict(self.db.execute("SELECT sha256, length(data) FROM features WHERE method = ?", (method,)))

    def features_lacking(self, method: str, other: str) -> list[str]:
        """Contents with a ``method`` feature blob and none of ``other``."""
        rows = self.db.execute(
            "SELECT f.sha256 FROM features f WHERE f.method = ? AND NOT EXISTS"
            " (SELECT 1 FROM features g WHERE g.sha256 = f.sha256 AND g.method = ?) ORDER BY f.sha256",
            (method, other),
        )
        return [sha for (sha,) in rows]

    def features_of(self, method: str, shas: list[str]) -> dict[str, bytes]:
        """The feature blobs of ``method`` of these contents (those that have one)."""
        found: dict[str, bytes] = {}
        for start in range(0, len(shas), 500):  # under SQLite's limit on bound parameters
            chunk = shas[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found.update(
                self.db.execute(
                    f"SELECT sha256, data FROM features WHERE method = ? AND sha256 IN ({marks})", (method, *chunk)
                )
            )
        return found

    def feature_methods(self, prefix: str) -> set[str]:
        """The feature methods stored whose names start with ``prefix``."""
        rows = self.db.execute(
            "SELECT DISTINCT method FROM features WHERE substr(method, 1, ?) = ?", (len(prefix), prefix)
        )
        return {method for (method,) in rows}

    def delete_features(self, method: str) -> None:
        """Forget every feature blob of ``method`` (in the caller's transaction)."""
        self.db.execute("DELETE FROM features WHERE method = ?", (method,))

    def structure(self, name: str) -> tuple[dict[str, Any], bytes] | None:
        """The stored search structure ``name``: its parameters and its data."""
        row = self.db.execute("SELECT params, data FROM structures WHERE name = ?", (name,)).fetchone()
        return None if row is None else (json.loads(row[0]), bytes(row[1]))

    def put_structure(self, name: str, params: dict[str, Any], data: bytes) -> None:
        """Store (or replace) search structure ``name`` (in the caller's transaction)."""
        self.db.execute(
            "INSERT OR REPLACE INTO structures VALUES (?, ?, ?, ?)", (name, json.dumps(params), data, now_iso())
        )

    def iter_file_rows(self, root_id: int | None = None) -> Iterator[FileRow]:
        query = "SELECT id, root_id, path, size, mtime_ns, sha256, error_type FROM files"
        args: tuple = ()
        if root_id is not None:
            query += " WHERE root_id = ?"
            args = (root_id,)
        for row in self.db.execute(query + " ORDER BY root_id, path", args):
            yield FileRow(row[0], row[1], decode_path(row[2]), *row[3:])

    _RECORD_QUERY = (
        "SELECT f.root_id, f.path, f.mtime, f.name_digest, f.error_type, f.error_message, f.size, c.record"
        " FROM files f LEFT JOIN contents c ON c.sha256 = f.sha256"
    )

    def iter_records(self, where: str = "", args: tuple = ()) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(root id, relative path, fingerprint record) for each file, in path order."""
        query = self._RECORD_QUERY + (f" WHERE {where}" if where else "") + " ORDER BY f.root_id, f.path"
        for root_id, path, mtime, name, etype, emessage, size, content in self.db.execute(query, args):
            record: dict[str, Any] = json.loads(content) if content else {"kind": "other", "size": size}
            record["mtime"] = mtime
            record["name_digest"] = json.loads(name) if name else None
            record["error"] = {"type": etype, "message": emessage} if etype else None
            yield root_id, decode_path(path), record

    def records_with(self, column: str, value: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """The files whose digest ``column`` equals ``value``."""
        if column not in {c for cols in DIGEST_COLUMNS.values() for c in cols}:
            raise ValueError(f"not a digest column: {column}")
        return self.iter_records(f"c.{column} = ?", (value,))

    def records_with_hash(self, kind: str, value: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """The files whose hash of ``kind`` equals ``value``."""
        return self.iter_records("c.sha256 IN (SELECT sha256 FROM hashes WHERE kind = ? AND value = ?)", (kind, value))

    def hash_column(self, kind: str) -> tuple[list[str], list[str]]:
        """(sha256s, hex values) of every content with a hash of ``kind``, by sha256."""
        shas: list[str] = []
        values: list[str] = []
        for sha, value in self.db.execute("SELECT sha256, value FROM hashes WHERE kind = ? ORDER BY sha256", (kind,)):
            shas.append(sha)
            values.append(value)
        return shas, values

    def content_hashes(self, sha256s: list[str]) -> dict[str, dict[str, Any]]:
        """Each content's ``hashes`` as its record holds them (every kind, plugins' and PDQ's quality too)."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(sha256s), 500):
            chunk = sha256s[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for sha, hashes in self.db.execute(
                f"SELECT sha256, json_extract(record, '$.hashes') FROM contents WHERE sha256 IN ({marks})", chunk
            ):
                out[sha] = json.loads(hashes) if hashes else {}
        return out

    def paths_of(self, sha256s: list[str]) -> dict[str, list[tuple[int, str]]]:
        """(root id, relative path) of every file holding each content."""
        out: dict[str, list[tuple[int, str]]] = {}
        for start in range(0, len(sha256s), 500):
            chunk = sha256s[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for sha, root_id, path in self.db.execute(
                f"SELECT sha256, root_id, path FROM files WHERE sha256 IN ({marks}) ORDER BY root_id, path", chunk
            ):
                out.setdefault(sha, []).append((root_id, decode_path(path)))
        return out

    def image_files(self) -> Iterator[tuple[str, int, str]]:
        """(sha256, root id, relative path) of every file holding an image, by content then path."""
        for sha, root_id, path in self.db.execute(
            "SELECT c.sha256, f.root_id, f.path FROM contents c JOIN files f ON f.sha256 = c.sha256 "
            "WHERE c.kind = 'image' ORDER BY c.sha256, f.root_id, f.path"
        ):
            yield sha, root_id, decode_path(path)

    def count_files(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM files").fetchone()[0])

    def content_sha256s(self) -> Iterator[str]:
        """The SHA-256 of every stored content, in byte order."""
        for (sha256,) in self.db.execute("SELECT sha256 FROM contents ORDER BY sha256"):
            yield sha256

    def count_contents(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM contents").fetchone()[0])

    def _finding_counts(self) -> dict[str, int]:
        """Files per forensics finding code (records made before the block have none)."""
        try:
            return dict(
                self.db.execute(
                    "SELECT code, count(*) FROM (SELECT DISTINCT f.id, json_extract(j.value, '$.code') AS code"
                    " FROM files f JOIN contents c ON c.sha256 = f.sha256,"
                    " json_each(c.record, '$.forensics.findings') j) GROUP BY code ORDER BY 2 DESC, 1"
                )
            )
        except sqlite3.OperationalError:  # an old schema without the record column
            return {}

    def stats(self) -> dict[str, Any]:
        """Counts and summaries over the whole index (paths still relative: ``error_rows``, ``mismatch_rows``)."""

        def one(query: str) -> Any:
            return self.db.execute(query).fetchone()[0]

        kinds = dict(
            self.db.execute(
                "SELECT c.kind, count(*) FROM files f JOIN contents c ON c.sha256 = f.sha256 GROUP BY c.kind"
            )
        )
        return {
            "schema_version": self.schema_version(),
            "created": self.get_meta("created"),
            "files": one("SELECT count(*) FROM files"),
            "contents": one("SELECT count(*) FROM contents"),
            "images": kinds.get("image", 0),
            "other_files": kinds.get("other", 0),
            "duplicate_files": one(
                "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM files"
                " WHERE sha256 IS NOT NULL GROUP BY sha256)"
            ),
            "formats": dict(
                self.db.execute(
                    "SELECT coalesce(c.format, '(not an image)'), count(*) FROM files f"
                    " JOIN contents c ON c.sha256 = f.sha256 GROUP BY 1 ORDER BY 2 DESC, 1"
                )
            ),
            "cameras": [
                {"make": make, "model": model, "files": n}
                for make, model, n in self.db.execute(
                    "SELECT c.make, c.model, count(*) FROM files f JOIN contents c ON c.sha256 = f.sha256"
                    " WHERE c.make IS NOT NULL OR c.model IS NOT NULL GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
                )
            ],
            "datetime_original": dict(
                zip(
                    ("first", "last", "files"),
                    self.db.execute(
                        "SELECT min(c.datetime_original), max(c.datetime_original), count(c.datetime_original)"
                        " FROM files f JOIN contents c ON c.sha256 = f.sha256"
                    ).fetchone(),
                )
            ),
            "findings": self._finding_counts(),
            "error_types": dict(
                self.db.execute(
                    "SELECT error_type, count(*) FROM files WHERE error_type IS NOT NULL GROUP BY 1 ORDER BY 2 DESC"
                )
            ),
            "error_rows": [
                (r, decode_path(p), t, m)
                for r, p, t, m in self.db.execute(
                    "SELECT root_id, path, error_type, error_message FROM files WHERE error_type IS NOT NULL"
                    " ORDER BY root_id, path"
                )
            ],
            "mismatch_rows": [
                (r, decode_path(p))
                for r, p in self.db.execute(
                    "SELECT root_id, path FROM files WHERE json_extract(name_digest, '$.matches') = 0"
                    " ORDER BY root_id, path"
                )
            ],
        }

    def integrity_check(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])
