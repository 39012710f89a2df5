"""The EXIF block's layout (exif_layout.py) and the resaved-by-software cue built on it: EXIF blocks
laid out by hand, byte by byte, so each offset is the test's own; files re-saved by the real
libvips where it is installed; and the corpus's camera originals, none of which may be accused."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from provenance import fingerprint
from provenance.exif_layout import read_layout

from conftest import FIXTURES, corpus_path, run_cli

ASCII, SHORT, LONG, RATIONAL = 2, 3, 4, 5


def entry(tag: int, kind: int, count: int, value: int) -> bytes:
    return struct.pack("<HHII", tag, kind, count, value)


def packed_block() -> bytes:
    """IFD0 at 8 (Make, Model, the Exif pointer), its values, then the Exif directory and its one
    value, every offset worked out by hand:

        8   IFD0: 2 + 3 x 12 + 4 = 42 bytes, to 50
        50  Make "Canon\\0" (6 bytes), to 56
        56  Model "EOS1\\0" (5 bytes, padded to 6), to 62
        62  the Exif directory: 2 + 12 + 4 = 18 bytes, to 80
        80  DateTimeOriginal (20 bytes), to 100
    """
    ifd0 = struct.pack("<H", 3) + entry(0x010F, ASCII, 6, 50) + entry(0x0110, ASCII, 5, 56)
    ifd0 += entry(0x8769, LONG, 1, 62) + struct.pack("<I", 0)
    values = b"Canon\0" + b"EOS1\0" + b"\0"
    exif = struct.pack("<H", 1) + entry(0x9003, ASCII, 20, 80) + struct.pack("<I", 0)
    block = b"II*\0" + struct.pack("<I", 8) + ifd0 + values + exif + b"2020:01:02 03:04:05\0"
    assert len(block) == 100
    return block


def test_a_block_packed_as_libexif_writes_it_is_packed():
    layout = read_layout(packed_block())
    assert layout.packed and layout.departure is None
    assert layout.byte_order == "little-endian"
    assert layout.ifd0_tags == [0x010F, 0x0110, 0x8769]


def test_values_in_another_order_than_the_directory_are_still_packed():
    block = bytearray(packed_block())
    # Model first (50: 5 bytes + pad), then Make (56: 6 bytes): libexif writes in its list's order
    block[8 + 2 + 8 : 8 + 2 + 12] = struct.pack("<I", 56)
    block[8 + 14 + 8 : 8 + 14 + 12] = struct.pack("<I", 50)
    block[50:62] = b"EOS1\0\0" + b"Canon\0"
    assert read_layout(bytes(block)).packed


def test_a_gap_before_a_value_is_where_the_layout_departs():
    block = bytearray(packed_block())
    block[8 + 14 + 8 : 8 + 14 + 12] = struct.pack("<I", 58)  # Model two bytes later than packed
    layout = read_layout(bytes(block))
    assert not layout.packed
    assert "0x0110" in layout.departure and "58" in layout.departure and "56" in layout.departure


def test_bytes_after_the_structure_are_not_packed():
    layout = read_layout(packed_block() + b"\0" * 16)
    assert not layout.packed and "16 bytes follow" in layout.departure


def test_a_thumbnail_must_follow_ifd1_values():
    base = bytearray(packed_block())
    base[8 + 2 + 36 : 8 + 2 + 40] = struct.pack("<I", 100)  # IFD0's next directory: IFD1 at 100
    ifd1 = struct.pack("<H", 2) + entry(0x0201, LONG, 1, 130) + entry(0x0202, LONG, 1, 4) + struct.pack("<I", 0)
    assert len(ifd1) == 30
    thumb = b"\xff\xd8\xff\xd9"
    assert read_layout(bytes(base) + ifd1 + thumb).packed
    moved = ifd1.replace(entry(0x0201, LONG, 1, 130), entry(0x0201, LONG, 1, 132))
    layout = read_layout(bytes(base) + moved + b"\0\0" + thumb)
    assert not layout.packed and "thumbnail is at 132" in layout.departure


def test_a_pointer_libexif_never_writes_there_is_a_departure_not_a_loop():
    block = bytearray(packed_block())
    # the Exif directory's one entry becomes another Exif pointer, to the end of the directory
    block[62 + 2 : 62 + 14] = entry(0x8769, LONG, 1, 80)
    layout = read_layout(bytes(block))
    assert not layout.packed and "libexif writes elsewhere" in layout.departure


def test_hostile_blocks_never_raise():
    block = packed_block()
    for n in range(len(block)):
        layout = read_layout(block[:n])
        assert not layout.packed
        assert layout.departure
    huge = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 0xFFFF) + entry(0x010F, ASCII, 0xFFFFFFFF, 0xFFFFFFF0)
    assert not read_layout(huge).packed
    unknown = bytearray(block)
    unknown[8 + 2 + 2 : 8 + 2 + 4] = struct.pack("<H", 99)  # Make's type: none TIFF defines
    assert "unknown type" in read_layout(bytes(unknown)).departure
    assert read_layout(b"").departure == "no TIFF header"
    assert read_layout(b"MM\0*\xff\xff\xff\xff").departure


# --- the resaved-by-software cue: camera metadata, IJG tables, EXIF first, libexif's layout, libvips's fields


def libvips_like_exif(width: int, height: int, *, with_unit: bool = True, dims: tuple[int, int] | None = None) -> bytes:
    """An EXIF block as libvips leaves it, laid out by hand: IFD0 with Make, Orientation, X/YResolution
    and ResolutionUnit, then the Exif directory with PixelXDimension and PixelYDimension."""
    dims = dims or (width, height)
    count = 6 if with_unit else 5
    ifd0_end = 8 + 2 + 12 * count + 4
    make_at, xres_at = ifd0_end, ifd0_end + 6
    yres_at = xres_at + 8
    exif_at = yres_at + 8
    entries = [
        entry(0x010F, ASCII, 6, make_at),
        entry(0x0112, SHORT, 1, 1),
        entry(0x011A, RATIONAL, 1, xres_at),
        entry(0x011B, RATIONAL, 1, yres_at),
    ]
    if with_unit:
        entries.append(entry(0x0128, SHORT, 1, 2))
    entries.append(entry(0x8769, LONG, 1, exif_at))
    ifd0 = struct.pack("<H", count) + b"".join(entries) + struct.pack("<I", 0)
    values = b"Canon\0" + struct.pack("<II", 72, 1) * 2
    exif = struct.pack("<H", 2) + entry(0xA002, LONG, 1, dims[0]) + entry(0xA003, LONG, 1, dims[1])
    exif += struct.pack("<I", 0)
    block = b"II*\0" + struct.pack("<I", 8) + ifd0 + values + exif
    assert read_layout(block).packed
    return block


def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def camera_file(exif: bytes, *, jfif: bool = False, qtables: list | None = None) -> bytes:
    """A 320x240 JPEG encoded by libjpeg (Pillow), its JFIF segment removed unless ``jfif``, with
    ``exif`` as its first segment after the JFIF one."""
    out = io.BytesIO()
    options = {"qtables": qtables} if qtables else {"quality": 85}
    Image.radial_gradient("L").convert("RGB").resize((320, 240)).save(out, "JPEG", **options)
    data = out.getvalue()
    assert data[2:4] == b"\xff\xe0"  # libjpeg's JFIF segment comes first
    app0_end = 4 + struct.unpack(">H", data[4:6])[0]
    head = data[2:app0_end] if jfif else b""
    return b"\xff\xd8" + head + segment(0xE1, b"Exif\0\0" + exif) + data[app0_end:]


def resave_rules(data: bytes) -> list[str]:
    record = fingerprint(data, name="photo.jpg").to_dict()
    assert record["error"] is None
    return [f["facts"]["rule"] for f in record["forensics"]["findings"] if f["code"] == "resaved-by-software"]


def test_a_camera_file_encoded_and_rewritten_as_libvips_does_is_resaved_by_software():
    rules = resave_rules(camera_file(libvips_like_exif(320, 240)))
    assert len(rules) == 1 and "libexif's packed layout" in rules[0]


@pytest.mark.parametrize(
    "which",
    ["a JFIF segment first", "a camera's own tables", "no ResolutionUnit", "EXIF dimensions of another size", "a gap"],
)
def test_each_cue_of_the_libvips_rule_is_needed(which):
    exif = libvips_like_exif(320, 240)
    options: dict = {}
    if which == "a JFIF segment first":
        options["jfif"] = True  # (the structure rule's case: it names libjpeg's JFIF segment instead)
    elif which == "a camera's own tables":
        options["qtables"] = [[3 + (i % 7) for i in range(64)], [4 + (i % 5) for i in range(64)]]
    elif which == "no ResolutionUnit":
        exif = libvips_like_exif(320, 240, with_unit=False)
    elif which == "EXIF dimensions of another size":
        exif = libvips_like_exif(320, 240, dims=(640, 480))
    else:
        exif = exif + b"\0\0"
    rules = resave_rules(camera_file(exif, **options))
    assert not any("libexif" in r for r in rules)


needs_vips = pytest.mark.skipif(shutil.which("vips") is None, reason="libvips-tools (vips) is not installed")

#: the fixtures' unchanged files whose EXIF names a camera (fixtures/SOURCES.md)
CAMERA_FIXTURES = [
    "leak/97fdc6ae077d8165f3cb4aa494ddb7d4.jpg",  # Nikon COOLPIX P6000
    "leak/35b833f721ed391380a8ddf159852b50.jpg",  # the same camera
    "leak/56cd6b2057623bfb70111b883678d436.jpg",  # Fujifilm DX-10
    "leak/406958840ad1665ffcd1be9c29d515b9.jpg",  # Canon EOS 40D, resized in GIMP
]


@needs_vips
@pytest.mark.parametrize("name", CAMERA_FIXTURES)
@pytest.mark.parametrize("options", ["", "[Q=85]", "[Q=95,optimize_coding]"])
def test_a_camera_file_resaved_by_libvips_is_resaved_by_software_and_the_original_is_not(tmp_path, name, options):
    original = FIXTURES / name
    assert not any("libexif" in r for r in resave_rules(original.read_bytes()))
    copy = tmp_path / "copy.jpg"
    subprocess.run(["vips", "copy", str(original), f"{copy}{options}"], check=True, capture_output=True)
    record = fingerprint(copy).to_dict()
    assert record["metadata"]["make"]  # libvips kept the camera's EXIF block
    assert record["forensics"]["jpeg"]["exif_layout"]["packed"]
    assert [f["code"] for f in record["forensics"]["findings"]].count("resaved-by-software") == 1


@needs_vips
def test_a_libvips_resize_is_resaved_by_software(tmp_path):
    copy = tmp_path / "half.jpg"
    subprocess.run(["vips", "resize", str(FIXTURES / CAMERA_FIXTURES[0]), str(copy), "0.5"], check=True)
    assert any("libexif" in r for r in resave_rules(copy.read_bytes()))


def test_no_camera_jpeg_of_the_corpus_is_accused_by_the_libexif_rule():
    corpus = corpus_path()
    if corpus is None:
        pytest.skip("../shared/corpus is not here: the false-alarm check runs on its camera JPEGs")
    accused, cameras = [], 0
    for path in sorted(p for p in Path(corpus).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")):
        record = fingerprint(path).to_dict()
        if not record["metadata"].get("make"):
            continue
        cameras += 1
        for f in (record["forensics"] or {}).get("findings", []):
            if f["code"] == "resaved-by-software" and "libexif" in f["facts"]["rule"]:
                accused.append(path.name)
    assert cameras > 100
    assert accused == []


def test_inspect_says_whether_the_exif_block_is_packed(tmp_path):
    (tmp_path / "rewritten.jpg").write_bytes(camera_file(libvips_like_exif(320, 240)))
    result = run_cli("inspect", str(tmp_path / "rewritten.jpg"), str(FIXTURES / CAMERA_FIXTURES[0]), "-j", "1")
    assert result.returncode == 0, result.stderr
    rewritten, camera = result.stdout.split("\n\n")[:2]
    assert "EXIF block: packed, as libexif and Exiv2 write it" in rewritten
    assert "resaved-by-software" in rewritten
    # the Nikon writes its MakerNote after its other values, at 1146 (ExifTool -v3 dumps it at file offset
    # 0x486: 12 + 1146), where packing would put it at 896
    assert "EXIF block: not in the packed layout of libexif and Exiv2 (the value of tag 0x927C" in camera
    assert "1146" in camera and "896" in camera
