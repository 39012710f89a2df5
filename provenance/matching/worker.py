"""The match task of a worker process: one query in, its result and its whole fingerprint out.

The worker opens the index read-only (it never writes; the parent process is the only writer)
and keeps one ``Matcher`` for its life, so reference features and the keypoint search are
built once per worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..captions import Query
from ..index import Index
from .matcher import Matcher
from .options import MatchOptions


def query_handler(config: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A handler matching ``payload["query"]`` (``Query.to_dict()``) against the index ``config["index"]``."""
    index = Index(config["index"], create=False, writable=False)
    matcher = Matcher(index, MatchOptions.from_dict(config.get("options") or {}))
    known = set(Query.__dataclass_fields__)

    def handle(payload: dict[str, Any]) -> dict[str, Any]:
        query = Query(**{k: v for k, v in payload["query"].items() if k in known})
        result = matcher.match_query(query)
        return {"result": result.to_dict(), "record": result.fingerprint.to_dict() if result.fingerprint else None}

    return handle
