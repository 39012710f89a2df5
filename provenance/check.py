"""``provenance check``: a new drop of files against an index, judged by a policy (for CI).

Each query of the drop (files and folders, saved pages, manifests) is matched against the
index (``matching``), the drop is deduplicated within itself (``dedup``), and every rule of
``rules.RULES`` is evaluated on every file. A finding whose rule the policy fails on is a violation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import runinfo
from .captions import Query, gather_queries
from .dedup import dedup
from .defaults import DEFAULT_TIMEOUT
from .errors import ExitCode
from .files import WalkError, absolute, folder_of, is_folder
from .index import Index
from .indexer import AddSummary
from .matching.batch import iter_match, query_hash_inputs, query_inputs
from .matching.records import VERDICTS, QueryResult
from .policy import Policy
from .rules import FileFacts, evaluate

if TYPE_CHECKING:
    from .cluster import Scheduler

SCHEMA = "provenance/check-1"


@dataclass
class Finding:
    """One rule that holds for one file."""

    path: str
    rule: str
    detail: str
    #: whether the policy fails on this rule
    violation: bool

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rule": self.rule, "detail": self.detail, "violation": self.violation}


@dataclass
class CheckReport:
    """The drop's match results, the findings, and whether the policy holds."""

    policy: Policy
    results: list[QueryResult]
    findings: list[Finding]
    ignored: list[str]
    run: dict[str, Any]
    index_update: AddSummary | None = None
    walk_errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.violation]

    @property
    def unreadable(self) -> list[str]:
        return [f.path for f in self.findings if f.rule == "unreadable"]

    @property
    def exit_status(self) -> ExitCode:
        """0 the policy holds; 1 it is violated; 3 it holds but some files could not be read."""
        if self.violations:
            return ExitCode.POLICY_VIOLATED
        return ExitCode.SOME_FAILED if self.unreadable else ExitCode.OK

    @property
    def records(self) -> list[Any]:
        """The fingerprints made for the check (what ``--update-index`` stores)."""
        return [r.fingerprint for r in self.results if r.fingerprint]

    def to_dict(self) -> dict[str, Any]:
        counts = {v: 0 for v in VERDICTS}
        for result in self.results:
            counts[result.verdict] += 1
        by_rule: dict[str, int] = {}
        for finding in self.findings:
            by_rule[finding.rule] = by_rule.get(finding.rule, 0) + 1
        return {
            "schema": SCHEMA, "run": self.run, "policy": self.policy.to_dict(),
            "summary": {"files": len(self.results), "queries": len(self.results), "verdicts": counts,
                        "errors": len(self.unreadable), "ignored": len(self.ignored), "findings": by_rule,
                        "violations": len(self.violations), "exit_status": int(self.exit_status),
                        "index_updated": self.index_update.to_dict() if self.index_update else None},
            "violations": [f.to_dict() for f in self.violations],
            "findings": [f.to_dict() for f in self.findings],
            "ignored": self.ignored,
            "results": [r.to_dict() for r in self.results],
        }  # fmt: skip


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether a path (relative to the checked folder) matches one of a policy's ``ignore`` globs."""
    relative = relative.replace(os.sep, "/")
    name = relative.rsplit("/", 1)[-1]
    for pattern in patterns:
        if fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(name, pattern):
            return True
        if pattern.endswith("/**") and (relative + "/").startswith(pattern[:-2]):
            return True
    return False


def split_ignored(queries: Iterable[Query], roots: Iterable[str], policy: Policy) -> tuple[list[Query], list[str]]:
    """(queries to check, paths the policy leaves out); a path is matched relative to the folder it was
    found in (a given folder, or the folder of the page or manifest that listed it)."""
    given = [absolute(r) if is_folder(r) else folder_of(absolute(r)) for r in roots]
    checked: list[Query] = []
    left_out: list[str] = []
    for query in queries:
        path = absolute(query.path) if query.path else ""
        if query.listed_in:
            root = os.path.dirname(os.path.abspath(query.listed_in))
        else:
            inside = [r for r in given if path == r or path.startswith(r.rstrip(os.sep) + os.sep)]
            root = max(inside, key=len) if inside else folder_of(path)
        relative = os.path.relpath(path, root) if path else query.path
        (left_out.append(query.path) if query.path and ignored(relative, policy.ignore) else checked.append(query))
    return checked, left_out


