"""The hash-kind registry: every perceptual hash provenance computes, stores, searches and compares.

A ``HashKind`` names itself and states its bit length (its hex form follows), computes itself
on an image (and, where that is cheaper than eight computations, its eight dihedral variants),
measures the distance between two values, gives its default near and candidate radii and the
search structure that serves it, and offers ``examples()`` that tests reuse. Fingerprinting,
index storage, ``lookup``, near search, dedup distances and match candidates iterate this
registry; nothing outside it names a kind except where that kind's own meaning is used on
purpose (PDQ's quality score, dedup's "pHash and PDQ must agree" rule), said in a comment there.

Values are hex strings interoperable with imagehash (``str(imagehash.phash(im))``) and, for
PDQ, with python-threatexchange (bits in order, as 64 hex digits). ``Hash`` is the small value
type behind them: ``str(h)`` is the hex, ``h1 - h2`` the Hamming distance.

Plugins: another installed package adds a kind through the entry-point group
``provenance.hash_kinds``; its object is a ``HashKind`` (or a callable returning one or a
list of them). The minimal form is ``HashKind(name="rowmean", bits=64, compute=f)``, where
``f(image)`` receives the upright RGB image the other perceptual hashes see and returns the
hash as an ``int`` of ``bits`` bits. Worker processes load plugins the same way.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .defaults import MIN_PDQ_QUALITY

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from .search import HammingIndex

#: the entry-point group through which other packages add hash kinds
ENTRY_POINT_GROUP = "provenance.hash_kinds"

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _transposed(method: str) -> Callable[[Image.Image], Image.Image]:
    """``image.transpose(Image.Transpose[method])`` (Pillow is imported when a picture is transformed)."""

    def transform(image: Image.Image) -> Image.Image:
        from PIL import Image

        return image.transpose(Image.Transpose[method])

    return transform


#: the eight rotations and flips of a picture, named as reports name the variant a copy was closest on
#: (rotations are clockwise: Pillow's ROTATE_270 turns a picture a quarter clockwise)
DIHEDRAL: tuple[tuple[str, Callable[[Image.Image], Image.Image]], ...] = (
    ("as is", lambda im: im),
    ("mirrored", _transposed("FLIP_LEFT_RIGHT")),
    ("rotated 90°", _transposed("ROTATE_270")),
    ("rotated 180°", _transposed("ROTATE_180")),
    ("rotated 270°", _transposed("ROTATE_90")),
    ("flipped vertically", _transposed("FLIP_TOP_BOTTOM")),
    ("transposed", _transposed("TRANSPOSE")),
    ("transversed", _transposed("TRANSVERSE")),
)
VARIANT_NAMES = tuple(name for name, _ in DIHEDRAL)


@dataclass(frozen=True, order=True)
class Hash:
    """One hash value: ``str(h)`` is its hex (imagehash's form), ``h1 - h2`` the Hamming distance."""

    value: int
    bits: int

    def __post_init__(self) -> None:
        if not 0 <= self.value < 1 << self.bits:
            raise ValueError(f"{self.value:#x} does not fit in {self.bits} bits")

    @classmethod
    def from_hex(cls, text: str, bits: int | None = None) -> Hash:
        """Parse imagehash-style hex (most significant digit first); ``bits`` defaults to 4 per digit."""
        text = text.strip().lower()
        if not text or not all(c in "0123456789abcdef" for c in text):
            raise ValueError(f"not a hex hash: {text!r}")
        bits = 4 * len(text) if bits is None else bits
        if len(text) != -(-bits // 4):
            raise ValueError(f"a {bits}-bit hash has {-(-bits // 4)} hex digits, not {len(text)}")
        return cls(int(text, 16), bits)

    @classmethod
    def from_imagehash(cls, value: Any) -> Hash:
        """From an ``imagehash.ImageHash`` (its boolean array, row by row, is the bit string)."""
        flat = [bool(b) for b in value.hash.flatten()]
        return cls(_bits_to_int(flat), len(flat))

    def __str__(self) -> str:
        return f"{self.value:0{-(-self.bits // 4)}x}"

    def __int__(self) -> int:
        return self.value

    def __sub__(self, other: Hash | str | int) -> int:
        if isinstance(other, str):
            other = Hash.from_hex(other, self.bits)
        value = other.value if isinstance(other, Hash) else int(other)
        if isinstance(other, Hash) and other.bits != self.bits:
            raise ValueError(f"hashes of different lengths: {self.bits} and {other.bits} bits")
        return (self.value ^ value).bit_count()


def _bits_to_int(bits: Iterable[bool]) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | bool(bit)
    return value


@dataclass(frozen=True)
class Comparison:
    """Whether two values of a kind are within a threshold, and their distance."""

    match: bool
    distance: int


def linear_index(words: np.ndarray, radius: int) -> HammingIndex:
    """The default search structure: a linear scan (exact; the oracle for faster ones)."""
    from .search import BruteForceIndex

    return BruteForceIndex(words)


def multi_index(words: np.ndarray, radius: int) -> HammingIndex:
    """A linear scan below ``search.BRUTE_FORCE_BELOW`` values, multi-index hashing above."""
    from .search import build_index

    return build_index(words, radius)


#: an image → the hash as an int, or (int, extra record fields) for kinds that report more
ComputeFunction = Callable[["Image.Image"], "int | tuple[int, Mapping[str, Any]]"]


@dataclass(frozen=True)
class HashKind:
    """One kind of perceptual hash. Only ``name``, ``bits`` and ``compute`` are required."""

    name: str
    bits: int
    #: the upright image (see ``pixels`` and ``resolution``) → the hash as an int of ``bits`` bits
    compute: ComputeFunction
    #: the pixels ``compute`` is given: "rgb" (converted), "luma" (one grayscale copy shared by every
    #: such kind, as imagehash converts to L itself), or "native" (the decoded mode, RGB where a
    #: conversion of the kind's own refuses it)
    pixels: Literal["rgb", "luma", "native"] = "rgb"
    #: "full": the full-resolution decode when one was made (formats without reduced decoding, or
    #: --exact-hashes); "reduced": the image reduced to at least 256 px a side
    resolution: Literal["full", "reduced"] = "reduced"
    #: lookup's near radius in bits; default: 10 bits per 64 (imagehash's customary pHash cut)
    near_radius: int | None = None
    #: match's candidate radius in bits; default: 18 bits per 64 (wide on purpose: confirmation decides)
    candidate_radius: int | None = None
    #: whether ``lookup`` searches near values of this kind (and match evidence states its distance)
    near_search: bool = True
    #: whether ``match`` looks for candidates with this kind over the query's eight variants
    candidates: bool = False
    #: fields this kind adds beside its hex in a record's ``hashes`` (PDQ's quality)
    extra_fields: tuple[str, ...] = ()
    #: builds the search structure over this kind's values: (uint64 words, radius) → HammingIndex
    index: Callable[[np.ndarray, int], HammingIndex] = linear_index
    #: the eight values of ``DIHEDRAL`` at once, when cheaper than eight computations
    dihedral: Callable[[Image.Image], Sequence[int]] | None = None
    #: False when the library behind it is not installed (the kind is then never computed)
    available: bool = True
    #: why it is unavailable, or what it is (shown by ``provenance --version``)
    description: str = ""
    #: example values (hex); by default the kind's hashes of a few generated pictures
    example_values: tuple[str, ...] = field(default=(), compare=False)
    #: how evidence sentences name it ("pHash distance 3"); by default the name in capitals
    label: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"hash kind name {self.name!r}: use 1-32 lowercase letters, digits and _")
        if not 1 <= self.bits <= 4096:
            raise ValueError(f"hash kind {self.name}: bits must be 1-4096, not {self.bits}")
        if self.pixels not in ("rgb", "luma", "native") or self.resolution not in ("full", "reduced"):
            raise ValueError(f"hash kind {self.name}: pixels must be rgb|luma|native, resolution full|reduced")
        if self.near_radius is None:
            object.__setattr__(self, "near_radius", max(1, round(self.bits * 10 / 64)))
        if self.candidate_radius is None:
            object.__setattr__(self, "candidate_radius", max(1, round(self.bits * 18 / 64)))
        if not self.label:
            object.__setattr__(self, "label", self.name.upper())

    @property
    def hex_digits(self) -> int:
        """How many hex digits a value takes (imagehash pads to whole digits: 42 bits → 11)."""
        return -(-self.bits // 4)

    @property
    def fields(self) -> tuple[str, ...]:
        """The keys this kind writes in a record's ``hashes``."""
        return (self.name, *self.extra_fields)

    def to_hex(self, value: int) -> str:
        return str(Hash(value, self.bits))

    def parse(self, text: str) -> Hash:
        """A hex value of this kind; ``ValueError`` for the wrong length or digits."""
        return Hash.from_hex(text, self.bits)

    def distance(self, a: str | Hash, b: str | Hash) -> int:
        """Hamming distance between two values of this kind."""
        first = a if isinstance(a, Hash) else self.parse(a)
        return first - (b if isinstance(b, Hash) else self.parse(b))

    def compare(self, a: str | Hash, b: str | Hash, threshold: int | None = None) -> Comparison:
        """Whether ``a`` and ``b`` are within ``threshold`` bits (default: the near radius)."""
        gap = self.distance(a, b)
        return Comparison(gap <= (int(self.near_radius or 0) if threshold is None else threshold), gap)

    def hash_image(self, image: Image.Image) -> dict[str, Any]:
        """The fields this kind adds to a record's ``hashes`` for ``image`` (already in its pixels form)."""
        out = self.compute(image)
        value, extra = out if isinstance(out, tuple) else (out, {})
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"hash kind {self.name} returned {type(value).__name__}, not int")
        return {self.name: self.to_hex(value), **{k: extra[k] for k in self.extra_fields if k in extra}}

    def variants(self, image: Image.Image) -> list[tuple[str, str]]:
        """(variant name, hex) for the eight rotations and flips of ``image`` (in ``DIHEDRAL`` order)."""
        prepared = prepare(image, self.pixels)
        if self.dihedral is not None:
            values = list(self.dihedral(prepared))
        else:
            values = [_value(self.compute(transform(prepared))) for _, transform in DIHEDRAL]
        return [(name, self.to_hex(v)) for (name, _), v in zip(DIHEDRAL, values)]

    def words(self, values: Sequence[str]) -> np.ndarray:
        """Hex values of this kind as rows of uint64 words, the form search structures take."""
        from .search import hex_to_words

        return hex_to_words(list(values), self.bits)

    def build_index(self, values: Sequence[str], radius: int) -> HammingIndex:
        """The search structure over hex ``values`` of this kind."""
        return self.index(self.words(values), radius)

    def examples(self) -> list[str]:
        """Example values (hex) for tests and demos."""
        if self.example_values:
            return list(self.example_values)
        if not self.available:
            return []
        return [self.hash_image(prepare(image, self.pixels))[self.name] for image in example_images()]


def _value(out: int | tuple[int, Mapping[str, Any]]) -> int:
    return out[0] if isinstance(out, tuple) else out


def example_images() -> list[Image.Image]:
    """Three small generated pictures with structure in both directions (examples and tests)."""
    from PIL import Image

    gradient = Image.linear_gradient("L").resize((96, 64)).convert("RGB")
    stripes = Image.new("RGB", (80, 80), (240, 240, 240))
    for x in range(0, 80, 20):
        stripes.paste((30, 60, 200), (x, 0, x + 7, 60))
    radial = Image.radial_gradient("L").resize((72, 54))
    spot = Image.merge(
        "RGB", (radial, radial.transpose(Image.Transpose.ROTATE_180), Image.linear_gradient("L").resize((72, 54)))
    )
    return [gradient, stripes, spot]


# -- the built-in kinds ----------------------------------------------------------------------------


def _imagehash(name: str) -> Callable[[Image.Image], int]:
    """imagehash's function ``name`` as a compute function (imagehash is imported on first use)."""

    def compute(image: Image.Image) -> int:
        import imagehash

        return Hash.from_imagehash(getattr(imagehash, name)(image)).value

    return compute


def _phash(image: Image.Image) -> int:
    from . import imagehash_fast

    return int(imagehash_fast.phash(image), 16)


def _phash_dihedral(image: Image.Image) -> list[int]:
    """pHash of the eight variants from one DCT: flipping the 32x32 input negates every odd
    coefficient along that axis, and transposing it transposes the coefficients. Measured: the
    same bits as eight imagehash computations, or within 2 (the 32x32 resize is not mirror-exact)."""
    import numpy as np

    from .imagehash_fast import phash_coefficients

    low = phash_coefficients(image)
    signs = np.where(np.arange(8) % 2, -1.0, 1.0)
    flip_cols, flip_rows = low * signs[None, :], low * signs[:, None]
    both = low * signs[:, None] * signs[None, :]
    # DIHEDRAL order: as is, mirrored, rotated 90° (= flip rows, then transpose), 180°, 270°,
    # flipped, transposed, transversed
    variants = (low, flip_cols, flip_rows.T, both, flip_cols.T, flip_rows, low.T, both.T)
    return [_bits_to_int((v > np.median(v)).flatten()) for v in variants]


def _whash(image: Image.Image) -> int:
    from . import imagehash_fast

    return int(imagehash_fast.whash(image), 16)


def _colorhash(image: Image.Image) -> int:
    from . import imagehash_fast

    return int(imagehash_fast.colorhash(image), 16)


#: the optional extra: pip install 'provenance[pdq]' (imported on first use: it loads numpy)
_HAVE_PDQ = importlib.util.find_spec("pdqhash") is not None


def _pdq_array(image: Image.Image) -> Any:
    import numpy as np

    return np.ascontiguousarray(np.asarray(image if image.mode == "RGB" else image.convert("RGB")))


def _pdq(image: Image.Image) -> tuple[int, dict[str, Any]]:
    import pdqhash

    vector, quality = pdqhash.compute(_pdq_array(image))
    return _bits_to_int(vector), {"pdq_quality": int(quality)}


#: pdqhash.compute_dihedral's order (original, rotations counter-clockwise by 90, 180, 270, flips
#: about the horizontal and vertical axes, then the two diagonals) → positions in DIHEDRAL
_PDQ_ORDER = (
    "as is",
    "rotated 270°",
    "rotated 180°",
    "rotated 90°",
    "flipped vertically",
    "mirrored",
    "transposed",
    "transversed",
)


def _pdq_dihedral(image: Image.Image) -> list[int]:
    """PDQ's own dihedral computation (one DCT): each variant within about 20 bits of computing it on
    the transformed image, and over 90 bits from every other variant (measured on the corpus)."""
    import pdqhash

    vectors, _ = pdqhash.compute_dihedral(_pdq_array(image))
    by_name = dict(zip(_PDQ_ORDER, (_bits_to_int(v) for v in vectors)))
    return [by_name[name] for name in VARIANT_NAMES]


def _builtin_kinds() -> list[HashKind]:
    return [
        HashKind(
            "phash",
            64,
            _phash,
            pixels="luma",
            resolution="full",
            near_radius=10,
            candidate_radius=18,
            candidates=True,
            index=multi_index,
            dihedral=_phash_dihedral,
            label="pHash",
            description="imagehash's DCT perceptual hash",
        ),
        HashKind(
            "dhash",
            64,
            _imagehash("dhash"),
            pixels="luma",
            resolution="full",
            near_radius=10,
            candidate_radius=18,
            candidates=True,
            near_search=False,
            index=multi_index,
            description="imagehash's difference hash",
        ),
        HashKind(
            "ahash",
            64,
            _imagehash("average_hash"),
            pixels="luma",
            resolution="full",
            near_radius=10,
            near_search=False,
            index=multi_index,
            description="imagehash's average hash",
        ),
        HashKind(
            "whash",
            64,
            _whash,
            pixels="luma",
            near_radius=10,
            near_search=False,
            index=multi_index,
            description="imagehash's Haar wavelet hash",
        ),
        HashKind(
            "colorhash",
            42,
            _colorhash,
            pixels="native",
            near_radius=4,
            near_search=False,
            index=multi_index,
            description="imagehash's colour hash",
        ),
        # PDQ's near radius 31 is Meta's recommended match threshold; its candidate radius is wide on purpose
        HashKind(
            "pdq",
            256,
            _pdq,
            pixels="native",
            near_radius=31,
            candidate_radius=80,
            candidates=True,
            extra_fields=("pdq_quality",),
            index=multi_index,
            dihedral=_pdq_dihedral,
            available=_HAVE_PDQ,
            description="Meta's PDQ hash"
            if _HAVE_PDQ
            else "not installed: records have no pdq fields (pip install 'provenance[pdq]')",
        ),
    ]


# -- the registry ----------------------------------------------------------------------------------

#: the kinds provenance itself defines (the others come from plugins)
BUILTIN_NAMES = ("phash", "dhash", "ahash", "whash", "colorhash", "pdq")

_REGISTRY: dict[str, HashKind] = {}
_PLUGIN_ERRORS: list[str] = []
_loaded = False


def register(kind: HashKind) -> HashKind:
    """Add a kind to the registry (plugins and tests); a name may be registered once."""
    _ensure_loaded()
    _add(kind)
    return kind


def _add(kind: HashKind) -> None:
    if not isinstance(kind, HashKind):
        raise TypeError(f"not a HashKind: {kind!r}")
    if kind.name in _REGISTRY:
        raise ValueError(f"a hash kind named {kind.name!r} is already registered")
    clash = {f for k in _REGISTRY.values() for f in k.fields} & set(kind.fields)
    if clash:
        raise ValueError(f"hash kind {kind.name!r} would write fields already written: {', '.join(sorted(clash))}")
    _REGISTRY[kind.name] = kind


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for kind in _builtin_kinds():
        _add(kind)
    _load_plugins()


def _load_plugins() -> None:
    """Kinds of other installed packages (entry-point group ``provenance.hash_kinds``); one that fails
    to load is left out with a warning, never a failed run."""
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            loaded = entry.load()
            found = loaded() if callable(loaded) and not isinstance(loaded, HashKind) else loaded
            for kind in found if isinstance(found, (list, tuple)) else [found]:
                _add(kind)
        except Exception as exc:  # noqa: BLE001 - another package's bug must not stop a run
            message = f"hash kind plugin {entry.name} ({entry.value}) not loaded: {type(exc).__name__}: {exc}"
            _PLUGIN_ERRORS.append(message)
            warnings.warn(message, RuntimeWarning, stacklevel=2)


def registered() -> dict[str, HashKind]:
    """Every registered kind, available or not, in record order (built-ins, then plugins by name)."""
    _ensure_loaded()
    return dict(_REGISTRY)


def kinds() -> list[HashKind]:
    """The kinds computed here (their library is installed), in record order."""
    return [k for k in registered().values() if k.available]


def get(name: str) -> HashKind:
    """The kind named ``name``; ``KeyError`` when none is registered."""
    return registered()[name]


def plugin_errors() -> list[str]:
    """Why plugins that were found could not be loaded."""
    _ensure_loaded()
    return list(_PLUGIN_ERRORS)


def pdq_available() -> bool:
    """Whether the optional PDQ hash is installed."""
    return get("pdq").available


def record_fields() -> list[str]:
    """Every key a record's ``hashes`` can hold, in record order."""
    return [f for kind in registered().values() for f in kind.fields]


def kinds_by_hex_length() -> dict[int, list[HashKind]]:
    """The available kinds grouped by the number of hex digits of a value (how ``lookup`` tells them)."""
    out: dict[int, list[HashKind]] = {}
    for kind in kinds():
        out.setdefault(kind.hex_digits, []).append(kind)
    return out


def distance(a: str, b: str) -> int:
    """Hamming distance between two hashes of the same kind, given as hex."""
    if len(a) != len(b):
        raise ValueError(f"hashes of different lengths: {len(a)} and {len(b)} hex digits")
    return Hash.from_hex(a) - Hash.from_hex(b)


def distances(a: Mapping[str, Any], b: Mapping[str, Any], names: Iterable[str] | None = None) -> dict[str, int]:
    """Distance per kind between two records' ``hashes`` (every kind both have, or those ``names``)."""
    out = {}
    for kind in kinds():
        if names is not None and kind.name not in names:
            continue
        x, y = a.get(kind.name), b.get(kind.name)
        if isinstance(x, str) and isinstance(y, str) and len(x) == len(y) == kind.hex_digits:
            out[kind.name] = kind.distance(x, y)
    return out


def normalised(found: Mapping[str, int]) -> float:
    """A distance comparable across kinds: the smallest fraction of differing bits (1.0 when none)."""
    known = registered()
    fractions = [d / known[k].bits for k, d in found.items() if k in known]
    return min(fractions) if fractions else 1.0


def low_information(hashes: Mapping[str, Any], min_pdq_quality: int = MIN_PDQ_QUALITY) -> bool:
    """Whether a record's hashes describe a flat or near-uniform image, which hashes alone cannot tell apart.

    PDQ's quality score is the measure where PDQ is installed; without it, a (near) uniform image
    has almost no horizontal gradients, so its dHash is (almost) all zeros or all ones.
    """
    quality = hashes.get("pdq_quality")
    if quality is not None:
        return bool(quality < min_pdq_quality)
    bits = bin(int(hashes.get("dhash") or "0", 16)).count("1")
    return bits <= 2 or bits >= 62


def prepare(image: Image.Image, pixels: str) -> Image.Image:
    """``image`` in the form a kind with ``pixels`` receives."""
    from .decode import to_rgb

    if pixels == "luma":
        return _luma(image)
    if pixels == "rgb":
        return image if image.mode == "RGB" else to_rgb(image)
    return image


def compute_hashes(
    image: Image.Image,
    *,
    kinds_to_compute: Iterable[HashKind] | None = None,
    on_error: Callable[[str, Exception], None] | None = None,
) -> dict[str, Any]:
    """Compute the given kinds (every available one by default) on ``image``; a kind that fails is left out."""
    from .decode import to_rgb

    results: dict[str, Any] = {}
    prepared: dict[str, Image.Image] = {}  # one conversion per pixel form, shared by the kinds
    for kind in kinds() if kinds_to_compute is None else kinds_to_compute:
        try:
            if kind.pixels not in prepared:
                prepared[kind.pixels] = prepare(image, kind.pixels)
            try:
                results.update(kind.hash_image(prepared[kind.pixels]))
            except (ValueError, OSError):
                if kind.pixels != "native":
                    raise
                results.update(kind.hash_image(to_rgb(image)))  # modes some conversions refuse (I;16, LAB)
        except Exception as exc:  # noqa: BLE001 - a broken hash must not lose the record
            if on_error is not None:
                on_error(kind.name, exc)
    return results


def _luma(image: Image.Image) -> Image.Image:
    from .decode import to_rgb

    try:
        return image.convert("L")
    except ValueError:  # modes Pillow cannot convert to L directly (CIELAB)
        return to_rgb(image).convert("L")
