"""A keypoint search over every reference: candidates for the queries global hashes cannot find.

Crops keeping little of the picture, screenshots of a page and collages have global hashes
unrelated to the reference's; their keypoints still are the reference's. Each reference
contributes its strongest ORB descriptors; a query's descriptors vote for the references
holding descriptors within a small Hamming distance. Small sets are searched exhaustively,
larger ones through an inverted file (docs/scale.md); it runs only when no hash candidate confirmed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .features import FEATURES, WORK_SIDE, Features, reference_features
from .fingerprint import Fingerprint, FingerprintOptions, fingerprint_file, read_or_record

if TYPE_CHECKING:
    import faiss

    from .index import Index

#: descriptors kept per reference for the search (the strongest by ORB's score). A query uses all of
#: its own: in a screenshot or a collage the strongest ones are often on the page around the picture.
PER_REFERENCE = 400
#: a query descriptor votes for a reference holding one within this many bits (of 256)
VOTE_DISTANCE = 40
#: neighbours looked at per query descriptor (the nearest from another reference is the rival)
NEIGHBOURS = 6
#: the nearest descriptor must be this much closer than the nearest of any other reference
RATIO = 0.8
#: names the descriptors stored in the index: a change of detector settings must not reuse old ones
METHOD = f"orb-{WORK_SIDE}-{FEATURES}-top{PER_REFERENCE}"
#: inverted lists visited per query descriptor
NPROBE = 8
#: query descriptors (its strongest, and as many of its mirror's) the inverted file is asked about;
#: the exhaustive search takes them all
QUERY_DESCRIPTORS = 0  # 0: all
#: stored descriptors up to which the search is exhaustive (FAISS's flat index); above, an inverted
#: file (IVF) whose lists are centred on descriptors drawn from the set, the centres themselves
#: found through a small inverted file (``ivf2``; benchmarks/bench_keypoints.py chose it)
EXHAUSTIVE_UP_TO = 100_000
#: fewest votes that make a candidate, and how many candidates are returned
MIN_VOTES = 6

TOP = 5


class FeatureSource(Protocol):
    def get(self, sha256: str, paths: list[str]) -> Features | None: ...


class KeypointSearch:
    """The stacked descriptors of a reference set and which reference owns each."""

    def __init__(
        self,
        owners: list[str],
        paths: dict[str, list[str]],
        descriptors: np.ndarray,
        owner_of: np.ndarray,
        structure: str = "auto",
    ) -> None:
        self._owners = owners
        self._paths = paths
        self._descriptors = descriptors
        self._owner_of = owner_of
        self._structure = structure
        self._index: faiss.IndexBinary | None = None  # built on first use
        self._labels_are_owners = False
        #: the strongest query descriptors (and as many of the mirror's) searched for; 0: all of them
        self.query_limit = 0

    def prepare(self) -> None:
        """Build the search structure now (it is built on first use otherwise)."""
        if self._index is not None or len(self._descriptors) == 0:
            return
        import faiss  # loaded by the processes that search, not by every one that imports this module

        if self._structure == "auto":
            self._structure = "flat" if len(self._descriptors) <= EXHAUSTIVE_UP_TO else "ivf2"
        kind, *params = self._structure.split(":")
        if kind == "flat":
            self._index = faiss.IndexBinaryFlat(256)
            self._index.add(self._descriptors)
        elif kind == "ivf2":
            n = len(self._descriptors)
            nlist = int(params[0]) if params and params[0] else _lists_for(n)
            rng = np.random.default_rng(0)
            quantizer = _quantizer(faiss, nlist, self._descriptors, rng)
            index: Any = faiss.IndexBinaryIVF(quantizer, 256, nlist)
            index.own_fields = True
            quantizer.this.disown()
            # the lists' centres are descriptors drawn from the set itself: no training pass (k-means
            # gave the same recall and took minutes at 10^4 references: docs/scale.md)
            quantizer.add(np.ascontiguousarray(self._descriptors[rng.choice(n, size=min(n, nlist), replace=False)]))
            index.is_trained = True
            index.nprobe = int(params[1]) if len(params) > 1 and params[1] else NPROBE
            self.query_limit = int(params[2]) if len(params) > 2 and params[2] else QUERY_DESCRIPTORS
            index.add_with_ids(self._descriptors, self._owner_of.astype(np.int64))
            self._index = index
            self._labels_are_owners = True
        else:
            raise ValueError(f"unknown keypoint search structure {self._structure!r}")

    def describe(self) -> str:
        """The structure and its parameters, as a short label."""
        import faiss

        if isinstance(self._index, faiss.IndexBinaryIVF):
            asked = f" query={self.query_limit}" if self.query_limit else ""
            return f"ivf2 nlist={self._index.nlist} nprobe={self._index.nprobe}{asked}"
        return self._structure

    def memory(self) -> int:
        """Bytes held by the search structure (descriptors, ids, list centres)."""
        import faiss

        self.prepare()
        if self._index is None:
            return 0
        if isinstance(self._index, faiss.IndexBinaryIVF):  # codes and ids, the centres (and their own lists)
            return int(len(self._descriptors) * (32 + 8) + self._index.nlist * (32 + 8 + 32))
        return int(self._descriptors.nbytes + self._owner_of.nbytes)

    @classmethod
    def build(cls, references: Iterable[tuple[str, list[str], Features | None]]) -> KeypointSearch:
        """From (sha256, paths, features) of each reference; references without features are left out."""
        return cls.build_from_descriptors((sha, where, f.descriptors) for sha, where, f in references if f is not None)

    @classmethod
    def build_from_descriptors(
        cls, references: Iterable[tuple[str, list[str], np.ndarray]], structure: str = "auto"
    ) -> KeypointSearch:
        """From (sha256, paths, ORB descriptors strongest first) of each reference."""
        owners: list[str] = []
        paths: dict[str, list[str]] = {}
        blocks, owner_blocks = [], []
        for sha256, where, descriptors in references:
            if len(descriptors) == 0:
                continue
            paths[sha256] = where
            owner = len(owners)
            owners.append(sha256)
            descriptors = descriptors[:PER_REFERENCE]
            blocks.append(descriptors)
            owner_blocks.append(np.full(len(descriptors), owner, dtype=np.int32))
        stacked = np.concatenate(blocks) if blocks else np.zeros((0, 32), np.uint8)
        owner_of = np.concatenate(owner_blocks) if owner_blocks else np.zeros(0, np.int32)
        return cls(owners, paths, stacked, owner_of, structure)

    @classmethod
    def for_index(cls, index: Index, source: FeatureSource, structure: str = "auto") -> KeypointSearch:
        """Every image reference of ``index``: descriptors stored in the index, or read through ``source``
        (the reference files) and then stored there for the next run. ``structure`` as ``__init__``'s
        (``"auto"``: exhaustive up to ``EXHAUSTIVE_UP_TO`` descriptors)."""

        def compute(sha256: str, paths: list[str]) -> bytes | None:
            features = source.get(sha256, paths)
            return None if features is None else reference_keys(features)

        return cls.build_from_descriptors(
            (
                (sha, where, np.frombuffer(blob, dtype=np.uint8).reshape(-1, 32))
                for sha, where, blob in index.content_features(METHOD, compute)
                if blob is not None
            ),
            structure=structure,
        )

    def __len__(self) -> int:
        return len(self._owners)

    def paths(self, sha256: str) -> list[str]:
        return self._paths.get(sha256, [])

    def _nearest(self, descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances and owners of each descriptor's NEIGHBOURS nearest stored descriptors, nearest first
        (distance inf for a neighbour not found)."""
        self.prepare()
        assert self._index is not None
        k = min(NEIGHBOURS, len(self._descriptors))
        distances, labels = self._index.search(np.ascontiguousarray(descriptors, dtype=np.uint8), k)
        distances = distances.astype(np.float32)
        missing = labels < 0
        labels = np.where(missing, 0, labels)
        distances[missing] = np.inf
        owners = labels if self._labels_are_owners else self._owner_of[labels]
        if k < NEIGHBOURS:  # fewer stored descriptors than neighbours asked for: pad with "none"
            pad = NEIGHBOURS - k
            distances = np.pad(distances, ((0, 0), (0, pad)), constant_values=np.inf)
            owners = np.pad(owners, ((0, 0), (0, pad)), constant_values=0)
        return distances, owners.astype(np.int64)

    def _votes(self, descriptors: np.ndarray) -> np.ndarray:
        if len(descriptors) == 0 or len(self._descriptors) == 0:
            return np.zeros(len(self._owners), dtype=np.int64)
        self.prepare()
        if self.query_limit:
            descriptors = descriptors[: self.query_limit]  # strongest first (features.extract)
        distances, owners = self._nearest(descriptors)
        best = owners[:, 0]
        # Lowe's ratio test across references: a descriptor common to many pictures (text, grids,
        # generic corners) votes for none of them
        rival = np.where(owners[:, 1:] != best[:, None], distances[:, 1:], np.inf).min(axis=1, initial=np.inf)
        voting = (distances[:, 0] <= VOTE_DISTANCE) & (distances[:, 0] < RATIO * rival)
        return np.bincount(best[voting], minlength=len(self._owners)).astype(np.int64)

    def candidates(
        self, query: Features, *, exclude: Collection[str] = frozenset(), mirrored: Features | None = None
    ) -> list[tuple[str, int]]:
        """References that the query's keypoints (and its mirror's) vote for: (sha256, votes), most first."""
        if not self._owners:
            return []
        votes = self._votes(query.descriptors)
        if mirrored is not None:
            votes = np.maximum(votes, self._votes(mirrored.descriptors))
        order = np.argsort(-votes, kind="stable")
        found: list[tuple[str, int]] = []
        for owner in order:
            if votes[owner] < MIN_VOTES or len(found) == TOP:
                break
            sha = self._owners[owner]
            if sha not in exclude:
                found.append((sha, int(votes[owner])))
        return found


