"""The forensics block's findings on files made to carry (or not carry) each trace; the oracle is
what the test wrote into the file, and, for MPF, ExifTool's reading of the corpus."""

from __future__ import annotations

import io
import json
import struct

import pytest
from PIL import Image

from provenance import fingerprint
from provenance.quality import ijg_quality

from conftest import FIXTURES, corpus_path

SOFTWARE, DATETIME, EXIF_IFD, DATETIME_ORIGINAL, PIXEL_X, PIXEL_Y = 0x0131, 0x0132, 0x8769, 0x9003, 0xA002, 0xA003


def photo(size=(320, 240), software=None, modified=None, taken=None, recorded=None, **options) -> bytes:
    im = Image.radial_gradient("L").convert("RGB").resize(size)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "NIKON", "COOLPIX P6000"
    if software:
        exif[SOFTWARE] = software
    if modified:
        exif[DATETIME] = modified
    ifd = exif.get_ifd(EXIF_IFD)
    if taken:
        ifd[DATETIME_ORIGINAL] = taken
    if recorded:
        ifd[PIXEL_X], ifd[PIXEL_Y] = recorded
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", exif=exif, quality=options.pop("quality", 90), **options)
    return buffer.getvalue()


def findings(data: bytes) -> dict[str, dict]:
    record = fingerprint(data, name="photo.jpg").to_dict()
    return {f["code"]: f for f in record["forensics"]["findings"]}


def test_a_consistent_file_has_no_finding_but_how_it_was_encoded():
    # camera metadata written by Pillow: only the encoding gives it away
    found = findings(photo(software="COOLPIX P6000V1.0", recorded=(320, 240), taken="2020:01:02 10:00:00"))
    assert set(found) == {"resaved-by-software"}


@pytest.mark.parametrize("software", ["Adobe Photoshop CC 2019 (Windows)", "GIMP 2.10.30", "Snapseed 2.0"])
def test_an_editor_in_the_software_tag_is_a_finding(software):
    found = findings(photo(software=software))
    assert found["software-tag"]["facts"]["software"] == software
    assert found["software-tag"]["severity"] == "notice"


def test_recorded_dimensions_that_differ_are_a_finding_but_a_rotation_is_not():
    found = findings(photo(recorded=(4000, 3000)))["dimensions-changed"]
    assert (found["facts"]["exif_width"], found["facts"]["width"]) == (4000, 320)
    assert "dimensions-changed" not in findings(photo(recorded=(240, 320)))


def test_a_capture_time_after_the_modification_time_is_a_finding():
    found = findings(photo(taken="2021:05:01 12:00:00", modified="2021:04:30 09:00:00"))
    assert found["timestamp-inconsistent"]["facts"]["datetime_original"].startswith("2021-05-01")
    assert "timestamp-inconsistent" not in findings(photo(taken="2021:05:01 12:00:00", modified="2021:05:02 09:00:00"))


def test_bytes_after_the_end_are_a_finding_unless_zero_padding():
    data = photo()
    archive = findings(data + b"PK\x03\x04" + b"x" * 100)["appended-data"]
    assert archive["severity"] == "warning" and archive["facts"] == {
        "bytes": 104, "looks_like": "a ZIP archive", "rule": archive["facts"]["rule"],
    }  # fmt: skip
    assert findings(data + photo())["appended-data"]["facts"]["looks_like"] == "another JPEG"
    assert "appended-data" not in findings(data + b"\x00" * 512)


