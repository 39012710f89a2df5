"""Output formats: one module per format, each a writer that takes record dicts one at a time."""

from __future__ import annotations

from typing import IO, Protocol

from . import csv as csv_format
from . import jsonl as jsonl_format


class RecordWriter(Protocol):
    def write(self, record: dict) -> None: ...

    def close(self) -> None: ...


WRITERS = {"jsonl": jsonl_format.JsonLinesWriter, "csv": csv_format.FingerprintCsvWriter}


def writer_for(fmt: str, stream: IO[str]) -> RecordWriter:
    """A writer of format ``fmt`` (``jsonl`` or ``csv``) on a text stream."""
    return WRITERS[fmt](stream)