def reference_keys(features: Features) -> bytes:
    """The search keys a reference contributes (its PER_REFERENCE strongest descriptors), as the index stores them."""
    return np.ascontiguousarray(features.descriptors[:PER_REFERENCE], dtype=np.uint8).tobytes()


def fingerprint_with_keys(path: str, options: FingerprintOptions) -> tuple[Fingerprint, bytes | None]:
    """Fingerprint a file and make its search keys from the same read (``provenance index``).

    The keys are None for a file that is not an image the fingerprint could decode, and empty for an
    image whose features cannot be made (stored as such, so the next run does not try again)."""
    file = read_or_record(path, options)
    if isinstance(file, Fingerprint):
        return file, None
    record = fingerprint_file(file, options)
    if record.kind != "image" or record.error or not record.hashes:
        return record, None
    source: bytes | str = file.data if file.data is not None else file.path  # streamed: the decoder reads it
    try:
        return record, reference_keys(reference_features(source, path, options.max_pixels))
    except Exception:  # noqa: BLE001 - the hashes decoded it; a failure here costs the keys, not the record
        return record, b""


def _quantizer(faiss: Any, nlist: int, descriptors: np.ndarray, rng: np.random.Generator) -> Any:
    """What finds a descriptor's nearest list centres: a small inverted file over the centres
    themselves, so a query descriptor is compared with a few hundred centres, not all of them."""
    coarse = max(16, int(np.sqrt(nlist)))
    top: Any = faiss.IndexBinaryFlat(256)
    top.add(np.ascontiguousarray(descriptors[rng.choice(len(descriptors), size=coarse, replace=False)]))
    quantizer = faiss.IndexBinaryIVF(top, 256, coarse)
    quantizer.own_fields = True
    top.this.disown()
    quantizer.is_trained = True
    quantizer.nprobe = 4
    return quantizer


def _lists_for(descriptors: int) -> int:
    """Inverted lists for an IVF over this many descriptors: a power of two near 4 sqrt(n)."""
    return int(2 ** max(6, min(16, round(np.log2(4 * np.sqrt(max(1, descriptors)))))))
