import io
import struct
import time
import zlib

import imagehash
import pytest
from PIL import Image, ImageOps

from provenance import fingerprint
from provenance.decode import looks_like_image, register_formats

from conftest import FIXTURES, corpus_path


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a size but holds almost no data: a decompression bomb's header."""

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_refused_before_decoding():
    bomb = png_header_only(100_000, 100_000)  # 10 gigapixels, 30 GB decoded
    started = time.process_time()
    record = fingerprint(bomb, name="bomb.png")
    assert time.process_time() - started < 5  # refused from the header, not after allocating
    assert record.kind == "image"
    assert record.error["type"] == "ImageTooLarge"
    assert "10,000,000,000" in record.error["message"] and "--max-pixels" in record.error["message"]
    assert record.sha256 and record.md5  # digests are still there


def test_pixel_limit_is_configurable():
    photo = FIXTURES / "leak" / "23b313574a1e61545db171a23edd73b3.jpg"  # 2048x1536
    assert fingerprint(photo, max_pixels=3_000_000).error["type"] == "ImageTooLarge"
    assert fingerprint(photo, max_pixels=3_200_000).error is None
    assert fingerprint(png_header_only(2000, 2000), name="big.png", max_pixels=10**7).error["type"] == "CorruptImage"


def test_orientation_is_reported_and_applied_before_hashing():
    path = FIXTURES / "leak" / "305a4bd4be0448c128b087210fd2fcd8.jpg"  # landscape_6
    record = fingerprint(path)
    assert record.orientation == 6
    assert (record.width, record.height) == (450, 600)  # stored, before rotation
    upright = ImageOps.exif_transpose(Image.open(path))
    assert record.hashes["phash"] == str(imagehash.phash(upright))
    assert record.hashes["phash"] != str(imagehash.phash(Image.open(path)))


@pytest.mark.corpus
def test_all_orientations_hash_like_imagehash():
    for path in sorted(corpus_path("exif-samples", "jpg", "orientation").glob("*.jpg")):
        reference = str(imagehash.phash(ImageOps.exif_transpose(Image.open(path))))
        assert fingerprint(path).hashes["phash"] == reference, path.name


def test_heic_opens_hashes_and_has_metadata():
    record = fingerprint(FIXTURES / "leak" / "d5eb6cac1c9f68073dbecc01d154a7ee.heic")
    assert record.error is None
    assert record.format == "HEIF" and (record.width, record.height) == (1440, 960)
    assert len(record.hashes["phash"]) == 16
    assert record.image_data_sha256  # decoded pixels, as HEIF has no separable metadata here


@pytest.mark.corpus
def test_every_good_heif_and_avif_opens_hashes_and_gives_metadata():
    register_formats()
    paths = [
        p
        for folder in (
            corpus_path("heif", "heif"),
            corpus_path("heif", "heif_other"),
            corpus_path("heif", "heif_special"),
            corpus_path("exif-samples", "heic"),
            corpus_path("exif-samples", "avif"),
        )
        for p in sorted(folder.rglob("*"))
        if p.suffix.lower() in (".heic", ".heif", ".hif", ".avif")
    ]
    assert len(paths) > 30
    for path in paths:
        try:
            Image.open(path).load()
        except Exception:
            continue  # damaged on purpose: covered by the bad-input test
        record = fingerprint(path)
        assert record.error is None, (path.name, record.error)
        assert record.hashes.get("phash"), path.name
    iphone = fingerprint(corpus_path("exif-samples", "heic", "mobile", "iphone_13_pro_max.heic"))
    assert iphone.metadata["make"] == "Apple" and iphone.metadata["icc_profile"] == "Display P3"
    assert iphone.orientation == 6 and iphone.width < iphone.height  # libheif already rotated it


def test_truncated_jpeg_keeps_digests_and_says_why():
    data = (FIXTURES / "leak" / "23b313574a1e61545db171a23edd73b3.jpg").read_bytes()
    cut = data[: len(data) // 2]
    record = fingerprint(cut, name="cut.jpg")
    assert record.kind == "image" and record.format == "JPEG"
    assert record.error["type"] == "CorruptImage" and "truncated" in record.error["message"]
    assert record.metadata and record.metadata == fingerprint(data).metadata  # the EXIF at the start survived


def test_weak_signatures_need_their_extension():
    # Pillow's TGA reader accepts headers with no magic number; a leak's documents must not become images
    tga = bytes([0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0, 24, 0]) + b"\x00" * 12
    assert fingerprint(tga, name="minutes.txt").kind == "other"
    assert fingerprint(tga, name="texture.tga").kind == "image"


@pytest.mark.parametrize(
    "name, head, expected",
    [
        ("a.jpg", b"not really", True),
        ("a.bin", b"\xff\xd8\xff\xe0", True),
        ("a.bin", b"\x00\x00\x00\x18ftypheic", True),
        ("notes.txt", b"hello", False),
        (None, b"%PDF-1.7", False),
    ],
)
def test_what_counts_as_an_image_that_failed(name, head, expected):
    assert looks_like_image(name, head) is expected


def test_unopenable_image_named_like_one_is_an_error():
    record = fingerprint(b"\xff\xd8\xff\xe0garbage", name="photo.jpg")
    assert record.kind == "image" and record.error["type"] == "UnidentifiedImage"
    document = fingerprint(b"%PDF-1.7 minutes of the meeting", name="minutes.pdf")
    assert document.kind == "other" and document.error is None and document.sha256


def test_cmyk_and_palette_images_hash_like_imagehash():
    for mode in ("CMYK", "P", "LA", "I;16"):
        image = Image.open(FIXTURES / "leak" / "56cd6b2057623bfb70111b883678d436.jpg").convert("RGB")
        image = image.convert(mode) if mode != "I;16" else image.convert("L").convert("I;16")
        out = io.BytesIO()
        image.save(out, "TIFF")
        record = fingerprint(out.getvalue(), name=f"x-{mode}.tif")
        assert record.error is None, (mode, record.error)
        assert record.hashes["phash"] == str(imagehash.phash(Image.open(io.BytesIO(out.getvalue())))), mode
