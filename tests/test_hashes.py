import imagehash
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageOps

from provenance import fingerprint
from provenance.decode import register_formats
from provenance.hashes import HASH_KINDS, distance, pdq_available

from conftest import IMAGE_FIXTURES, corpus_path, ids

register_formats()


def reference(path, function=imagehash.phash):
    """What a user of imagehash computes: the hash of the fully decoded, EXIF-oriented image."""
    with Image.open(path) as image:
        return str(function(ImageOps.exif_transpose(image)))


@pytest.mark.parametrize("path", IMAGE_FIXTURES, ids=ids(IMAGE_FIXTURES))
def test_phash_is_within_two_bits_of_imagehash(path):
    ours = fingerprint(path).hashes["phash"]
    assert distance(ours, reference(path)) <= 2


@pytest.mark.parametrize("path", IMAGE_FIXTURES, ids=ids(IMAGE_FIXTURES))
def test_exact_mode_is_bit_identical_to_imagehash(path):
    hashes = fingerprint(path, exact_hashes=True).hashes
    for name, function in [("phash", imagehash.phash), ("dhash", imagehash.dhash),
                           ("ahash", imagehash.average_hash)]:
        assert hashes[name] == reference(path, function), name


def test_reduced_decoding_really_happens_on_large_jpegs():
    # the Reconyx fixture is 2048x1536: 1536/4 is the last DCT scale keeping >= 256 px a side
    from provenance.decode import hashing_images

    path = next(p for p in IMAGE_FIXTURES if p.name.startswith("23b3135"))
    with Image.open(path) as image:
        assert hashing_images(image).reduced.size == (512, 384)
    with Image.open(path) as image:
        assert hashing_images(image, exact=True).full.size == (2048, 1536)


@pytest.mark.corpus
def test_phash_agrees_with_imagehash_on_the_corpus():
    """The promise: equal for >= 99% of the corpus's photos, never more than 2 bits apart."""
    root = corpus_path()
    equal, checked, worst = 0, 0, []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            with Image.open(path) as image:
                if image.width * image.height > 89_000_000:
                    continue
            expected = reference(path)
        except Exception:
            continue  # not something imagehash can hash either
        ours = fingerprint(path).hashes.get("phash")
        if ours is None:
            continue
        checked += 1
        gap = distance(ours, expected)
        equal += gap == 0
        if gap:
            worst.append((gap, str(path.relative_to(root))))
    print(f"phash equal to imagehash for {equal}/{checked}; differing: {sorted(worst, reverse=True)}")
    assert checked > 1000
    assert equal / checked >= 0.99
    assert all(gap <= 2 for gap, _ in worst)


@pytest.mark.skipif(not pdq_available(), reason="pdqhash is not installed (pip install 'provenance[pdq]')")
@pytest.mark.parametrize("path", IMAGE_FIXTURES[:4], ids=ids(IMAGE_FIXTURES[:4]))
def test_pdq_hash_and_quality(path):
    import numpy as np
    import pdqhash

    hashes = fingerprint(path).hashes
    assert len(hashes["pdq"]) == 64 and 0 <= hashes["pdq_quality"] <= 100
    # on the same pixels, our hex is pdqhash's bit vector read in order (python-threatexchange's convention)
    with Image.open(path) as image:
        vector, _ = pdqhash.compute(np.asarray(ImageOps.exif_transpose(image).convert("RGB")))
    assert distance(hashes["pdq"], "".join(f"{int(''.join(map(str, vector[i:i + 4])), 2):x}"
                                           for i in range(0, 256, 4))) <= 24


def test_registry_names_bits():
    assert {k: v.bits for k, v in HASH_KINDS.items() if k != "pdq"} == {
        "phash": 64, "dhash": 64, "ahash": 64, "whash": 64, "colorhash": 42}


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_distance_is_hamming(a, b):
    assert distance(f"{a:016x}", f"{b:016x}") == sum(x != y for x, y in zip(f"{a:064b}", f"{b:064b}"))


def test_distance_refuses_different_kinds():
    with pytest.raises(ValueError):
        distance("ff", "fff")
