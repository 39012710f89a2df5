"""The few exception types users of the library see, and the error vocabulary of records.

Batch work never raises these for a single bad file: the file's record carries
``error = {"type": ..., "message": ...}`` instead, and ``type`` is one of
``ERROR_TYPES`` (documented in docs/fingerprint.md).
"""

from __future__ import annotations


class ProvenanceError(Exception):
    """Base class of the errors provenance raises on purpose."""

    #: the stable name written to ``error.type`` in records
    error_type = "Error"


class UnreadableFile(ProvenanceError):
    """The file could not be read (vanished, permission denied, I/O error, not a regular file)."""

    error_type = "UnreadableFile"


class UnidentifiedImage(ProvenanceError):
    """The file looks like an image (name or magic bytes) but no decoder recognises it."""

    error_type = "UnidentifiedImage"


class ImageTooLarge(ProvenanceError):
    """The image declares more pixels than the configured limit (decompression-bomb guard)."""

    error_type = "ImageTooLarge"


class CorruptImage(ProvenanceError):
    """The image was recognised but its pixel data could not be decoded (truncated, damaged)."""

    error_type = "CorruptImage"


class FingerprintTimeout(ProvenanceError):
    """Fingerprinting one file took longer than the per-file time limit."""

    error_type = "Timeout"


class WorkerCrashed(ProvenanceError):
    """The worker process died (for instance a decoder crashed) while handling the file."""

    error_type = "WorkerCrashed"


class IndexCorrupt(ProvenanceError):
    """The index file is not a provenance index, is damaged, or was made by a newer version."""

    error_type = "IndexCorrupt"


class IndexMismatch(ProvenanceError):
    """A request that contradicts how the index was built (other fingerprint options, unknown root)."""

    error_type = "IndexMismatch"


#: every value ``error.type`` can take in a record
ERROR_TYPES = (
    UnreadableFile.error_type,
    UnidentifiedImage.error_type,
    ImageTooLarge.error_type,
    CorruptImage.error_type,
    FingerprintTimeout.error_type,
    WorkerCrashed.error_type,
    "InternalError",
)
