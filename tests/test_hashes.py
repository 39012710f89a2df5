import imagehash
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageOps

from provenance import fingerprint, imagehash_fast
from provenance.decode import register_formats
from provenance.hashes import distance, pdq_available, registered

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
    for name, function in [("phash", imagehash.phash), ("dhash", imagehash.dhash), ("ahash", imagehash.average_hash)]:
        assert hashes[name] == reference(path, function), name


def test_reduced_decoding_really_happens_on_large_jpegs():
    # the Reconyx fixture is 2048x1536: 1536/4 is the last DCT scale keeping >= 256 px a side
    from provenance.decode import hashing_images

    path = next(p for p in IMAGE_FIXTURES if p.name.startswith("23b3135"))
    with Image.open(path) as image:
        assert hashing_images(image).reduced.size == (512, 384)
    with Image.open(path) as image:
        images = hashing_images(image, exact=True)
        assert images.compat.size == (2048, 1536) and images.full
    with Image.open(path) as image:  # pHash, dHash and aHash see the reduced decode too
        images = hashing_images(image)
        assert images.compat.size == (512, 384) and not images.full


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
    assert (
        distance(hashes["pdq"], "".join(f"{int(''.join(map(str, vector[i : i + 4])), 2):x}" for i in range(0, 256, 4)))
        <= 24
    )


def test_registry_names_bits():
    assert {k: v.bits for k, v in registered().items() if k != "pdq"} == {
        "phash": 64,
        "dhash": 64,
        "ahash": 64,
        "whash": 64,
        "colorhash": 42,
    }


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_distance_is_hamming(a, b):
    assert distance(f"{a:016x}", f"{b:016x}") == sum(x != y for x, y in zip(f"{a:064b}", f"{b:064b}"))


def test_distance_refuses_different_kinds():
    with pytest.raises(ValueError):
        distance("ff", "fff")


def _hex_or_error(function, image):
    try:
        return str(function(image))
    except Exception as exc:  # the same refusal is the same behaviour
        return type(exc).__name__


def _same_as_imagehash(image):
    for ours, theirs in [
        (imagehash_fast.phash, imagehash.phash),
        (imagehash_fast.whash, imagehash.whash),
        (imagehash_fast.colorhash, imagehash.colorhash),
    ]:
        assert _hex_or_error(ours, image) == _hex_or_error(theirs, image), (ours.__name__, image.mode, image.size)


def _halves(size, dark_blocks):
    """A square image whose first ``dark_blocks`` of its 8x8 grid of blocks are black: whash's block sums
    tie when > 32."""
    image = Image.new("L", (size, size), 200)
    block = size // 8
    for index in range(dark_blocks):
        image.paste(0, (index % 8 * block, index // 8 * block, (index % 8 + 1) * block, (index // 8 + 1) * block))
    return image


@pytest.mark.parametrize("path", IMAGE_FIXTURES, ids=ids(IMAGE_FIXTURES))
def test_fast_phash_whash_and_colorhash_are_imagehash_bit_for_bit_on_fixtures(path):
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        _same_as_imagehash(image)
        _same_as_imagehash(image.convert("L"))
        _same_as_imagehash(image.reduce(4))


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (64, 48), (128, 128, 128)),  # uniform: every block ties
        _halves(64, 40),
        _halves(64, 32),
        _halves(256, 33),
        _halves(64, 0),
        Image.new("L", (3, 5), 7),
        Image.new("RGB", (1, 300), (255, 0, 0)),
        Image.new("RGBA", (40, 40), (10, 200, 30, 0)),
        Image.new("P", (40, 40), 3),
        Image.new("1", (40, 40), 1),
        Image.new("I;16", (40, 40), 40000),
        Image.new("CMYK", (40, 40), (0, 255, 0, 0)),
        Image.new("LA", (9, 9)),
    ],
    ids=lambda image: f"{image.mode}-{image.width}x{image.height}",
)
def test_fast_hashes_on_ties_odd_sizes_and_modes(image):
    _same_as_imagehash(image)


@given(
    st.integers(1, 70),
    st.integers(1, 70),
    st.integers(0, 255),
    st.sampled_from([1, 2, 3, 200]),
    st.binary(min_size=64, max_size=64),
)
def test_fast_hashes_on_random_images(width, height, base, levels, noise):
    """Random pixels in few levels, so that block sums often tie, at any small size."""
    import numpy as np

    rng = np.random.default_rng(list(noise))
    pixels = (base + rng.integers(0, levels, size=(height, width, 3)) * (255 // max(1, levels - 1))) % 256
    _same_as_imagehash(Image.fromarray(pixels.astype("uint8"), "RGB"))


@pytest.mark.corpus
def test_fast_hashes_are_imagehash_bit_for_bit_on_the_corpus():
    root = corpus_path()
    checked = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            with Image.open(path) as image:
                if image.width * image.height > 40_000_000:
                    continue
                image = ImageOps.exif_transpose(image)
                image.load()
        except Exception:
            continue  # not an image Pillow can decode
        _same_as_imagehash(image)
        checked += 1
    assert checked > 1000


def test_hue_bins_are_numpy_histogram_bins():
    import numpy as np

    edges = np.linspace(0, 255, 7)  # imagehash.colorhash's hue bins
    assert [int(np.histogram([v], bins=edges)[0].argmax()) for v in range(256)] == imagehash_fast._HUE_BIN.tolist()
