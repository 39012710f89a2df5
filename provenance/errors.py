"""The exception types the library raises on purpose, the error vocabulary of records, and exit codes.

The library raises only ``ProvenanceError`` subclasses for conditions a user can cause (a
damaged index, a bad policy, a digest that is not hex, an output that cannot be written);
anything else escaping it is a bug. Batch work never raises for a single bad file: the
file's record carries ``error = {"type": ..., "message": ...}`` instead, and ``type`` is
one of ``ERROR_TYPES`` (documented in docs/fingerprint.md).
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What the ``provenance`` command's exit status means (docs/usage.md, docs/ci.md)."""

    OK = 0
    #: ``check`` only: the policy is violated
    POLICY_VIOLATED = 1
    #: a usage or configuration error: bad options, a policy, index or output that cannot be used
    USAGE = 2
    #: the run completed, but some inputs could not be read (their records say why)
    SOME_FAILED = 3
    #: interrupted by Ctrl-C (128 + SIGINT, as shells report it)
    INTERRUPTED = 130


class ProvenanceError(Exception):
    """Base class of the errors provenance raises on purpose; the CLI prints them as one line, exit 2."""

    #: the stable name written to ``error.type`` in records
    error_type = "Error"


class UsageError(ProvenanceError, ValueError):
    """An argument the library cannot use: a digest that is not hex, contradicting options (also a
    ``ValueError``, as Python callers expect of a bad argument)."""

    error_type = "UsageError"


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
    """Work on one file took longer than the per-file time limit."""

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


class PolicyError(ProvenanceError):
    """A policy file or option that cannot be used."""

    error_type = "PolicyError"


class InputListError(ProvenanceError):
    """A page or manifest listing queries that cannot be read as one (not UTF-8, not CSV or JSON, too deep)."""

    error_type = "InputListError"


class ReportError(ProvenanceError):
    """A saved report that cannot be re-rendered (not a provenance report, hand-edited into wrong types)."""

    error_type = "ReportError"


class ClusterError(ProvenanceError):
    """A Dask cluster that cannot be used: not installed, the scheduler unreachable, the connection lost."""

    error_type = "ClusterError"


class OutputError(ProvenanceError):
    """An output file that cannot be written (a missing folder, a directory, no permission)."""

    error_type = "OutputError"


#: every value ``error.type`` can take in a fingerprint record
ERROR_TYPES = (
    UnreadableFile.error_type,
    UnidentifiedImage.error_type,
    ImageTooLarge.error_type,
    CorruptImage.error_type,
    FingerprintTimeout.error_type,
    WorkerCrashed.error_type,
    "InternalError",
)
