"""``provenance check``: a new drop of files against an index, judged by a policy (for CI).

Each file of the drop is matched against the index (``matching``), the drop is deduplicated
within itself (``dedup``), and every rule of ``policy.RULES`` is evaluated on every file. A
finding whose rule the policy fails on is a violation.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from . import runinfo
from .captions import queries_from_paths
from .dedup import DedupOptions, dedup
from .files import WalkError, iter_files
from .index import AddSummary, Index
from .matching import MatchOptions, QueryResult, VERDICTS, iter_match
from .policy import Policy
from .pool import DEFAULT_TIMEOUT

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
    def exit_status(self) -> int:
        """0 the policy holds; 1 it is violated; 3 it holds but some files could not be read."""
        if self.violations:
            return 1
        return 3 if self.unreadable else 0

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
                        "violations": len(self.violations), "exit_status": self.exit_status,
                        "index_updated": self.index_update.to_dict() if self.index_update else None},
            "violations": [f.to_dict() for f in self.violations],
            "findings": [f.to_dict() for f in self.findings],
            "ignored": self.ignored,
            "results": [r.to_dict() for r in self.results],
        }  # fmt: skip


def drop_files(paths: Iterable[str], policy: Policy, *, follow_symlinks: bool = False,
               include_hidden: bool = False) -> tuple[list[str], list[str], list[WalkError]]:
    """The files of the drop: (to check, ignored by the policy, folders that could not be listed)."""
    checked: list[str] = []
    ignored: list[str] = []
    errors: list[WalkError] = []
    for given in paths:
        root = given if os.path.isdir(given) else os.path.dirname(given)
        for item in iter_files([given], follow_symlinks=follow_symlinks, include_hidden=include_hidden):
            if isinstance(item, WalkError):
                errors.append(item)
                continue
            relative = os.path.relpath(item, root) if root else item
            (ignored if _ignored(relative, policy.ignore) else checked).append(item)
    return checked, ignored, errors


def _ignored(relative: str, patterns: list[str]) -> bool:
    relative = relative.replace(os.sep, "/")
    name = relative.rsplit("/", 1)[-1]
    for pattern in patterns:
        if fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(name, pattern):
            return True
        if pattern.endswith("/**") and (relative + "/").startswith(pattern[:-2]):
            return True
    return False


def check(paths: Iterable[str], index: Index, policy: Policy | None = None, *, jobs: int = 1,
          timeout: float | None = DEFAULT_TIMEOUT, follow_symlinks: bool = False, include_hidden: bool = False,
          update_index: bool = False, progress: Callable[[QueryResult], None] | None = None,
          against: str | None = None) -> CheckReport:
    """Check the files under ``paths`` against ``index`` by ``policy``.

    With ``update_index``, the drop is added to the index afterwards, in one transaction, when the
    policy holds (exit status 0 or 3); a violated policy leaves the index as it was.
    """
    policy = policy or Policy()
    started = runinfo.now()
    paths = list(paths)
    files, ignored, walk_errors = drop_files(paths, policy, follow_symlinks=follow_symlinks,
                                             include_hidden=include_hidden)
    options = MatchOptions(max_candidates=policy.max_candidates, keypoint_search=policy.keypoint_search,
                           max_pixels=index.options.max_pixels)
    index_facts = runinfo.index_facts(index, against)  # before any update: what the drop was checked against
    results = []
    for result in iter_match(queries_from_paths(files), index, options, jobs=jobs, timeout=timeout):
        results.append(result)
        if progress:
            progress(result)
    records = [r.fingerprint for r in results if r.fingerprint]
    in_drop = dedup(records, DedupOptions(phash_distance=policy.dedup_phash_distance,
                                          pdq_distance=policy.dedup_pdq_distance))
    findings = _findings(results, in_drop.to_dict(), policy)
    findings += [Finding(e.path, "unreadable", e.message, "unreadable" in policy.fail_on) for e in walk_errors]
    run = runinfo.run_block(
        started=started, index=index_facts,
        parameters={"policy": policy.to_dict(), "match": options.to_dict(), "paths": paths},
        inputs=[{"path": r.query.path, "role": "file", "sha256": (r.fingerprint or {}).get("sha256")}
                for r in results])
    report = CheckReport(policy, results, findings, ignored, run,
                         walk_errors=[{"path": e.path, "message": e.message} for e in walk_errors])
    if update_index and not report.violations:
        report.index_update = index.add_records(records)
    return report


def _findings(results: list[QueryResult], in_drop: dict[str, Any], policy: Policy) -> list[Finding]:
    copies = {m["path"]: (cluster["original"], m["relation"]) for cluster in in_drop["clusters"]
              for m in cluster["members"] if m["role"] == "copy"}
    findings: list[Finding] = []

    def found(path: str, rule: str, detail: str) -> None:
        findings.append(Finding(path, rule, detail, rule in policy.fail_on))

    for result in results:
        path = result.query.path
        record = result.fingerprint or {}
        if result.error:
            found(path, "unreadable", f"{result.error['type']}: {result.error['message']}")
        name = record.get("name_digest")
        if name and not name.get("matches"):
            stem = os.path.splitext(os.path.basename(path))[0].lower()
            found(path, "name-digest-mismatch",
                  f"named by {name['algorithm'].upper()} {stem}, but its {name['algorithm'].upper()} is "
                  f"{record.get(name['algorithm'])}")
        own = os.path.realpath(path)
        others = [m for m in result.matches
                  if any(os.path.realpath(p) != own for p in m.reference.get("paths") or [m.reference.get("path")])]
        duplicates = [m for m in others if m.relation in policy.duplicate_relations
                      and (m.relation != "near-duplicate" or m.score >= policy.min_confidence)]
        if duplicates:
            best = duplicates[0]
            found(path, "duplicate-of-reference",
                  f"{best.relation} of {best.reference.get('path')} (confidence {best.score:.2f})")
        elif not result.error and not others and not result.matches:
            found(path, "unknown", "no reference matches it")
        if path in copies:
            original, relation = copies[path]
            found(path, "duplicate-in-drop", f"{relation} of {original}, also in this drop")
        thumbnail = record.get("thumbnail") or {}
        distance = thumbnail.get("phash_distance")
        if distance is not None and distance >= policy.thumbnail_phash_distance:
            found(path, "thumbnail-mismatch",
                  f"the EXIF thumbnail's pHash is {distance} bits from the image's "
                  f"(threshold {policy.thumbnail_phash_distance})")
    return findings
