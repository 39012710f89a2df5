import hashlib
import io
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from provenance.containers import iter_jpeg_segments, iter_png_chunks
from provenance.digests import (
    StreamingDigests,
    encoded_image_data_sha256,
    file_digests,
    name_digest,
    pixel_data_sha256,
)
from provenance.testing.files import add_jpeg_comment
from provenance.testing.files import strip_metadata as strip_jpeg_metadata

from conftest import FIXTURES, IMAGE_FIXTURES, LEAK_FILES, MISNAMED, ids


@pytest.mark.parametrize("path", LEAK_FILES + IMAGE_FIXTURES, ids=ids(LEAK_FILES + IMAGE_FIXTURES))
def test_file_digests_agree_with_hashlib(path):
    data = path.read_bytes()
    assert file_digests(data) == {
        "md5": hashlib.md5(data).hexdigest(),
        "sha1": hashlib.sha1(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_streamed_digests_equal_one_shot():
    data = (FIXTURES / "leak" / "23b313574a1e61545db171a23edd73b3.jpg").read_bytes()
    streamed = StreamingDigests()
    for start in range(0, len(data), 4097):
        streamed.update(data[start : start + 4097])
    assert streamed.hexdigests() == file_digests(data)


@pytest.mark.parametrize(
    "path", [p for p in LEAK_FILES if p != MISNAMED], ids=ids([p for p in LEAK_FILES if p != MISNAMED])
)
def test_leak_names_match_their_md5(path):
    assert name_digest(path.name, file_digests(path.read_bytes())) == {"algorithm": "md5", "matches": True}


def test_misnamed_leak_file_stands_out():
    assert name_digest(MISNAMED.name, file_digests(MISNAMED.read_bytes())) == {"algorithm": "md5", "matches": False}


def test_name_digest_recognises_each_algorithm_and_case():
    data = b"some bytes"
    digests = file_digests(data)
    assert name_digest(f"{hashlib.sha1(data).hexdigest()}.png", digests) == {"algorithm": "sha1", "matches": True}
    upper = hashlib.sha256(data).hexdigest().upper()
    assert name_digest(f"dir/{upper}.jpg.part", digests) == {"algorithm": "sha256", "matches": True}
    assert name_digest("f" * 32 + ".jpg", digests) == {"algorithm": "md5", "matches": False}


@pytest.mark.parametrize("name", ["photo.jpg", "g" * 32 + ".jpg", "a" * 31 + ".jpg", "a" * 33, ".hidden", "", None])
def test_name_digest_is_null_for_names_that_are_not_digests(name):
    assert name_digest(name, file_digests(b"x")) is None


# --- image data digest ------------------------------------------------------------------------


JPEG_LEAK = [p for p in LEAK_FILES if p.suffix == ".jpg"]


@pytest.mark.parametrize("path", JPEG_LEAK, ids=ids(JPEG_LEAK))
def test_jpeg_image_data_ignores_metadata_segments(path):
    data = path.read_bytes()
    stripped = strip_jpeg_metadata(data)
    commented = add_jpeg_comment(stripped, b"<script>not pixels</script>")
    assert len(stripped) <= len(data)
    digest = encoded_image_data_sha256(data)
    assert encoded_image_data_sha256(stripped) == digest
    assert encoded_image_data_sha256(commented) == digest


@pytest.mark.parametrize("path", JPEG_LEAK, ids=ids(JPEG_LEAK))
def test_jpeg_image_data_changes_on_reencode(path):
    data = path.read_bytes()
    image = Image.open(io.BytesIO(data))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=image.info.get("exif", b""))
    assert encoded_image_data_sha256(out.getvalue()) != encoded_image_data_sha256(data)


def test_jpeg_image_data_changes_when_one_coefficient_changes():
    data = bytearray((FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg").read_bytes())
    before = encoded_image_data_sha256(bytes(data))
    sos = data.rindex(b"\xff\xda")  # the main image's scan, not the EXIF thumbnail's
    position = sos + 200
    data[position] = data[position] ^ 0x01 if data[position] not in (0xFE, 0xFF) else 0x00
    assert encoded_image_data_sha256(bytes(data)) != before


def test_jpeg_trailer_after_eoi_is_not_image_data():
    data = (FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg").read_bytes()
    assert encoded_image_data_sha256(data + b"PK\x03\x04appended archive") == encoded_image_data_sha256(data)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bytes(pixel: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (16, 8), (10, 20, 30))
    image.putpixel((3, 3), pixel)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def insert_before_idat(png: bytes, chunk: bytes) -> bytes:
    at = png.index(b"IDAT") - 4
    return png[:at] + chunk + png[at:]


def test_png_image_data_ignores_text_time_exif_and_icc():
    base = png_bytes((200, 0, 0))
    decorated = base
    for kind, payload in [
        (b"tEXt", b"Comment\x00<b>caption</b>"),
        (b"tIME", b"\x07\xe6\x01\x02\x03\x04\x05"),
        (b"eXIf", b"MM\x00*\x00\x00\x00\x08\x00\x00"),
        (b"iCCP", b"x\x00\x00" + zlib.compress(b"not a real profile")),
    ]:
        decorated = insert_before_idat(decorated, png_chunk(kind, payload))
    assert decorated != base
    assert encoded_image_data_sha256(decorated) == encoded_image_data_sha256(base)
    assert encoded_image_data_sha256(png_bytes((201, 0, 0))) != encoded_image_data_sha256(base)


def test_png_transparency_is_image_data():
    base = png_bytes((200, 0, 0))
    with_trns = insert_before_idat(base, png_chunk(b"tRNS", b"\x00\x0a\x00\x14\x00\x1e"))
    assert encoded_image_data_sha256(with_trns) != encoded_image_data_sha256(base)


def test_pixel_digest_ignores_webp_metadata_and_sees_one_pixel():
    image = Image.new("RGB", (32, 32), (90, 80, 70))
    plain, tagged, changed = io.BytesIO(), io.BytesIO(), io.BytesIO()
    image.save(plain, "WEBP", lossless=True)
    exif = Image.Exif()
    exif[0x010F] = "Some Camera"
    image.save(tagged, "WEBP", lossless=True, exif=exif.tobytes(), xmp=b"<x:xmpmeta/>")
    image.putpixel((5, 5), (91, 80, 70))
    image.save(changed, "WEBP", lossless=True)
    digests = [pixel_data_sha256([Image.open(io.BytesIO(b.getvalue()))]) for b in (plain, tagged, changed)]
    assert plain.getvalue() != tagged.getvalue()
    assert digests[0] == digests[1] != digests[2]


def test_pixel_digest_covers_size_and_mode():
    black_l = Image.new("L", (4, 2))
    black_l_rotated = Image.new("L", (2, 4))
    black_p = Image.new("P", (4, 2))
    assert len({pixel_data_sha256([im]) for im in (black_l, black_l_rotated, black_p)}) == 3


# --- container walkers never fail on hostile bytes -------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_jpeg_walker_terminates_and_stays_in_bounds(tail):
    data = b"\xff\xd8" + tail
    previous_end = 0
    for span in iter_jpeg_segments(data):
        assert previous_end <= span.start < span.end <= len(data)
        previous_end = span.end
    encoded_image_data_sha256(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_png_walker_terminates_and_stays_in_bounds(tail):
    data = b"\x89PNG\r\n\x1a\n" + tail
    for span in iter_png_chunks(data):
        assert 0 < span.start < span.end <= len(data)
    encoded_image_data_sha256(data)
