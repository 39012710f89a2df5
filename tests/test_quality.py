import io

import pytest
from PIL import Image

from provenance import fingerprint
from provenance.quality import estimate_quality, scaled_table

from conftest import FIXTURES

PHOTO = FIXTURES / "leak" / "56cd6b2057623bfb70111b883678d436.jpg"


def encode(quality: int, mode: str = "RGB") -> Image.Image:
    out = io.BytesIO()
    Image.open(PHOTO).convert(mode).resize((64, 48)).save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue()))


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_libjpeg_quality_is_recovered_exactly(mode):
    """libjpeg (through Pillow) is the oracle: every quality it writes is read back."""
    wrong = []
    for quality in range(1, 101):
        image = encode(quality, mode)
        estimate = estimate_quality(image.quantization)
        if estimate != quality and scaled_table(range(1, 65), estimate) != scaled_table(range(1, 65), quality):
            wrong.append((quality, estimate))
    assert wrong == []


def test_article_copies_report_the_quality_they_were_saved_with():
    for path in (FIXTURES / "article").iterdir():
        assert fingerprint(path).jpeg_quality == 82


def test_no_tables_no_quality():
    assert estimate_quality(None) is None
    assert estimate_quality({}) is None
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    assert fingerprint(png.getvalue(), name="x.png").jpeg_quality is None
