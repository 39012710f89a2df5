"""The rules of ``provenance check``, each declared beside its logic with ``@rule(name, doc)``.

A rule looks at the facts of one checked file (its match result, its fingerprint, the copies
within the drop, the policy's thresholds) and yields one detail per finding; a policy fails on
rules by name. Adding a rule is one decorated function here, its test, and a line in docs/ci.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .fingerprint import Fingerprint
    from .matching.records import Match, QueryResult
    from .policy import Policy


@dataclass
class FileFacts:
    """What the rules know of one checked file."""

    path: str
    result: QueryResult
    record: Fingerprint | None
    #: path → (likely original, relation) for each copy within the drop
    copies_in_drop: dict[str, tuple[str, str]]
    policy: Policy


#: a rule's logic: the facts of one file → one detail per finding
RuleLogic = Callable[[FileFacts], Iterable[str]]


@dataclass(frozen=True)
class Rule:
    name: str
    doc: str
    evaluate: RuleLogic


#: every rule, in the order findings are reported for a file
RULES: dict[str, Rule] = {}


def rule(name: str, doc: str) -> Callable[[RuleLogic], RuleLogic]:
    """Register ``name`` (what a policy's ``fail_on`` names) with ``doc`` (what it means) and its logic."""

    def register(logic: RuleLogic) -> RuleLogic:
        if name in RULES:
            raise ValueError(f"rule {name!r} is already registered")
        RULES[name] = Rule(name, doc, logic)
        return logic

    return register


def rule_names() -> list[str]:
    return list(RULES)


def evaluate(facts: FileFacts) -> Iterator[tuple[str, str]]:
    """(rule, detail) of every finding on one file."""
    for found in RULES.values():
        for detail in found.evaluate(facts):
            yield found.name, detail


@rule("unreadable", "the file could not be read or decoded")
def _unreadable(facts: FileFacts) -> Iterator[str]:
    error = facts.result.error
    if error:
        yield f"{error['type']}: {error['message']}"


@rule("name-digest-mismatch", "the file is named by a hex digest (MD5, SHA-1, SHA-256) that is not its own")
def _name_digest_mismatch(facts: FileFacts) -> Iterator[str]:
    record = facts.record
    name = record.name_digest if record else None
    if record and name and not name.get("matches"):
        algorithm = name["algorithm"]
        stem = os.path.splitext(os.path.basename(facts.path))[0].lower()
        yield f"named by {algorithm.upper()} {stem}, but its {algorithm.upper()} is {getattr(record, algorithm)}"


def _other_references(facts: FileFacts) -> list[Match]:
    """The matches that are other files than this one (a file already indexed at its path is not its own copy)."""
    own = os.path.realpath(facts.path)
    return [
        m
        for m in facts.result.matches
        if any(os.path.realpath(p) != own for p in m.reference.get("paths") or [m.reference.get("path")])
    ]


@rule("duplicate-of-reference", "the file is a copy (exact, metadata-only or near-duplicate) of a file in the index")
def _duplicate_of_reference(facts: FileFacts) -> Iterator[str]:
    policy = facts.policy
    duplicates = [
        m
        for m in _other_references(facts)
        if m.relation in policy.duplicate_relations
        and (m.relation != "near-duplicate" or m.score >= policy.min_confidence)
    ]
    if duplicates:
        best = duplicates[0]
        yield f"{best.relation} of {best.reference.get('path')} (confidence {best.score:.2f})"


@rule("unknown", "the file matches nothing in the index")
def _unknown(facts: FileFacts) -> Iterator[str]:
    if not facts.result.error and not facts.result.matches:
        yield "no reference matches it"


@rule("duplicate-in-drop", "the file is a copy of another file of the same drop")
def _duplicate_in_drop(facts: FileFacts) -> Iterator[str]:
    if facts.path in facts.copies_in_drop:
        original, relation = facts.copies_in_drop[facts.path]
        yield f"{relation} of {original}, also in this drop"


@rule("thumbnail-mismatch", "the embedded EXIF thumbnail shows a different picture (edited after the camera wrote it)")
def _thumbnail_mismatch(facts: FileFacts) -> Iterator[str]:
    thumbnail = (facts.record.thumbnail if facts.record else None) or {}
    distance = thumbnail.get("phash_distance")
    threshold = facts.policy.thumbnail_phash_distance
    if distance is not None and distance >= threshold:
        yield (f"the EXIF thumbnail's pHash is {distance} bits from the image's (threshold {threshold})")


def _forensics_rule(code: str, doc: str) -> None:
    """A rule that fails on the fingerprint's forensics finding ``code`` (docs/forensics.md)."""

    def logic(facts: FileFacts) -> Iterator[str]:
        forensics = (facts.record.forensics if facts.record else None) or {}
        for found in forensics.get("findings") or []:
            if found.get("code") == code:
                yield str(found.get("message"))

    rule(code, doc)(logic)


_forensics_rule(
    "resaved-by-software",
    "the metadata names a camera, but libjpeg-based software encoded the file (docs/forensics.md: its cues and rate)",
)
_forensics_rule("software-tag", "Software, xmp:CreatorTool or the XMP history names an editing program or a save")
_forensics_rule("appended-data", "bytes that are not zero padding or a declared image follow the end of the image")
_forensics_rule(
    "c2pa-invalid", "the file's Content Credentials do not validate (a hash or signature that does not verify)"
)
_forensics_rule("timestamp-inconsistent", "the metadata's dates contradict each other (taken after last modified)")
_forensics_rule("dimensions-changed", "EXIF records other pixel dimensions than the image has (resized or cropped)")
