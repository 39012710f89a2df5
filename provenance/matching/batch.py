"""Matching many queries: worker processes per query, results streaming back in input order.

Every query is matched in a worker process (``matching/worker.py``), so a file that crashes or
hangs a decoder costs its own result only; the parent orchestrates and never decodes a query.
When a worker fails on a query, the parent still reports what the file's digests prove (an
exact or metadata-only copy) from a fingerprint that reads only the bytes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import runinfo
from ..captions import Query
from ..defaults import DEFAULT_TIMEOUT
from ..files import is_folder
from ..fingerprint import Fingerprint
from ..index import Index
from ..workers import WORKER_COMMAND, fingerprint_error_record, open_pool
from .matcher import Matcher
from .options import MatchOptions
from .records import MatchReport, QueryResult

if TYPE_CHECKING:
    from ..cluster import Scheduler


def iter_match(
    queries: Iterable[Query],
    index: Index,
    options: MatchOptions | None = None,
    *,
    jobs: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT,
    debug: bool = False,
    worker_command: Sequence[str] = WORKER_COMMAND,
    scheduler: Scheduler | None = None,
) -> Iterator[QueryResult]:
    """Match queries in order, yielding each result as soon as it is known.

    ``jobs`` worker processes match the queries (``jobs=0``: in this process, with no isolation
    from crashing decoders and no time limit); with a ``scheduler``, the workers of that Dask
    cluster do (``cluster.py``), each opening the index at the same path, read-only.
    """
    options = options or MatchOptions()
    matcher = Matcher(index, options)
    if jobs <= 0 and scheduler is None:
        for query in queries:
            yield matcher.match_query(query)
        return
    by_payload: dict[int, Query] = {}

    def payloads() -> Iterator[dict[str, Any]]:
        for number, query in enumerate(queries):
            by_payload[number] = query
            yield {"number": number, "query": query.to_dict()}

    def failed(payload: dict[str, Any], error_type: str, message: str) -> dict[str, Any]:
        query = by_payload[payload["number"]]
        record = fingerprint_error_record(query.path, error_type, message)
        result = matcher.match_query(query, record, None)  # digests only: nothing is decoded here
        return {"result": result.to_dict(), "record": record.to_dict()}

    config = {"index": os.path.abspath(index.path), "options": options.to_dict()}
    with open_pool(
        "match",
        config,
        jobs,
        failed=failed,
        timeout=timeout,
        debug=debug,
        worker_command=worker_command,
        scheduler=scheduler,
    ) as pool:
        for number, reply in enumerate(pool.map(payloads())):
            by_payload.pop(number, None)  # replies come in input order
            record = Fingerprint.from_dict(reply["record"]) if reply.get("record") else None
            yield QueryResult.from_dict(reply["result"], record)


def match(
    queries: Iterable[Query],
    index: Index,
    options: MatchOptions | None = None,
    *,
    jobs: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT,
    progress: Callable[[QueryResult], None] | None = None,
    against: str | None = None,
    debug: bool = False,
    worker_command: Sequence[str] = WORKER_COMMAND,
    scheduler: Scheduler | None = None,
) -> MatchReport:
    """Match every query against ``index`` (see ``iter_match``); ``progress`` is called after each one.

    ``against`` is how the user named the references (a folder indexed on the fly), for the run block.
    """
    options = options or MatchOptions()
    started = runinfo.now()
    results = []
    for result in iter_match(
        queries,
        index,
        options,
        jobs=jobs,
        timeout=timeout,
        debug=debug,
        worker_command=worker_command,
        scheduler=scheduler,
    ):
        results.append(result)
        if progress:
            progress(result)
    return MatchReport(
        results,
        runinfo.run_block(
            started=started,
            parameters=options.to_dict(),
            inputs=query_inputs(results),
            index=runinfo.index_facts(index, against),
            hash_input=query_hash_inputs(results, index),
        ),
    )


def query_hash_inputs(results: list[QueryResult], index: Index) -> dict[str, Any]:
    """The run block's ``hash_input``: queries are hashed as the index's references were."""
    counts = Counter(r.fingerprint.hash_input for r in results if r.fingerprint is not None)
    return runinfo.hash_inputs(counts, index.options.exact_hashes)


def query_inputs(results: list[QueryResult], role: str = "query") -> list[dict[str, Any]]:
    """Every query file (with ``role``) and every page or manifest that listed queries, with its SHA-256."""
    inputs = []
    listings: dict[str, str] = {}
    for result in results:
        inputs.append(
            {
                "path": result.query.path,
                "role": role,
                "sha256": result.fingerprint.sha256 if result.fingerprint else None,
            }
        )
        if result.query.listed_in:
            page = result.query.listed_in.lower().endswith((".html", ".htm", ".xhtml"))
            listings.setdefault(result.query.listed_in, "page" if page else "manifest")
    for path, role in listings.items():
        inputs.append({"path": path, "role": role, "sha256": runinfo.file_sha256(path)})
    return inputs


@contextlib.contextmanager
def open_references(
    against: str,
    *,
    jobs: int | None = None,
    progress: Callable[[str, str], None] | None = None,
    debug: bool = False,
    scheduler: Scheduler | None = None,
) -> Iterator[Index]:
    """The reference index: ``against`` itself (read-only) when it is an index file, else a temporary
    index of that folder (fingerprinted by the ``scheduler``'s cluster when one is given)."""
    if not is_folder(against):
        with Index(against, create=False, writable=False) as index:
            yield index
        return
    with tempfile.TemporaryDirectory(prefix="provenance-refs-") as scratch:
        with Index(os.path.join(scratch, "references.db")) as index:
            index.add([against], jobs=jobs, progress=progress, debug=debug, scheduler=scheduler)
            yield index
