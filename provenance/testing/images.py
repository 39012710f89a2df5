"""Pictures made for tests and benchmarks: look-alikes that a matcher must keep apart."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageOps


def mugshot(subject: Image.Image, wall: Image.Image | None = None) -> Image.Image:
    """A look-alike maker: ``subject`` in front of a fixed backdrop, as in a detention photo set
    (a plain wall with height lines, or ``wall``, a textured one), 600x800."""
    if wall is None:
        backdrop = Image.new("RGB", (600, 800), (200, 202, 198))
        draw = ImageDraw.Draw(backdrop)
        for y in range(40, 800, 50):
            draw.line([(0, y), (600, y)], fill=(120, 120, 120), width=2)
    else:
        backdrop = ImageOps.fit(wall, (600, 800))
    w, h = 330, 480
    subject = ImageOps.fit(subject, (w, h))
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse([0, 0, w, int(h * 1.4)], fill=255)
    backdrop.paste(subject, ((600 - w) // 2, 800 - h), mask)
    return backdrop
