"""What fails a ``provenance check`` run: the policy file (TOML), its defaults and its rules."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import ProvenanceError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: every rule a policy can fail on, and what it means
RULES = {
    "name-digest-mismatch": "the file is named by a hex digest (MD5, SHA-1, SHA-256) that is not its own",
    "unreadable": "the file could not be read or decoded",
    "duplicate-of-reference": "the file is a copy (exact, metadata-only or near-duplicate) of a file in the index",
    "duplicate-in-drop": "the file is a copy of another file of the same drop",
    "unknown": "the file matches nothing in the index",
    "thumbnail-mismatch": "the embedded EXIF thumbnail shows a different picture (edited after the camera wrote it)",
}

DEFAULT_FAIL_ON = ("name-digest-mismatch",)


class PolicyError(ProvenanceError):
    """A policy file or option that cannot be used (exit status 2)."""


@dataclass
class Policy:
    """What fails a check run, and the thresholds the rules use (docs/ci.md)."""

    #: the rules whose findings fail the run (exit status 1)
    fail_on: list[str] = field(default_factory=lambda: list(DEFAULT_FAIL_ON))
    #: glob patterns of files to leave out, matched against the path relative to the checked folder
    #: and against the file name (``*.txt``, ``drafts/**``)
    ignore: list[str] = field(default_factory=list)
    #: which relations to a reference count as ``duplicate-of-reference``
    duplicate_relations: list[str] = field(default_factory=lambda: ["exact", "metadata-only", "near-duplicate"])
    #: a near-duplicate of a reference counts only at this confidence or above
    min_confidence: float = 0.0
    #: ``thumbnail-mismatch`` when the EXIF thumbnail's pHash is this far from the image's or farther
    thumbnail_phash_distance: int = 16
    #: near-duplicate thresholds of ``duplicate-in-drop`` (as ``provenance dedup``)
    dedup_phash_distance: int = 10
    dedup_pdq_distance: int = 40
    #: matcher settings (as ``provenance match``)
    max_candidates: int = 8
    keypoint_search: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check(self) -> "Policy":
        """Refuse unknown rules and relations and out-of-range thresholds."""
        unknown = [r for r in self.fail_on if r not in RULES]
        if unknown:
            raise PolicyError(f"unknown rule {', '.join(unknown)}; the rules are {', '.join(RULES)}")
        relations = [r for r in self.duplicate_relations if r not in ("exact", "metadata-only", "near-duplicate")]
        if relations:
            raise PolicyError(f"unknown relation {', '.join(relations)} in duplicate_relations "
                              "(exact, metadata-only, near-duplicate)")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise PolicyError(f"min_confidence must be between 0 and 1, not {self.min_confidence}")
        for name in ("thumbnail_phash_distance", "dedup_phash_distance", "dedup_pdq_distance", "max_candidates"):
            if getattr(self, name) < 0:
                raise PolicyError(f"{name} must not be negative")
        return self


_TYPES = {f.name: f.type for f in fields(Policy)}


def load_policy(path: str | None = None, *, fail_on: list[str] | None = None) -> Policy:
    """The policy in TOML file ``path`` (defaults where it says nothing); ``fail_on`` replaces its rules."""
    values: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as stream:
                document = tomllib.load(stream)
        except OSError as exc:
            raise PolicyError(f"cannot read the policy {path}: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"the policy {path} is not valid TOML: {exc}") from exc
        values = _flatten(document, path)
    if fail_on is not None:
        values["fail_on"] = fail_on
    return Policy(**values).check()


def _flatten(document: dict[str, Any], path: str) -> dict[str, Any]:
    """Top-level keys plus those of a ``[thresholds]`` table, each checked for its name and type."""
    values = {k: v for k, v in document.items() if k != "thresholds"}
    thresholds = document.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise PolicyError(f"{path}: [thresholds] must be a table")
    values.update(thresholds)
    for key, value in values.items():
        if key not in _TYPES:
            raise PolicyError(f"{path}: unknown setting {key!r}; known: {', '.join(_TYPES)}")
        expected = _TYPES[key]
        ok = {
            "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
        }[expected]
        if not ok:
            raise PolicyError(f"{path}: {key} must be {expected.replace('list[str]', 'a list of strings')}, "
                              f"not {value!r}")
    return values
