"""The ``Fingerprint`` record, its options, and the functions that make one from one read of one file
(``extraction.py`` fills it)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .defaults import DEFAULT_MAX_IN_MEMORY, DEFAULT_MAX_PIXELS
from .errors import ProvenanceError
from .files import FileData, read_file

#: the value of every record's ``schema`` field; bumped when a field changes meaning
SCHEMA = "provenance/fingerprint-1"

_MAX_WARNINGS = 20


@dataclass(frozen=True)
class FingerprintOptions:
    """What to compute and the safety limits; the same for every file of a run."""

    #: add ``exif``: every EXIF tag exifread reads, MakerNotes included
    details: bool = False
    #: refuse images that declare more pixels than this, before decoding them
    max_pixels: int = DEFAULT_MAX_PIXELS
    #: decode JPEGs in full so pHash, dHash and aHash are bit-identical to imagehash's (slower on large JPEGs)
    exact_hashes: bool = False
    #: files above this many bytes are streamed instead of held in memory
    max_in_memory: int = DEFAULT_MAX_IN_MEMORY
    #: when False, a path that is a symlink is refused rather than read through
    follow_symlinks: bool = True
    #: how an ImageTooLarge error says the limit can be changed (empty where nothing can change it)
    max_pixels_hint: str = "raise it with --max-pixels"
    #: PEM trust anchors for Content Credentials signers (--c2pa-trust); empty: signers are not checked
    c2pa_trust: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FingerprintOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Fingerprint:
    """Everything provenance knows about one file. Field names are a public contract (docs/fingerprint.md)."""

    path: str | None
    size: int | None = None
    mtime: str | None = None
    kind: str = "other"
    format: str | None = None
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    orientation: int | None = None
    frames: int | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    name_digest: dict | None = None
    image_data_sha256: str | None = None
    hashes: dict[str, Any] = field(default_factory=dict)
    #: how pHash, dHash and aHash were made: "full" (from the full-resolution decode: imagehash's values,
    #: bit for bit) or "reduced" (a large JPEG decoded at reduced scale); None without hashes
    hash_input: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    exif: dict[str, Any] | None = None
    thumbnail: dict[str, Any] | None = None
    jpeg_quality: int | None = None
    #: what the file's bytes say about its history: JPEG structure, encoder, findings (docs/forensics.md)
    forensics: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record; ``exif`` appears only when details were asked for."""
        record: dict[str, Any] = {"schema": SCHEMA}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "exif" and value is None:
                continue
            record[f.name] = value
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Fingerprint:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})

    def set_error(self, error_type: str, message: str) -> None:
        self.error = {"type": error_type, "message": message}

    def note(self, stage: str, message: str, kind: str = "Warning") -> None:
        entry = {"stage": stage, "type": kind, "message": message}
        if len(self.warnings) < _MAX_WARNINGS and entry not in self.warnings:
            self.warnings.append(entry)


def fingerprint(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    options: FingerprintOptions | None = None,
    **option_values: Any,
) -> Fingerprint:
    """Fingerprint one file (a path) or one in-memory file (bytes, named by ``name``).

    Never raises for a bad file: the record's ``error`` says what went wrong and holds
    whatever could still be computed. Options may be given as ``options=`` or keywords
    (``fingerprint(path, details=True)``).
    """
    options = options or FingerprintOptions(**option_values)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        record = Fingerprint(path=name, size=len(data))
        from .extraction import fill

        fill(record, data, None, name, options)
        return record
    file = read_or_record(os.fspath(source), options)
    return file if isinstance(file, Fingerprint) else fingerprint_file(file, options)


def read_or_record(path: str, options: FingerprintOptions) -> FileData | Fingerprint:
    """The file read once (``files.read_file``), or, when it cannot be read, its error record."""
    try:
        return read_file(path, follow_symlinks=options.follow_symlinks, max_in_memory=options.max_in_memory)
    except ProvenanceError as exc:
        record = Fingerprint(path=path)
        record.set_error(exc.error_type, str(exc))
        return record


def fingerprint_file(file: FileData, options: FingerprintOptions | None = None) -> Fingerprint:
    """Fingerprint a file already read (``files.read_file``): callers that need the bytes again (the
    matcher decodes a query's pixels from them) read the file once."""
    options = options or FingerprintOptions()
    from .extraction import fill  # the decoder and the hash libraries: loaded with the first file

    record = Fingerprint(path=file.path, size=file.size, mtime=file.mtime)
    fill(record, file.data, file.streamed_digests, file.path, options)
    return record
