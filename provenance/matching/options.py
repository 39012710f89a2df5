"""``MatchOptions``: the matcher's thresholds, each declared once (docs/matching.md says how each is used)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..defaults import DEFAULT_MAX_PIXELS
from ..settings import setting


def _candidate_radii() -> dict[str, int]:
    from .. import hashes as hash_kinds

    return {k.name: int(k.candidate_radius or 0) for k in hash_kinds.kinds() if k.candidates}


@dataclass
class MatchOptions:
    """Thresholds of the matcher."""

    #: candidate radius of the near search per hash kind (each kind's own by default): wide on purpose,
    #: confirmation decides
    candidate_radii: dict[str, int] = field(default_factory=_candidate_radii)
    max_candidates: int = setting(8, minimum=1, maximum=100, help="Hash candidates checked geometrically per query.")
    #: a reference that cannot be re-read is claimed on hashes alone only this close, pHash and PDQ
    #: both (the rule names these two kinds on purpose: they are the ones measured for it)
    hash_only_phash: int = setting(
        4, minimum=0, maximum=64, help="pHash distance within which a reference that cannot be re-read is claimed."
    )
    hash_only_pdq: int = setting(
        16, minimum=0, maximum=256, help="PDQ distance within which a reference that cannot be re-read is claimed."
    )
    keypoint_search: bool = setting(
        True,
        off=False,
        help="Search every reference's keypoints when no hash candidate confirms "
        "(off: heavy crops, screenshots and collages are missed).",
    )
    #: queries declaring more pixels are refused (not a policy setting: check reads with the index's limit)
    max_pixels: int = DEFAULT_MAX_PIXELS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
