"""A keypoint search over every reference: candidates for the queries global hashes cannot find.

Crops keeping little of the picture, screenshots of a page and collages have global hashes
unrelated to the reference's; their keypoints still are the reference's. Each reference
contributes its strongest ORB descriptors; a query's descriptors vote for the references
holding descriptors within a small Hamming distance. Small sets are searched exhaustively,
larger ones through an inverted file (docs/scale.md); it runs only when no hash candidate confirmed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
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
#: stored descriptors the inverted file compares a query descriptor with, about: lists are visited,
#: nearest centre first, until this many entries (at least MIN_PROBES lists, at most MAX_PROBES). The
#: search then costs about the same at every size, and small sets are searched more thoroughly
#: (benchmarks/bench_keypoints.py chose it: docs/scale.md)
SCAN_BUDGET = 2_500
MIN_PROBES, MAX_PROBES = 4, 16
#: query descriptors (its strongest, and as many of its mirror's) the inverted file is asked about;
#: the exhaustive search takes them all
QUERY_DESCRIPTORS = 0  # 0: all
#: stored descriptors up to which the search is exhaustive (FAISS's flat index); above, an inverted
#: file (IVF) whose lists are centred on descriptors drawn from the set, the centres themselves
#: found through a small inverted file (``ivf2``; benchmarks/bench_keypoints.py chose it)
EXHAUSTIVE_UP_TO = 100_000
#: the stored list centres of the inverted file over descriptors of ``METHOD`` (``Lists``)
LISTS = f"{METHOD}/ivf2"
#: descriptors put into the inverted file per call when it is filled
FILL_CHUNK = 1 << 20
#: contents whose list numbers are worked out and stored per transaction by ``store_lists``
LISTS_BATCH = 2_000
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
        lists: Lists | None = None,
        assigned: np.ndarray | None = None,
    ) -> None:
        self._owners = owners
        self._paths = paths
        self._descriptors = descriptors  # let go once the structure holds its own copy
        self._count = len(descriptors)
        self._owner_of = owner_of
        self._structure = structure
        self._index: faiss.IndexBinary | None = None  # built on first use
        self._labels_are_owners = False
        #: the inverted file's stored list centres, and each descriptor's list under them (-1: not known)
        self._lists = lists
        self._assigned = assigned
        #: descriptors that had to be assigned to a list when the structure was built (0 with stored lists)
        self.assigned_here = 0
        #: the strongest query descriptors (and as many of the mirror's) searched for; 0: all of them
        self.query_limit = 0

    def prepare(self) -> None:
        """Build the search structure now (it is built on first use otherwise)."""
        if self._index is not None or self._count == 0:
            return
        import faiss  # loaded by the processes that search, not by every one that imports this module

        if self._structure == "auto":
            self._structure = "flat" if self._count <= EXHAUSTIVE_UP_TO else "ivf2"
        kind, *params = self._structure.split(":")
        if kind == "flat":
            self._index = faiss.IndexBinaryFlat(256)
            self._index.add(self._descriptors)
        elif kind == "ivf2":
            nlist = int(params[0]) if params and params[0] else None
            lists, assigned = self._lists, self._assigned
            if lists is None or (nlist is not None and nlist != lists.nlist):
                lists, assigned = Lists.draw(self._descriptors, nlist), None
            index = lists.inverted_file()
            index.nprobe = int(params[1]) if len(params) > 1 and params[1] else _probes_for(self._count, lists.nlist)
            self.query_limit = int(params[2]) if len(params) > 2 and params[2] else QUERY_DESCRIPTORS
            if assigned is None:
                assigned = np.full(self._count, -1, np.int32)
            for start in range(0, self._count, FILL_CHUNK):  # int64 copies a chunk at a time, not of the whole set
                part = slice(start, start + FILL_CHUNK)
                self.assigned_here += _fill(index, self._descriptors[part], self._owner_of[part], assigned[part])
            self._index = index
            self._labels_are_owners = True
            self._assigned = None  # held only until the lists are filled
            self._owner_of = np.zeros(0, np.int32)  # the lists' ids are the owners (a [:0] view would keep the array)
        else:
            raise ValueError(f"unknown keypoint search structure {self._structure!r}")
        self._descriptors = np.zeros((0, 32), np.uint8)  # the structure holds its own copy: half the memory

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
            return int(self._count * (32 + 8) + self._index.nlist * (32 + 8 + 32))
        return int(self._count * (32 + 4))  # the flat index's copy, and each descriptor's owner

    @classmethod
    def build(cls, references: Iterable[tuple[str, list[str], Features | None]]) -> KeypointSearch:
        """From (sha256, paths, features) of each reference; references without features are left out."""
        return cls.build_from_descriptors((sha, where, f.descriptors) for sha, where, f in references if f is not None)

    @classmethod
    def build_from_descriptors(
        cls,
        references: Iterable[tuple[str, list[str], np.ndarray]],
        structure: str = "auto",
        *,
        lists: Lists | None = None,
        assignments: Mapping[str, bytes] | None = None,
    ) -> KeypointSearch:
        """From (sha256, paths, ORB descriptors strongest first) of each reference. ``lists`` and
        ``assignments`` (each content's list numbers under them, as ``store_lists`` stores them) let
        the inverted file be filled without assigning descriptors to lists again."""
        owners: list[str] = []
        paths: dict[str, list[str]] = {}
        blocks, owner_blocks, assigned_blocks = [], [], []
        for owner, sha256, descriptors in _owned(references, owners, paths):
            blocks.append(descriptors)
            owner_blocks.append(np.full(len(descriptors), owner, dtype=np.int32))
            if lists is not None:
                assigned_blocks.append(_assignment(assignments, sha256, len(descriptors), lists.nlist))
        stacked = np.concatenate(blocks) if blocks else np.zeros((0, 32), np.uint8)
        owner_of = np.concatenate(owner_blocks) if owner_blocks else np.zeros(0, np.int32)
        assigned = np.concatenate(assigned_blocks) if assigned_blocks else None
        return cls(owners, paths, stacked, owner_of, structure, lists, assigned)

    @classmethod
    def for_index(cls, index: Index, source: FeatureSource, structure: str = "auto") -> KeypointSearch:
        """Every image reference of ``index``: descriptors stored in the index, or read through ``source``
        (the reference files) and then stored there for the next run. ``structure`` as ``__init__``'s
        (``"auto"``: exhaustive up to ``EXHAUSTIVE_UP_TO`` descriptors)."""

        def compute(sha256: str, paths: list[str]) -> bytes | None:
            features = source.get(sha256, paths)
            return None if features is None else reference_keys(features)

        lists = Lists.stored(index) if structure in ("auto", "ivf2") else None
        references = _stored_descriptors(index.content_features(METHOD, compute))
        assignments = index.store.features(lists.method) if lists is not None else None
        if lists is not None and (structure == "ivf2" or _stored_count(index) > EXHAUSTIVE_UP_TO):
            return cls.filled(references, lists, assignments or {})
        return cls.build_from_descriptors(references, structure=structure, lists=lists, assignments=assignments)

    @classmethod
    def filled(
        cls, references: Iterable[tuple[str, list[str], np.ndarray]], lists: Lists, assignments: Mapping[str, bytes]
    ) -> KeypointSearch:
        """The inverted file over ``lists``, filled as the references are read, FILL_CHUNK descriptors at
        a time: neither every reference's descriptors nor a stacked copy of them is ever held whole,
        only the structure (at 10^5 references a worker's peak fell from 3.8 to 2.4 GB). Each
        content's stored list numbers (``assignments``) put its descriptors straight into their lists;
        a content without them is assigned by the quantizer."""
        owners: list[str] = []
        paths: dict[str, list[str]] = {}
        index = lists.inverted_file()
        pending: list[tuple[np.ndarray, int, np.ndarray]] = []
        count = held = assigned_here = 0

        def flush() -> int:
            if not pending:
                return 0
            codes = np.concatenate([block for block, _, _ in pending])
            ids = np.concatenate([np.full(len(block), owner, np.int32) for block, owner, _ in pending])
            numbers = np.concatenate([numbers for _, _, numbers in pending])
            pending.clear()
            return _fill(index, codes, ids, numbers)

        for owner, sha256, descriptors in _owned(references, owners, paths):
            pending.append((descriptors, owner, _assignment(assignments, sha256, len(descriptors), lists.nlist)))
            count += len(descriptors)
            held += len(descriptors)
            if held >= FILL_CHUNK:
                assigned_here += flush()
                held = 0
        assigned_here += flush()
        search = cls(owners, paths, np.zeros((0, 32), np.uint8), np.zeros(0, np.int32), "ivf2", lists)
        index.nprobe = _probes_for(count, lists.nlist)
        search._count = count
        search._index = index
        search._labels_are_owners = True
        search.assigned_here = assigned_here
        return search

    def __len__(self) -> int:
        return len(self._owners)

    def paths(self, sha256: str) -> list[str]:
        return self._paths.get(sha256, [])

    def _nearest(self, descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances and owners of each descriptor's NEIGHBOURS nearest stored descriptors, nearest first
        (distance inf for a neighbour not found)."""
        self.prepare()
        assert self._index is not None
        k = min(NEIGHBOURS, self._count)
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
        if len(descriptors) == 0 or self._count == 0:
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


class Lists:
    """The inverted file's list centres: descriptors drawn from the reference set itself, and the
    few coarse centres through which a descriptor finds its nearest list centres.

    ``provenance index`` draws them once and stores them with each content's list numbers
    (``store_lists``), so a match worker fills the inverted file from the index instead of
    assigning every stored descriptor to its list again (minutes at 10^5 references).
    """

    def __init__(self, centres: np.ndarray, coarse: np.ndarray) -> None:
        self.centres = np.ascontiguousarray(centres, dtype=np.uint8)
        self.coarse = np.ascontiguousarray(coarse, dtype=np.uint8)
        self._assigner: Any = None

    @property
    def nlist(self) -> int:
        return len(self.centres)

    @property
    def method(self) -> str:
        """The feature method under which each content's list numbers are stored: named by the
        centres' digest, so numbers made under other centres are never read as these."""
        digest = hashlib.sha256(self.coarse.tobytes() + self.centres.tobytes()).hexdigest()[:16]
        return f"{LISTS}-{digest}"

    @classmethod
    def draw(cls, descriptors: np.ndarray, nlist: int | None = None) -> Lists:
        """Centres drawn from ``descriptors`` (seeded, so a set gives the same centres every time):
        ``nlist`` of them (default: a power of two near 8 sqrt(n)), and about sqrt(nlist) coarse ones."""
        n = len(descriptors)
        nlist = min(n, nlist or _lists_for(n))
        rng = np.random.default_rng(0)
        coarse = descriptors[rng.choice(n, size=min(n, max(16, int(np.sqrt(nlist)))), replace=False)]
        centres = descriptors[rng.choice(n, size=nlist, replace=False)]
        return cls(centres, coarse)

    @classmethod
    def stored(cls, index: Index) -> Lists | None:
        """The centres ``provenance index`` stored in ``index``, if any."""
        found = index.store.structure(LISTS)
        if found is None:
            return None
        params, data = found
        coarse = int(params["coarse"])
        table = np.frombuffer(data, dtype=np.uint8).reshape(-1, 32)
        if len(table) != coarse + int(params["nlist"]) or coarse < 1:
            return None  # damaged: the structure is drawn again in memory
        return cls(table[coarse:], table[:coarse])

    def to_stored(self) -> tuple[dict[str, Any], bytes]:
        return {"nlist": self.nlist, "coarse": len(self.coarse)}, self.coarse.tobytes() + self.centres.tobytes()

    def inverted_file(self) -> Any:
        """An empty inverted file over these lists (FAISS's ``IndexBinaryIVF``, with its quantizer)."""
        import faiss

        quantizer = self.quantizer()
        index: Any = faiss.IndexBinaryIVF(quantizer, 256, self.nlist)
        index.own_fields = True
        quantizer.this.disown()
        index.is_trained = True  # the centres are descriptors of the set: no training pass (docs/scale.md)
        return index

    def quantizer(self) -> Any:
        """What finds a descriptor's nearest list centres: a small inverted file over the centres
        themselves, so a query descriptor is compared with a few hundred centres, not all of them.
        Its ids are the centres' positions, that is, the list numbers. The caller owns it (an inverted
        file given it with ``own_fields`` takes it over: ``quantizer.this.disown()``)."""
        import faiss

        top: Any = faiss.IndexBinaryFlat(256)
        top.add(self.coarse)
        quantizer: Any = faiss.IndexBinaryIVF(top, 256, len(self.coarse))
        quantizer.own_fields = True
        top.this.disown()
        quantizer.is_trained = True
        quantizer.nprobe = 4
        quantizer.add(self.centres)
        return quantizer

    def assign(self, descriptors: np.ndarray) -> np.ndarray:
        """Each descriptor's list number (as the inverted file's own ``add`` would work it out)."""
        if self._assigner is None:
            self._assigner = self.quantizer()
        if len(descriptors) == 0:
            return np.zeros(0, np.int64)
        _, lists = self._assigner.search(np.ascontiguousarray(descriptors, dtype=np.uint8), 1)
        return lists[:, 0].astype(np.int64)


def store_lists(index: Index, progress: Callable[[int, int], None] | None = None) -> int:
    """Draw and store the inverted file's list centres when the index holds more descriptors than
    the exhaustive search takes, and store each content's list numbers; returns how many contents
    got theirs. Incremental: contents already assigned under the stored centres are left alone;
    the centres are drawn again (and every content assigned again) only when the set has grown or
    shrunk past the list count it was drawn for. Committed in batches, so an interrupted run keeps
    its work. ``progress(done, total)`` is called with the contents assigned in each batch and
    the contents to assign in this call."""
    store = index.store
    total = _stored_count(index)  # a rerun with nothing new reads no descriptors
    if total <= EXHAUSTIVE_UP_TO:
        return 0
    lists = Lists.stored(index)
    if lists is None or lists.nlist != _lists_for(total):
        stored = store.features(METHOD)
        order = [sha for sha, _ in index.image_contents() if sha in stored]  # the order a matcher stacks them in
        lists = Lists.draw(np.concatenate([_keys(stored[sha]) for sha in order]))
        del stored
        store.begin()
        for old in store.feature_methods(LISTS):
            store.delete_features(old)
        params, data = lists.to_stored()
        store.put_structure(LISTS, params, data)
        index.commit()
    todo = store.features_lacking(METHOD, lists.method)
    count = 0
    for start in range(0, len(todo), LISTS_BATCH):
        blobs = store.features_of(METHOD, todo[start : start + LISTS_BATCH])
        blocks = {sha: _keys(blob) for sha, blob in blobs.items()}
        numbers = lists.assign(np.concatenate(list(blocks.values()))).astype(np.uint16)  # nlist <= 2^16
        rows, at = [], 0
        for sha, block in blocks.items():
            rows.append((sha, numbers[at : at + len(block)].tobytes()))
            at += len(block)
        store.begin()
        store.put_features(lists.method, rows)
        index.commit()
        count += len(rows)
        if progress:
            progress(len(rows), len(todo))
    return count


def _keys(blob: bytes) -> np.ndarray:
    """A stored features blob as the descriptors the search takes from it."""
    return np.frombuffer(blob, dtype=np.uint8).reshape(-1, 32)[:PER_REFERENCE]


def _stored_descriptors(
    rows: Iterable[tuple[str, list[str], bytes | None]],
) -> Iterator[tuple[str, list[str], np.ndarray]]:
    for sha, where, blob in rows:
        if blob is not None:
            yield sha, where, _keys(blob)


def _owned(
    references: Iterable[tuple[str, list[str], np.ndarray]], owners: list[str], paths: dict[str, list[str]]
) -> Iterator[tuple[int, str, np.ndarray]]:
    """(owner number, sha256, its PER_REFERENCE strongest descriptors) of each reference with any,
    numbered in order as it is appended to ``owners`` (its paths put in ``paths``)."""
    for sha256, where, descriptors in references:
        if len(descriptors) == 0:
            continue
        paths[sha256] = where
        owners.append(sha256)
        yield len(owners) - 1, sha256, descriptors[:PER_REFERENCE]


def _assignment(assignments: Mapping[str, bytes] | None, sha256: str, count: int, nlist: int) -> np.ndarray:
    """A content's stored list numbers, or -1s where none (or none that fit) are stored."""
    blob = assignments.get(sha256) if assignments else None
    if blob is not None and len(blob) == 2 * count:
        numbers = np.frombuffer(blob, dtype=np.uint16).astype(np.int32)
        if numbers.size == 0 or numbers.max() < nlist:
            return numbers
    return np.full(count, -1, np.int32)


def _fill(index: Any, descriptors: np.ndarray, owners: np.ndarray, numbers: np.ndarray) -> int:
    """Add descriptors to the inverted file, each under its owner's id: into its known list
    (``numbers`` >= 0), or through the quantizer where none is known. How many went through it."""
    known = numbers >= 0
    if known.all():  # the usual case with stored lists: no copy of the descriptors
        _add_assigned(index, descriptors, owners, numbers)
        return 0
    _add_assigned(index, descriptors[known], owners[known], numbers[known])
    # the quantizer finds these lists (the costly part at 10^5 references)
    index.add_with_ids(np.ascontiguousarray(descriptors[~known]), owners[~known].astype(np.int64))
    return int((~known).sum())


def _stored_count(index: Index) -> int:
    """Descriptors the search would hold from the features stored in ``index`` (without reading them)."""
    return sum(min(length // 32, PER_REFERENCE) for length in index.store.feature_lengths(METHOD).values())


def _add_assigned(index: Any, descriptors: np.ndarray, ids: np.ndarray, lists: np.ndarray) -> None:
    """Fill the inverted lists with descriptors whose list is known, without asking the quantizer
    (the lists end up as ``add_with_ids`` would leave them: tests/test_keypoints.py)."""
    import faiss

    if len(descriptors) == 0:
        return
    # named arrays: a pointer from swig_ptr does not keep a temporary alive
    codes = np.ascontiguousarray(descriptors, dtype=np.uint8)
    owners = np.ascontiguousarray(ids, dtype=np.int64)
    numbers = np.ascontiguousarray(lists, dtype=np.int64)
    index.add_core(len(codes), faiss.swig_ptr(codes), faiss.swig_ptr(owners), faiss.swig_ptr(numbers))


def _lists_for(descriptors: int) -> int:
    """Inverted lists for an IVF over this many descriptors: a power of two near 8 sqrt(n), at most
    2^16 (the stored list numbers are two bytes)."""
    return int(2 ** max(6, min(16, round(np.log2(8 * np.sqrt(max(1, descriptors)))))))


def _probes_for(descriptors: int, nlist: int) -> int:
    """Lists visited per query descriptor: as many as hold about SCAN_BUDGET entries."""
    per_list = max(1.0, descriptors / nlist)
    return int(max(MIN_PROBES, min(MAX_PROBES, round(SCAN_BUDGET / per_list))))
