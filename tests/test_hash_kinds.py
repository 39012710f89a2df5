"""One conformance test over every hash kind: the registered ones and the plugin of tests/plugins.

Each kind must round-trip its hex, measure Hamming distance (checked against XOR and popcount),
give sane radii, hash a real photo to a value of its length, name its eight variants so that each
is the transform it says, and serve searches exactly as a brute-force scan does. The built-in kinds
are also checked against the libraries they come from (imagehash, pdqhash)."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from provenance import hashes
from provenance.hashes import DIHEDRAL, VARIANT_NAMES, Hash, HashKind

from conftest import FIXTURES


def _plugin_kind() -> HashKind:
    path = Path(__file__).parent / "plugins" / "rowmean" / "provenance_rowmean" / "__init__.py"
    spec = importlib.util.spec_from_file_location("rowmean_conformance", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ROWMEAN


KINDS = [k for k in hashes.registered().values() if k.available] + [_plugin_kind()]

#: what the built-in kinds must equal, computed by their own libraries
ORACLES = {
    "phash": lambda im: str(imagehash.phash(im)),
    "dhash": lambda im: str(imagehash.dhash(im)),
    "ahash": lambda im: str(imagehash.average_hash(im)),
    "whash": lambda im: str(imagehash.whash(im)),
    "colorhash": lambda im: str(imagehash.colorhash(im)),
}


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A real, asymmetric photo, reduced as the variants of a query are."""
    with Image.open(FIXTURES / "leak" / "35b833f721ed391380a8ddf159852b50.jpg") as im:
        small = im.convert("RGB")
    small.thumbnail((512, 512))
    return small


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_hex_round_trip_and_distance(kind):
    examples = kind.examples()
    assert examples, "a kind offers example values"
    for text in examples:
        value = kind.parse(text)
        assert len(text) == kind.hex_digits == -(-kind.bits // 4)
        assert str(value) == text and value.bits == kind.bits and 0 <= int(value) < 2**kind.bits
        assert kind.distance(text, text) == 0
    rng = np.random.default_rng(len(kind.name))
    values = [int.from_bytes(rng.bytes(-(-kind.bits // 8)), "big") >> (-kind.bits % 8) for _ in range(6)]
    for a, b, c in itertools.permutations(values, 3):
        ha, hb, hc = (kind.to_hex(v) for v in (a, b, c))
        assert kind.distance(ha, hb) == bin(a ^ b).count("1") == kind.distance(hb, ha)
        assert kind.distance(ha, hc) <= kind.distance(ha, hb) + kind.distance(hb, hc)
        assert kind.compare(ha, hb, kind.distance(ha, hb)).match and not kind.compare(ha, hb, -1).match
    with pytest.raises(ValueError):
        kind.parse("0" * (kind.hex_digits + 1))
    with pytest.raises(ValueError):
        kind.parse("g" * kind.hex_digits)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_radii_and_fields(kind):
    assert 0 < kind.near_radius <= kind.bits and 0 < kind.candidate_radius <= kind.bits
    assert kind.fields[0] == kind.name and kind.label


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_hashes_a_photo_as_its_library_does(kind, photo):
    fields = kind.hash_image(hashes.prepare(photo, kind.pixels))
    assert set(fields) <= set(kind.fields) and len(fields[kind.name]) == kind.hex_digits
    if kind.name in ORACLES:
        assert fields[kind.name] == ORACLES[kind.name](photo)
    if kind.name == "pdq":
        import pdqhash

        vector, quality = pdqhash.compute(np.ascontiguousarray(np.asarray(photo)))
        assert fields["pdq"] == f"{int(''.join('1' if b else '0' for b in vector), 2):064x}"
        assert fields["pdq_quality"] == quality


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_each_variant_is_the_transform_it_names(kind, photo):
    variants = kind.variants(photo)
    assert [name for name, _ in variants] == list(VARIANT_NAMES)
    direct = {
        name: kind.hash_image(hashes.prepare(transform(photo), kind.pixels))[kind.name] for name, transform in DIHEDRAL
    }
    assert variants[0][1] == direct["as is"]
    for name, value in variants:
        if kind.dihedral is None:  # eight computations: exactly the transformed picture's hash
            assert value == direct[name]
        else:  # a shortcut: nearer its own transform than any other (resampling is not mirror-exact)
            own = kind.distance(value, direct[name])
            others = [kind.distance(value, v) for n, v in direct.items() if n != name and v != direct[name]]
            assert all(own < other for other in others), (name, own, others)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_its_search_structure_agrees_with_brute_force(kind):
    rng = np.random.default_rng(7)
    values = [
        kind.to_hex(int.from_bytes(rng.bytes(-(-kind.bits // 8)), "big") >> (-kind.bits % 8)) for _ in range(3000)
    ]
    # near copies of a few values, so that searches find something
    values += [kind.to_hex(int(kind.parse(v)) ^ (1 << (i % kind.bits))) for i, v in enumerate(values[:50])]
    radius = kind.near_radius
    structure = kind.build_index(values, radius)
    for query in values[:20]:
        rows, distances = structure.search(kind.words([query])[0], radius)
        expected = sorted(
            (kind.distance(query, v), i) for i, v in enumerate(values) if kind.distance(query, v) <= radius
        )
        assert sorted(zip(distances.tolist(), rows.tolist())) == expected


def test_hash_values_interoperate_with_imagehash(photo):
    theirs = imagehash.phash(photo)
    ours = Hash.from_imagehash(theirs)
    assert str(ours) == str(theirs) and Hash.from_hex(str(theirs)) == ours
    other = imagehash.phash(photo.rotate(5))
    assert ours - Hash.from_imagehash(other) == theirs - other
    assert ours - str(other) == theirs - other


def test_registry_refuses_clashes():
    with pytest.raises(ValueError, match="already registered"):
        hashes.register(HashKind(name="phash", bits=64, compute=lambda image: 0))
    with pytest.raises(ValueError, match="already written"):
        hashes.register(HashKind(name="other", bits=8, compute=lambda image: 0, extra_fields=("pdq_quality",)))
    with pytest.raises(ValueError):
        HashKind(name="Bad Name", bits=64, compute=lambda image: 0)
    assert "other" not in hashes.registered()


def test_a_kind_returning_no_int_costs_a_warning_not_the_record():
    image = Image.new("RGB", (64, 64), (10, 20, 30))
    wrong = HashKind(name="wrong", bits=8, compute=lambda image: "ff")
    problems = []
    found = hashes.compute_hashes(
        image,
        kinds_to_compute=[wrong, hashes.get("phash")],
        on_error=lambda name, exc: problems.append((name, type(exc).__name__)),
    )
    assert "wrong" not in found and "phash" in found and problems == [("wrong", "TypeError")]
