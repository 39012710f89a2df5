"""What newsrooms and social platforms do to a photo, as functions image → encoded bytes.

Shared by ``benchmarks/accuracy.py`` and the matching tests. Each transform takes an RGB image
and a seeded ``random.Random`` and returns the bytes of the file a desk would receive.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from .files import strip_metadata

Transform = Callable[[Image.Image, random.Random], bytes]


def encode(im: Image.Image, fmt: str = "JPEG", **options: Any) -> bytes:
    """The bytes of ``im`` saved as ``fmt`` (JPEG quality 85 unless given)."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        options.setdefault("quality", 85)
        im = im.convert("RGB") if im.mode not in ("RGB", "L") else im
    im.save(buffer, fmt, **options)
    return buffer.getvalue()


def cover(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale and centre-crop to exactly ``size``, as WordPress builds its 960x640 thumbnails."""
    return ImageOps.fit(im, size, Image.Resampling.LANCZOS)


def crop_keep(im: Image.Image, keep: float, rng: random.Random, centred: bool = True) -> Image.Image:
    """A crop keeping ``keep`` of each side, centred or at a random offset."""
    w, h = round(im.width * keep), round(im.height * keep)
    if centred:
        x, y = (im.width - w) // 2, (im.height - h) // 2
    else:
        x, y = rng.randint(0, im.width - w), rng.randint(0, im.height - h)
    return im.crop((x, y, x + w, y + h))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def caption_banner(im: Image.Image, rng: random.Random, text: str = "EXCLUSIVE: inside the camps") -> Image.Image:
    """A dark banner with white text burned over the bottom eighth, as on social media."""
    out = im.copy()
    band = max(24, im.height // 8)
    draw = ImageDraw.Draw(out)
    draw.rectangle([0, im.height - band, im.width, im.height], fill=(20, 20, 20))
    draw.text((band // 3, im.height - band * 0.8), text, fill=(255, 255, 255), font=_font(band // 2))
    return out


def watermark(im: Image.Image, rng: random.Random) -> Image.Image:
    """A semi-transparent text watermark across the middle."""
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(16, im.width // 10)
    draw.text((im.width // 8, im.height // 2 - size // 2), "© NEWS AGENCY", fill=(255, 255, 255, 110), font=_font(size))
    return Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")


def border(im: Image.Image, rng: random.Random) -> Image.Image:
    """A white border of 6% of the width."""
    return ImageOps.expand(im, border=max(4, im.width * 6 // 100), fill=(255, 255, 255))


def letterbox(im: Image.Image, rng: random.Random) -> Image.Image:
    """The image fitted into a black 16:9 frame (a video still or a slide)."""
    height = im.height
    width = max(im.width, round(height * 16 / 9))
    if width == im.width:
        height = round(width * 9 / 16)
    frame = Image.new("RGB", (width, max(height, im.height)), (0, 0, 0))
    frame.paste(im, ((frame.width - im.width) // 2, (frame.height - im.height) // 2))
    return frame


def noise(im: Image.Image, rng: random.Random) -> Image.Image:
    """Gaussian noise, sigma 12 grey levels."""
    pixels = np.asarray(im, dtype=np.float32)
    noisy = pixels + np.random.default_rng(rng.randint(0, 2**31)).normal(0, 12, pixels.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def screenshot(im: Image.Image, rng: random.Random) -> Image.Image:
    """The image shown at 60% of the page width on a 1280x1600 news page with a header, text lines and a sidebar."""
    page = Image.new("RGB", (1280, 1600), (250, 250, 248))
    draw = ImageDraw.Draw(page)
    draw.rectangle([0, 0, 1280, 90], fill=(30, 40, 60))
    draw.text((40, 25), "The Daily Record", fill=(255, 255, 255), font=_font(36))
    draw.text((60, 130), "Officials tour facility, documents show", fill=(10, 10, 10), font=_font(34))
    width = 768
    height = round(im.height * width / im.width)
    shown = im.resize((width, height), Image.Resampling.LANCZOS)
    page.paste(shown, (60, 200))
    y = 200 + height + 40
    for line in range(12):
        draw.line([(60, y + line * 28), (60 + rng.randint(500, 760), y + line * 28)], fill=(90, 90, 90), width=6)
    draw.rectangle([880, 200, 1220, 900], fill=(235, 235, 240))
    return page.crop((0, 0, 1280, min(1600, y + 400)))


def collage(im: Image.Image, rng: random.Random, others: list[Image.Image] | None = None) -> Image.Image:
    """A 2x2 grid: the image in one cell, other photos (or grey tiles) in the rest."""
    cell = (480, 360)
    grid = Image.new("RGB", (cell[0] * 2 + 12, cell[1] * 2 + 12), (255, 255, 255))
    slot = rng.randrange(4)
    fillers = list(others or [])
    for n in range(4):
        x, y = (n % 2) * (cell[0] + 12), (n // 2) * (cell[1] + 12)
        if n == slot:
            tile = cover(im, cell)
        elif fillers:
            tile = cover(fillers.pop(), cell)
        else:
            tile = Image.new("RGB", cell, (128 + 30 * n, 120, 110))
        grid.paste(tile, (x, y))
    return grid


def chain(im: Image.Image, rng: random.Random) -> bytes:
    """Crop to 85%, WordPress 960x640 cover, caption banner, JPEG quality 70."""
    step = crop_keep(im, 0.85, rng, centred=False)
    step = caption_banner(cover(step, (960, 640)), rng)
    return encode(step, quality=70)


def _small_rotation(im: Image.Image, rng: random.Random) -> Image.Image:
    angle = rng.choice([-1, 1]) * rng.uniform(3, 5)
    rotated = im.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False)
    return crop_keep(rotated, 0.88, rng)  # cut off the corners the rotation left empty


def _as(fn: Callable[[Image.Image, random.Random], Image.Image], **options: Any) -> Transform:
    return lambda im, rng: encode(fn(im, rng), **options)


#: transforms of the file's bytes rather than its pixels
BYTE_TRANSFORMS: dict[str, Callable[[bytes], bytes]] = {"metadata-stripped": strip_metadata}


TRANSFORMS: dict[str, Transform] = {
    "jpeg-q75": lambda im, rng: encode(im, quality=75),
    "jpeg-q50": lambda im, rng: encode(im, quality=50),
    "jpeg-q30": lambda im, rng: encode(im, quality=30),
    "jpeg-q15": lambda im, rng: encode(im, quality=15),
    "webp": lambda im, rng: encode(im, "WEBP", quality=80),
    "png": lambda im, rng: encode(im, "PNG"),
    "resize-50": _as(lambda im, rng: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)),
    "thumbnail-256": _as(lambda im, rng: ImageOps.contain(im, (256, 256), Image.Resampling.LANCZOS)),
    "wordpress-960x640": _as(lambda im, rng: cover(im, (960, 640)), quality=82),
    "grayscale": _as(lambda im, rng: im.convert("L")),
    "brightness": _as(lambda im, rng: ImageEnhance.Brightness(im).enhance(1.3)),
    "contrast": _as(lambda im, rng: ImageEnhance.Contrast(im).enhance(1.4)),
    "saturation": _as(lambda im, rng: ImageEnhance.Color(im).enhance(1.8)),
    "blur": _as(lambda im, rng: im.filter(ImageFilter.GaussianBlur(radius=max(1.5, im.width / 600)))),
    "noise": _as(noise),
    "sharpen": _as(lambda im, rng: im.filter(ImageFilter.UnsharpMask(radius=2, percent=150))),
    "caption-banner": _as(caption_banner),
    "watermark": _as(watermark),
    "white-border": _as(border),
    "letterbox-16x9": _as(letterbox),
    "mirror": _as(lambda im, rng: ImageOps.mirror(im)),
    "rotate-90": _as(lambda im, rng: im.transpose(Image.Transpose.ROTATE_90)),
    "rotate-3-5": _as(_small_rotation),
    "crop-90": _as(lambda im, rng: crop_keep(im, 0.9, rng)),
    "crop-75-offcentre": _as(lambda im, rng: crop_keep(im, 0.75, rng, centred=False)),
    "crop-60": _as(lambda im, rng: crop_keep(im, 0.6, rng)),
    "screenshot": _as(screenshot, quality=90),
    "collage-2x2": _as(collage),
    "chain": chain,
}
