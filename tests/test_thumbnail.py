import io

import exifread
import imagehash
from PIL import Image, ImageDraw

from provenance import fingerprint
from provenance.thumbnail import _trim_bars

from conftest import FIXTURES

CAMERA = FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg"  # Nikon, 160x120 thumbnail


def test_camera_thumbnail_matches_its_photo():
    thumb = fingerprint(CAMERA).thumbnail
    assert (thumb["width"], thumb["height"]) == (160, 120)
    assert thumb["phash_distance"] <= 6


def test_thumbnail_phash_is_imagehash_own_value():
    """The thumbnail's pHash is computed without SciPy; imagehash, given the thumbnail, is the oracle."""
    for path in (CAMERA, FIXTURES / "leak" / "35b833f721ed391380a8ddf159852b50.jpg"):
        with open(path, "rb") as fh:
            jpeg = exifread.process_file(fh, details=False)["JPEGThumbnail"]
        with Image.open(io.BytesIO(jpeg)) as thumb:
            assert fingerprint(path).thumbnail["phash"] == str(imagehash.phash(thumb))


def test_photo_edited_after_capture_no_longer_matches_its_thumbnail():
    original = Image.open(CAMERA)
    exif = original.info["exif"]  # carries the camera's thumbnail
    edited = original.copy()
    draw = ImageDraw.Draw(edited)
    draw.rectangle((0, 0, 640, 250), fill=(250, 250, 250))  # something painted out
    out = io.BytesIO()
    edited.save(out, "JPEG", quality=90, exif=exif)
    thumb = fingerprint(out.getvalue(), name="edited.jpg").thumbnail
    assert thumb is not None
    assert thumb["phash_distance"] >= 16


def test_no_thumbnail_no_record():
    stripped = FIXTURES / "leak" / "0adc4258c90cff58c2909ce560d637fe.jpg"
    assert fingerprint(stripped).thumbnail is None


def test_letterbox_bars_are_trimmed_only_when_they_explain_the_shape():
    thumb = Image.new("RGB", (160, 120), (0, 0, 0))
    thumb.paste(Image.new("RGB", (160, 90), (180, 120, 60)), (0, 15))
    trimmed = _trim_bars(thumb, (1920, 1080))
    assert trimmed is not None and trimmed.size == (160, 90)
    assert _trim_bars(thumb, (1600, 1200)) is None  # same 4:3 shape: nothing to trim