def test_a_truncated_file_keeps_its_record_and_says_what_is_damaged():
    data = photo()
    record = fingerprint(data[: len(data) // 2], name="cut.jpg").to_dict()
    assert "structure-damaged" in {f["code"] for f in record["forensics"]["findings"]}
    assert record["md5"] is not None


@pytest.mark.parametrize("quality", [30, 75, 92])
def test_pillow_files_carry_the_ijg_tables_at_their_quality(quality):
    record = fingerprint(photo(quality=quality), name="p.jpg").to_dict()
    assert record["forensics"]["encoder"]["ijg_quality"] == quality


def test_tables_of_another_encoder_are_not_called_ijg():
    assert ijg_quality({0: [1] * 63 + [2], 1: [3] * 64}) is None
    fixture = next(p for p in sorted((FIXTURES / "leak").iterdir()) if p.suffix == ".jpg")
    with Image.open(fixture) as im:  # the oracle: the tables Pillow reads, compared by hand
        tables = {k: list(v) for k, v in im.quantization.items()}
    record = fingerprint(fixture).to_dict()
    assert record["forensics"]["jpeg"]["quantization"] == {str(k): v for k, v in tables.items()}


def test_non_jpeg_files_have_no_structure_but_still_a_block():
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, "PNG")
    block = fingerprint(buffer.getvalue(), name="a.png").to_dict()["forensics"]
    assert block["jpeg"] is None and block["encoder"] is None


@pytest.mark.corpus
def test_mpf_previews_are_multiple_images_as_exiftool_counts_them_and_not_appended_data():
    root = corpus_path()
    seen = 0
    for oracle in sorted(root.rglob("_exiftool_oracle.json")):
        for entry in json.loads(oracle.read_text()):
            images = entry.get("MPF0:NumberOfImages")
            if not isinstance(images, int) or images < 2:
                continue
            record = fingerprint((oracle.parent / entry["SourceFile"]).resolve()).to_dict()
            found = {f["code"]: f for f in record["forensics"]["findings"]}
            assert found["multiple-images"]["facts"]["mpf_images"] == images, entry["SourceFile"]
            if record["forensics"]["jpeg"]["after_end"] and "appended-data" in found:
                assert found["appended-data"]["facts"]["looks_like"] != "another JPEG", entry["SourceFile"]
            seen += 1
    assert seen >= 3


NIKON_ORIGINAL = FIXTURES / "leak" / "35b833f721ed391380a8ddf159852b50.jpg"
GIMP_COPY = FIXTURES / "leak" / "406958840ad1665ffcd1be9c29d515b9.jpg"  # a Canon 40D photo saved by GIMP 2.4.5


@pytest.mark.parametrize("quality", [95, 85, 75])
def test_a_camera_photo_resaved_by_pillow_is_resaved_by_software_and_the_original_is_not(quality):
    assert "resaved-by-software" not in findings(NIKON_ORIGINAL.read_bytes())
    with Image.open(NIKON_ORIGINAL) as im:
        buffer = io.BytesIO()
        im.save(buffer, "JPEG", quality=quality, exif=im.info["exif"])
    found = findings(buffer.getvalue())["resaved-by-software"]
    assert found["facts"]["make"] == "NIKON" and found["facts"]["ijg_quality"] == quality
    assert found["facts"]["segment_order"][:2] == ["JFIF", "EXIF"]


def test_a_camera_photo_saved_by_an_editor_is_flagged_twice():
    found = findings(GIMP_COPY.read_bytes())
    assert found["software-tag"]["facts"]["software"].startswith("GIMP")
    assert found["resaved-by-software"]["facts"]["make"] == "Canon"


def test_a_library_jpeg_without_camera_metadata_is_not_called_resaved():
    assert "resaved-by-software" not in findings((FIXTURES / "article" / "canteen-lunch-960x640-1.jpg").read_bytes())


def test_stats_counts_the_files_of_each_finding(tmp_path):
    from collections import Counter

    from provenance import Index

    with Index(tmp_path / "f.db") as index:
        index.add([str(FIXTURES)], jobs=1)
        counted = index.stats()["findings"]
        expected = Counter()
        for record in index.records():
            for code in {f["code"] for f in (record.forensics or {}).get("findings", [])}:
                expected[code] += 1
    assert counted == dict(expected) and counted["resaved-by-software"] >= 1


def with_gps_and_xmp(taken: str, offset: str | None = None, gps: tuple | None = None, xmp_taken: str | None = None):
    """A camera JPEG with DateTimeOriginal, optionally its offset, a GPS date and time, and an XMP date."""
    im = Image.radial_gradient("L").convert("RGB").resize((320, 240))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "NIKON", "COOLPIX P6000"
    ifd = exif.get_ifd(EXIF_IFD)
    ifd[DATETIME_ORIGINAL] = taken
    if offset:
        ifd[0x9011] = offset  # OffsetTimeOriginal
    if gps:
        date, (h, m, s) = gps
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[0x001D] = date  # GPSDateStamp
        gps_ifd[0x0007] = (float(h), float(m), float(s))  # GPSTimeStamp
    kwargs = {}
    if xmp_taken:
        kwargs["xmp"] = (
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
            f'exif:DateTimeOriginal="{xmp_taken}"/></rdf:RDF></x:xmpmeta>'
        ).encode()
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, quality=90, **kwargs)
    return out.getvalue()


def time_findings(data: bytes) -> list[dict]:
    record = fingerprint(data, name="photo.jpg").to_dict()
    return [f for f in record["forensics"]["findings"] if f["code"] == "timestamp-inconsistent"]


def test_exif_and_xmp_capture_times_that_disagree_are_a_finding():
    [found] = time_findings(with_gps_and_xmp("2021:05:01 12:00:00", xmp_taken="2021-05-01T15:30:00"))
    assert found["facts"]["xmp_datetime_original"].startswith("2021-05-01T15:30:00")
    assert time_findings(with_gps_and_xmp("2021:05:01 12:00:00", xmp_taken="2021-05-01T12:00:00+02:00")) == []


