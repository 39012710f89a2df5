"""JSON Lines: one fingerprint record per line, UTF-8, flushed as it goes so a long run can be followed."""

from __future__ import annotations

import json
from typing import IO, Any

from . import RecordFormat


class JsonLinesWriter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, record: dict[str, Any]) -> None:
        # ensure_ascii keeps undecodable file names (lone surrogates) valid and reversible
        self.stream.write(json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


RECORD_FORMAT = RecordFormat("jsonl", "JSON Lines (every field)", JsonLinesWriter, order=10)
