"""What fails a ``provenance check`` run: the policy file (TOML) and its defaults.

The policy holds the matcher's and dedup's options as its ``[match]`` and ``[dedup]`` tables, so
one settings tree (``settings.py``) serves the command line and the file with the same bounds.
The rules themselves live in ``rules.py``.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from .dedup import DedupOptions
from .errors import PolicyError, ProvenanceError
from .files import read_text
from .matching.options import MatchOptions
from .rules import RULES, rule_names
from .settings import disabled, from_table, setting, validate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["DEFAULT_FAIL_ON", "Policy", "PolicyError", "RULES", "load_policy"]

DEFAULT_FAIL_ON = ("name-digest-mismatch",)

RELATIONS = ("exact", "metadata-only", "near-duplicate")

#: settings of the first policy format that now live in a table, and where
MOVED = {
    "max_candidates": "write it in the [match] table (max_candidates = 8)",
    "keypoint_search": "write it in the [match] table (keypoint_search = true)",
    "dedup_phash_distance": "write it in the [dedup] table as phash_distance",
    "dedup_pdq_distance": "write it in the [dedup] table as pdq_distance",
}


@dataclass
class Policy:
    """What fails a check run, and the thresholds the rules use (docs/ci.md)."""

    fail_on: list[str] = setting(
        help="The rules whose findings fail the run (exit status 1).", default_factory=lambda: list(DEFAULT_FAIL_ON)
    )
    ignore: list[str] = setting(
        help="Glob patterns of files to leave out, matched against the path relative to "
        "the checked folder and against the file name (*.txt, drafts/**).",
        default_factory=list,
    )
    duplicate_relations: list[str] = setting(
        off=lambda relations: not relations,
        help="Which relations to a reference count as duplicate-of-reference.",
        choices=RELATIONS,
        default_factory=lambda: list(RELATIONS),
    )
    min_confidence: float = setting(
        0.0,
        minimum=0.0,
        maximum=1.0,
        off=lambda confidence: confidence >= 1.0,  # no near-duplicate is scored 1
        help="A near-duplicate of a reference counts only at this confidence or above.",
    )
    thumbnail_phash_distance: int = setting(
        16,
        minimum=0,
        maximum=64,
        off=lambda distance: distance >= 64,  # only a thumbnail with every bit inverted would reach it
        help="thumbnail-mismatch when the EXIF thumbnail's pHash is this far from the image's or farther.",
    )
    #: the matcher's settings ([match], as provenance match)
    match: MatchOptions = field(default_factory=MatchOptions)
    #: the thresholds of duplicate-in-drop ([dedup], as provenance dedup)
    dedup: DedupOptions = field(default_factory=DedupOptions)

    def to_dict(self) -> dict[str, Any]:
        """The report's ``policy`` block (docs/schema/check.schema.json keeps its first, flat names)."""
        return {
            "fail_on": list(self.fail_on),
            "ignore": list(self.ignore),
            "duplicate_relations": list(self.duplicate_relations),
            "min_confidence": self.min_confidence,
            "thumbnail_phash_distance": self.thumbnail_phash_distance,
            "dedup_phash_distance": self.dedup.phash_distance,
            "dedup_pdq_distance": self.dedup.pdq_distance,
            "max_candidates": self.match.max_candidates,
            "keypoint_search": self.match.keypoint_search,
        }

    def to_tree(self) -> dict[str, Any]:
        """Every setting, as the TOML file nests them."""
        return asdict(self)

    def check(self, where: str = "the policy") -> Policy:
        """Refuse unknown rules and out-of-range or mistyped settings (``PolicyError``)."""
        unknown = [r for r in self.fail_on if r not in RULES]
        if unknown:
            raise PolicyError(f"unknown rule {', '.join(unknown)}; the rules are {', '.join(rule_names())}")
        return validate(self, where)

    def disabled_detections(self) -> list[str]:
        """Settings of this policy that switch a detection off (said on stderr and in the run block)."""
        return disabled(self)


def load_policy(path: str | None = None, *, fail_on: list[str] | None = None) -> Policy:
    """The policy in TOML file ``path`` (defaults where it says nothing); ``fail_on`` replaces its rules."""
    policy = Policy()
    if path:
        try:
            text = read_text(path)  # a byte-order mark is accepted, as in CSV manifests
        except ProvenanceError as exc:
            raise PolicyError(f"cannot read the policy {path}: {exc}") from exc
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"the policy {path} is not valid TOML: {exc}") from exc
        except RecursionError as exc:
            raise PolicyError(f"the policy {path} is nested too deeply to be a policy") from exc
        policy = _from_document(document, path)
    if fail_on is not None:
        policy.fail_on = list(fail_on)
    return policy.check(path or "the policy")


def _from_document(document: dict[str, Any], path: str) -> Policy:
    """Top-level keys, a ``[thresholds]`` table of the policy's own settings, ``[match]`` and ``[dedup]``."""
    values = {k: v for k, v in document.items() if k != "thresholds"}
    thresholds = document.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise PolicyError(f"{path}: [thresholds] must be a table")
    for key, value in thresholds.items():
        if key in values:
            raise PolicyError(f"{path}: {key!r} is set both at the top and in [thresholds]")
        values[key] = value
    return from_table(Policy, values, path, nested={"match": MatchOptions, "dedup": DedupOptions}, moved=MOVED)