def test_a_gps_fix_far_from_the_capture_time_is_a_finding():
    # taken at 12:00 local, UTC+02:00: 10:00 UTC; a fix at 10:20 UTC agrees, one at 18:00 UTC does not
    assert time_findings(with_gps_and_xmp("2021:05:01 12:00:00", "+02:00", ("2021:05:01", (10, 20, 0)))) == []
    [found] = time_findings(with_gps_and_xmp("2021:05:01 12:00:00", "+02:00", ("2021:05:01", (18, 0, 0))))
    assert found["facts"]["hours_apart"] == 8.0
    # a fix with fractions of a second (GPS receivers write them) is compared the same way
    [found] = time_findings(with_gps_and_xmp("2021:05:01 12:00:00", "+02:00", ("2021:05:01", (18, 0, 0.24))))
    assert found["facts"]["gps_datetime"] == "2021-05-01T18:00:00.24Z" and found["facts"]["hours_apart"] == 8.0
    # no offset recorded: no gap counts (the corpus's Nikon P6000 originals put their GPS fix a day
    # and two hours from the local capture time)
    assert time_findings(with_gps_and_xmp("2021:05:01 12:00:00", None, ("2021:05:03", (12, 0, 0)))) == []


def gradient(size=(320, 240)) -> Image.Image:
    """photo()'s picture."""
    return Image.radial_gradient("L").convert("RGB").resize(size)


def photoshop_thumbnail_segment(picture: Image.Image, resource: int = 0x040C) -> bytes:
    """An APP13 Photoshop resource block holding ``picture`` as its thumbnail resource."""
    width, height = picture.size
    thumb = io.BytesIO()
    picture.save(thumb, "JPEG", quality=90)
    header = struct.pack(">IIIIIIHH", 1, width, height, width * 3, width * height * 3, len(thumb.getvalue()), 24, 1)
    data = header + thumb.getvalue()
    block = b"8BIM" + struct.pack(">H", resource) + b"\x00\x00" + struct.pack(">I", len(data)) + data
    block += b"\x00" * (len(data) % 2)
    body = b"Photoshop 3.0\x00" + block
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def with_photoshop_thumbnail(picture: Image.Image, resource: int = 0x040C) -> bytes:
    data = photo(size=(320, 240))
    return data[:2] + photoshop_thumbnail_segment(picture, resource) + data[2:]


def test_a_photoshop_thumbnail_is_a_preview_and_another_shape_is_a_mismatch():
    found = findings(with_photoshop_thumbnail(gradient().resize((160, 120))))
    assert found["multiple-images"]["facts"]["photoshop_thumbnail"]["width"] == 160
    assert "thumbnail-mismatch" not in found
    other = findings(with_photoshop_thumbnail(gradient().resize((120, 120))))
    assert other["thumbnail-mismatch"]["facts"]["thumbnail_width"] == 120


def test_a_photoshop_thumbnail_of_another_picture_is_a_mismatch_with_imagehash_distance():
    import imagehash

    stripes = Image.linear_gradient("L").rotate(90).convert("RGB").resize((160, 120))
    record = fingerprint(with_photoshop_thumbnail(stripes), name="photo.jpg").to_dict()
    preview = record["forensics"]["jpeg"]["photoshop_thumbnail"]
    with Image.open(io.BytesIO(photoshop_thumbnail_segment(stripes)[4 + 14 + 12 + 28 :])) as thumb:
        expected = imagehash.phash(thumb) - imagehash.hex_to_hash(record["hashes"]["phash"])
    assert preview["phash_distance"] == expected >= 16
    mismatch = [f for f in record["forensics"]["findings"] if f["code"] == "thumbnail-mismatch"]
    assert len(mismatch) == 1 and mismatch[0]["severity"] == "warning"
    assert mismatch[0]["facts"]["phash_distance"] == expected
    assert "Photoshop thumbnail" in mismatch[0]["message"]


def test_a_photoshop_4_thumbnail_is_read_with_its_channels_swapped_back():
    import imagehash

    # a picture whose luma changes when red and blue trade places
    flat = [Image.new("L", (160, 120), level) for level in (60, 200)]
    picture = Image.merge("RGB", (gradient((160, 120)).split()[0], *flat))
    red, green, blue = picture.split()
    stored = Image.merge("RGB", (blue, green, red))  # what Photoshop 4.0 writes
    record = fingerprint(with_photoshop_thumbnail(stored, resource=0x0409), name="photo.jpg").to_dict()
    segment = photoshop_thumbnail_segment(stored, 0x0409)
    with Image.open(io.BytesIO(segment[4 + 14 + 12 + 28 :])) as thumb:
        r, g, b = thumb.convert("RGB").split()
        seen = record["forensics"]["jpeg"]["photoshop_thumbnail"]["phash"]
        assert seen == str(imagehash.phash(Image.merge("RGB", (b, g, r))))
        assert seen != str(imagehash.phash(thumb))


def test_a_photoshop_thumbnail_that_does_not_decode_is_a_note_not_a_failure():
    data = bytearray(with_photoshop_thumbnail(gradient().resize((160, 120))))
    at = data.index(b"\xff\xd8", 4)  # the thumbnail's own start of image
    data[at + 2 : at + 40] = b"\x00" * 38
    record = fingerprint(bytes(data), name="photo.jpg").to_dict()
    assert record["error"] is None
    assert record["forensics"]["jpeg"]["photoshop_thumbnail"]["width"] == 160
    assert "phash_distance" not in record["forensics"]["jpeg"]["photoshop_thumbnail"]