def check(
    paths: Iterable[str],
    index: Index,
    policy: Policy | None = None,
    *,
    listings: Mapping[str, Iterable[str]] | None = None,
    follow_symlinks: bool = False,
    include_hidden: bool = False,
    jobs: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT,
    update_index: bool = False,
    progress: Callable[[QueryResult], None] | None = None,
    against: str | None = None,
    debug: bool = False,
    scheduler: Scheduler | None = None,
) -> CheckReport:
    """Check the files under ``paths`` and the queries of ``listings`` (saved pages and manifests,
    as ``captions.gather_queries`` takes them) against ``index`` by ``policy``.

    ``ignore`` patterns are relative to the folder a file was found in. With ``update_index``,
    the drop is added to the index afterwards, in one transaction, when the policy holds (exit
    status 0 or 3); a violated policy leaves the index as it was. (The command line writes its
    reports inside ``index_update`` instead, so a failed output leaves the index as it was too.)
    """
    paths = list(paths)
    gathered = gather_queries(paths, listings, follow_symlinks=follow_symlinks, include_hidden=include_hidden)
    report = check_queries(
        gathered.queries,
        index,
        policy,
        roots=paths,
        walk_errors=gathered.walk_errors,
        jobs=jobs,
        timeout=timeout,
        progress=progress,
        against=against,
        debug=debug,
        scheduler=scheduler,
    )
    if update_index:
        with index_update(index, report):
            pass
    return report


def check_queries(
    queries: Iterable[Query],
    index: Index,
    policy: Policy | None = None,
    *,
    roots: Iterable[str] = (),
    walk_errors: Iterable[WalkError] = (),
    jobs: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT,
    progress: Callable[[QueryResult], None] | None = None,
    against: str | None = None,
    debug: bool = False,
    scheduler: Scheduler | None = None,
) -> CheckReport:
    """Check queries already gathered; ``roots`` are the folders and files the user named."""
    policy = policy or Policy()
    started = runinfo.now()
    roots = list(roots)
    to_check, left_out = split_ignored(queries, roots, policy)
    walk_errors = list(walk_errors)
    # the queries are read with the index's pixel limit, as its references were
    options = dataclasses.replace(policy.match, max_pixels=index.options.max_pixels)
    index_facts = runinfo.index_facts(index, against)  # before any update: what the drop was checked against
    results = []
    for result in iter_match(to_check, index, options, jobs=jobs, timeout=timeout, debug=debug, scheduler=scheduler):
        results.append(result)
        if progress:
            progress(result)
    records = [r.fingerprint for r in results if r.fingerprint]
    in_drop = dedup(records, policy.dedup).to_dict()
    copies = {
        m["path"]: (cluster["original"], m["relation"])
        for cluster in in_drop["clusters"]
        for m in cluster["members"]
        if m["role"] == "copy"
    }
    findings = [
        Finding(r.query.path, rule, detail, rule in policy.fail_on)
        for r in results
        for rule, detail in evaluate(FileFacts(r.query.path, r, r.fingerprint, copies, policy))
    ]
    findings += [Finding(e.path, "unreadable", e.message, "unreadable" in policy.fail_on) for e in walk_errors]
    run = runinfo.run_block(
        started=started,
        index=index_facts,
        parameters={
            "policy": policy.to_dict(),
            "match": options.to_dict(),
            "dedup": policy.dedup.to_dict(),
            "paths": roots,
            "detections_off": policy.disabled_detections(),
        },
        inputs=query_inputs(results, role="file"),
        hash_input=query_hash_inputs(results, index),
    )
    return CheckReport(
        policy,
        results,
        findings,
        left_out,
        run,
        walk_errors=[{"path": e.path, "message": e.message} for e in walk_errors],
    )


@contextlib.contextmanager
def index_update(index: Index, report: CheckReport) -> Iterator[AddSummary | None]:
    """Add the checked drop to ``index`` when the policy held, in one transaction committed when the
    block ends without an error (write the reports inside it): a failed output leaves the index as it was."""
    if report.violations:
        yield None
        return
    from . import indexer

    report.index_update = indexer.add_records(index, report.records, commit=False)
    try:
        yield report.index_update
    except BaseException:
        index.store.rollback()
        report.index_update = None
        raise
    index.commit()
