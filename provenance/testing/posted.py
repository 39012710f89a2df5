"""What social posts and newsrooms do to a photo beyond the matching issue's transforms: stickers,
meme text, tiled watermarks, thumbnails, keystone corrections, colour grading, a picture inside a
picture. Each is a function (RGB image, seeded ``random.Random``) → encoded bytes, as in
``transforms.py``.

``POSTED`` is the set the matcher was tuned on; ``HELD_OUT`` are variants of the same families made
apart and never looked at while tuning, reported separately as a check that a change generalises.
``FAMILIES`` names the family of every transform of both modules.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from .transforms import Transform, _as, _font, cover, encode

# stickers --------------------------------------------------------------------------------------


def _emoji(diameter: int, rng: random.Random) -> Image.Image:
    """A flat smiley sticker with a white outline (RGBA), as the platforms' sticker pickers draw them."""
    d = diameter
    sticker = Image.new("RGBA", (d, d), (0, 0, 0, 0))
    draw = ImageDraw.Draw(sticker)
    face = rng.choice([(255, 204, 51), (255, 170, 40), (120, 200, 255), (255, 120, 160)])
    draw.ellipse([0, 0, d - 1, d - 1], fill=(255, 255, 255, 255))
    draw.ellipse([d * 0.05, d * 0.05, d * 0.95, d * 0.95], fill=face + (255,))
    eye = d * 0.09
    for cx in (0.35, 0.65):
        draw.ellipse([d * cx - eye, d * 0.38 - eye * 1.3, d * cx + eye, d * 0.38 + eye * 1.3], fill=(40, 30, 20, 255))
    draw.arc([d * 0.25, d * 0.35, d * 0.75, d * 0.78], 20, 160, fill=(40, 30, 20, 255), width=max(2, d // 18))
    return sticker


def _heart(size: int, rng: random.Random) -> Image.Image:
    """A flat heart sticker with a dark outline (RGBA)."""
    s = size
    heart = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(heart)
    points = []
    for n in range(64):
        t = 2 * math.pi * n / 64
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        points.append((s / 2 + x * s / 36, s / 2 - y * s / 36))
    colour = rng.choice([(230, 30, 60), (250, 80, 140), (200, 0, 30)])
    draw.polygon(points, fill=colour + (255,), outline=(60, 0, 10, 255), width=max(2, s // 25))
    return heart


def _place(im: Image.Image, stickers: list[Image.Image], rng: random.Random) -> Image.Image:
    out = im.convert("RGBA")
    for sticker in stickers:
        x = rng.randint(0, max(0, im.width - sticker.width))
        y = rng.randint(0, max(0, im.height - sticker.height))
        out.alpha_composite(sticker, (x, y))
    return out.convert("RGB")


def _side_for(im: Image.Image, share: float) -> int:
    """The side of a square covering ``share`` of the image's area."""
    return max(8, round(math.sqrt(share * im.width * im.height)))


def sticker(im: Image.Image, rng: random.Random) -> Image.Image:
    """One smiley sticker over 8–15% of the picture, somewhere on it."""
    return _place(im, [_emoji(_side_for(im, rng.uniform(0.08, 0.15)), rng)], rng)


def stickers(im: Image.Image, rng: random.Random) -> Image.Image:
    """Three smiley stickers of 2–5% of the picture each (5–15% together)."""
    return _place(im, [_emoji(_side_for(im, rng.uniform(0.02, 0.05)), rng) for _ in range(3)], rng)


def hearts(im: Image.Image, rng: random.Random) -> Image.Image:
    """Held out: two to four heart stickers, 8–14% of the picture together."""
    count = rng.randint(2, 4)
    share = rng.uniform(0.08, 0.14) / count
    return _place(im, [_heart(_side_for(im, share * 1.4), rng) for _ in range(count)], rng)


# meme text and watermarks ----------------------------------------------------------------------


def _outlined(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int, anchor: str) -> None:
    draw.text(
        xy, text, font=_font(size), fill=(255, 255, 255), stroke_width=max(2, size // 12), stroke_fill=(0, 0, 0),
        anchor=anchor,
    )  # fmt: skip


def _fit_size(text: str, width: float, height: float) -> int:
    """The largest font size (up to ``height``) at which ``text`` fits ``width``."""
    size = max(8, int(height))
    while size > 8 and _font(size).getlength(text) > width:
        size = int(size * 0.9)
    return size


def meme_text(im: Image.Image, rng: random.Random) -> Image.Image:
    """Large white letters outlined in black, at the top and the bottom (the classic meme)."""
    out = im.copy()
    draw = ImageDraw.Draw(out)
    top, bottom = rng.choice([("WHEN THE FILES LEAK", "AND EVERYONE SEES"), ("NOBODY:", "ABSOLUTELY NOBODY:")])
    for text, y, anchor in ((top, im.height * 0.03, "mt"), (bottom, im.height * 0.97, "mb")):
        size = _fit_size(text, im.width * 0.94, im.height * 0.14)
        _outlined(draw, (im.width / 2, y), text, size, anchor)
    return out


def meme_text_middle(im: Image.Image, rng: random.Random) -> Image.Image:
    """Held out: one outlined line across the middle and a smaller one under it."""
    out = im.copy()
    draw = ImageDraw.Draw(out)
    size = _fit_size("THIS IS FINE", im.width * 0.9, im.height * 0.16)
    _outlined(draw, (im.width / 2, im.height * 0.45), "THIS IS FINE", size, "mm")
    small = _fit_size("(it is not fine)", im.width * 0.6, im.height * 0.07)
    _outlined(draw, (im.width / 2, im.height * 0.58), "(it is not fine)", small, "mm")
    return out


def _text_layer(size: tuple[int, int], text: str, font_size: int, alpha: int, step: tuple[int, int]) -> Image.Image:
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = _font(font_size)
    for row, y in enumerate(range(-step[1], size[1] + step[1], step[1])):
        for x in range(-step[0] + (row % 2) * step[0] // 2, size[0] + step[0], step[0]):
            draw.text((x, y), text, font=font, fill=(255, 255, 255, alpha))
    return layer


def _composite_centre(im: Image.Image, layer: Image.Image) -> Image.Image:
    """``im`` under the centre of a larger square ``layer`` (a rotated watermark that covers the corners)."""
    side = layer.width
    box = ((side - im.width) // 2, (side - im.height) // 2, (side + im.width) // 2, (side + im.height) // 2)
    centre = layer.crop(box).resize(im.size)  # the box is a pixel wider when the parities differ
    return Image.alpha_composite(im.convert("RGBA"), centre).convert("RGB")


def tiled_watermark(im: Image.Image, rng: random.Random) -> Image.Image:
    """A stock-photo watermark: the agency's name tiled over the whole picture at 30° and 35% opacity."""
    side = round(math.hypot(im.width, im.height))
    font_size = max(12, im.width // 14)
    step = (round(font_size * 9), round(font_size * 3))
    layer = _text_layer((side, side), "© AGENCY", font_size, 110, step).rotate(30, resample=Image.Resampling.BICUBIC)
    return _composite_centre(im, layer)


def diagonal_watermark(im: Image.Image, rng: random.Random) -> Image.Image:
    """One large word across the diagonal at 40% opacity, outlined (a proof or 'SAMPLE' stamp)."""
    side = round(math.hypot(im.width, im.height))
    layer = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = _fit_size("SAMPLE", side * 0.8, side * 0.25)
    draw.text(
        (side / 2, side / 2), "SAMPLE", font=_font(size), fill=(255, 255, 255, 100), anchor="mm",
        stroke_width=max(2, size // 30), stroke_fill=(0, 0, 0, 100),
    )  # fmt: skip
    angle = math.degrees(math.atan2(im.height, im.width))
    layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC)
    return _composite_centre(im, layer)


def logo_grid(im: Image.Image, rng: random.Random) -> Image.Image:
    """Held out: a grid of faint dark logos (rings with a bar) at 25% opacity, as preview sites stamp."""
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    cell = max(24, im.width // 5)
    r = cell // 3
    for cy in range(cell // 2, im.height, cell):
        for cx in range(cell // 2, im.width, cell):
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(0, 0, 0, 64), width=max(2, r // 5))
            draw.rectangle([cx - r, cy - r // 6, cx + r, cy + r // 6], fill=(0, 0, 0, 64))
    return Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")


def agency_stamp(im: Image.Image, rng: random.Random) -> Image.Image:
    """Held out (added after the stop-25 rules, run once): a news agency's stamp in a lower corner,
    white letters on a half-opaque dark band about 40% of the width."""
    out = im.convert("RGBA")
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    text = rng.choice(["© NEWS AGENCY 2022", "PHOTO: WIRE SERVICE"])
    size = _fit_size(text, im.width * 0.36, im.height * 0.06)
    width = _font(size).getlength(text)
    x0 = im.width * 0.97 - width - size * 0.6 if rng.random() < 0.5 else im.width * 0.03
    y0 = im.height * 0.95 - size * 1.5
    draw.rectangle([x0, y0, x0 + width + size * 0.6, y0 + size * 1.5], fill=(0, 0, 0, 140))
    draw.text((x0 + size * 0.3, y0 + size * 0.75), text, font=_font(size), fill=(255, 255, 255, 230), anchor="lm")
    return Image.alpha_composite(out, layer).convert("RGB")


def sticker_pair(im: Image.Image, rng: random.Random) -> Image.Image:
    """Held out (added after the stop-25 rules, run once): two smileys of 5–8% of the picture each,
    ringed in black, placed near each other as a poster does to cover two faces."""
    out = im.convert("RGBA")
    side = _side_for(im, rng.uniform(0.05, 0.08))
    x = rng.randint(0, max(0, im.width - 2 * side))
    y = rng.randint(0, max(0, im.height - side))
    for dx in (0, side + rng.randint(0, side // 4)):
        face = _emoji(side, rng)
        ring = Image.new("RGBA", face.size, (0, 0, 0, 0))
        ImageDraw.Draw(ring).ellipse([0, 0, side - 1, side - 1], outline=(0, 0, 0, 255), width=max(2, side // 20))
        out.alpha_composite(Image.alpha_composite(face, ring), (min(x + dx, im.width - side), y))
    return out.convert("RGB")


def subtitle(im: Image.Image, rng: random.Random) -> Image.Image:
    """Held out (added after the stop-25 rules, run once): one line of yellow subtitle text outlined
    in black across the lower fifth, as video stills and reaction posts carry."""
    out = im.copy()
    draw = ImageDraw.Draw(out)
    text = rng.choice(["they said it never happened", "look closely at the wall"])
    size = _fit_size(text, im.width * 0.8, im.height * 0.08)
    draw.text(
        (im.width / 2, im.height * 0.86), text, font=_font(size), fill=(255, 230, 40), anchor="mm",
        stroke_width=max(2, size // 10), stroke_fill=(0, 0, 0),
    )  # fmt: skip
    return out


# thumbnails ------------------------------------------------------------------------------------


def thumbnail(side: int) -> Callable[[Image.Image, random.Random], Image.Image]:
    """The picture scaled down to ``side`` pixels on its longest side."""
    return lambda im, rng: ImageOps.contain(im, (side, side), Image.Resampling.LANCZOS)


# geometry --------------------------------------------------------------------------------------


def _perspective(im: Image.Image, corners: list[tuple[float, float]]) -> Image.Image:
    """``im`` warped so that its own corners (TL, TR, BR, BL) land on ``corners`` of an image of its size."""
    w, h = im.size
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    # Image.transform maps output → input; solve for the 8 coefficients of that mapping
    rows, rhs = [], []
    for (x, y), (u, v) in zip(corners, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    coefficients = np.linalg.solve(np.array(rows, float), np.array(rhs, float))
    return im.transform(im.size, Image.Transform.PERSPECTIVE, tuple(coefficients), Image.Resampling.BICUBIC)


def _inner(im: Image.Image, margin: float) -> Image.Image:
    m = round(margin * im.width), round(margin * im.height)
    return im.crop((m[0], m[1], im.width - m[0], im.height - m[1]))


def keystone(im: Image.Image, rng: random.Random) -> Image.Image:
    """A vertical keystone correction (converging verticals straightened): the top widened by 8–14%
    against the bottom, then cropped to the part the warp filled."""
    w, h = im.size
    k = rng.uniform(0.08, 0.14) * w / 2
    warped = _perspective(im, [(-k, 0), (w + k, 0), (w, h), (0, h)])
    return _inner(warped, 0.06)


def keystone_sideways(im: Image.Image, rng: random.Random) -> Image.Image:
    """Held out: a horizontal keystone (one side taller by 8–12%), as a picture shot from the side and corrected."""
    w, h = im.size
    k = rng.uniform(0.08, 0.12) * h / 2
    side = rng.choice(["left", "right"])
    corners: list[tuple[float, float]] = (
        [(0, -k), (w, 0), (w, h), (0, h + k)] if side == "left" else [(0, 0), (w, -k), (w, h + k), (0, h)]
    )
    return _inner(_perspective(im, corners), 0.06)


# colour grading --------------------------------------------------------------------------------


def _curves(im: Image.Image, fn: Callable[[np.ndarray], np.ndarray]) -> Image.Image:
    pixels = np.asarray(im.convert("RGB"), dtype=np.float32) / 255
    return Image.fromarray((np.clip(fn(pixels), 0, 1) * 255 + 0.5).astype(np.uint8))


def _vignette_mask(shape: tuple[int, int], strength: float) -> np.ndarray:
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2)) / math.sqrt(2)
    return (1 - strength * r**2)[..., None]


def teal_orange(im: Image.Image, rng: random.Random) -> Image.Image:
    """The blockbuster grade: shadows pushed to teal, highlights and skin to orange, contrast up."""

    def grade(p: np.ndarray) -> np.ndarray:
        luma = p @ np.array([0.299, 0.587, 0.114], np.float32)
        luma = luma[..., None]
        s = 1 / (1 + np.exp(-8 * (luma - 0.5)))  # S-curve on luminance
        teal, orange = np.array([0.0, 0.5, 0.55]), np.array([1.0, 0.6, 0.25])
        tint = (1 - s) * teal + s * orange
        return 0.55 * s * np.ones(3) + 0.45 * tint * (0.4 + 0.6 * p.mean(axis=2, keepdims=True)) + 0.25 * (p - luma)

    return _curves(im, grade)


def sepia(im: Image.Image, rng: random.Random) -> Image.Image:
    """Sepia toning (a fixed brown matrix over the colours) with a soft vignette."""
    matrix = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)
    return _curves(im, lambda p: (p @ matrix.T) * _vignette_mask(p.shape[:2], 0.35))


def vignette(im: Image.Image, rng: random.Random) -> Image.Image:
    """A heavy vignette: the corners darkened to a third, the centre a little brighter."""
    return _curves(im, lambda p: p * 1.08 * _vignette_mask(p.shape[:2], 0.7))


def film(im: Image.Image, rng: random.Random) -> Image.Image:
    """A film filter: lifted blacks, a warm cast, muted colours, grain and a light vignette."""
    grain = np.random.default_rng(rng.randint(0, 2**31))

    def grade(p: np.ndarray) -> np.ndarray:
        luma = p.mean(axis=2, keepdims=True)
        muted = luma + 0.6 * (p - luma)
        faded = 0.12 + 0.8 * muted
        warm = faded * np.array([1.06, 1.0, 0.86], np.float32)
        noisy = warm + grain.normal(0, 0.03, p.shape[:2])[..., None]
        return noisy * _vignette_mask(p.shape[:2], 0.3)

    return _curves(im, grade)


def cross_process(im: Image.Image, rng: random.Random) -> Image.Image:
    """Held out: a cross-processing look (per-channel curves: red and green S-curves, blue flattened
    and lifted), a vignette and a blur of the edges."""

    def grade(p: np.ndarray) -> np.ndarray:
        r = 1 / (1 + np.exp(-9 * (p[..., 0] - 0.5)))
        g = 1 / (1 + np.exp(-7 * (p[..., 1] - 0.45)))
        b = 0.25 + 0.5 * p[..., 2]
        return np.stack([r, g, b], axis=2) * _vignette_mask(p.shape[:2], 0.45)

    return _curves(im, grade).filter(ImageFilter.GaussianBlur(0.8))


# a picture inside a picture --------------------------------------------------------------------


def picture_in_picture(
    im: Image.Image, rng: random.Random, background: Image.Image | None = None, share: tuple[float, float] = (0.35, 0.5)
) -> Image.Image:
    """The copy inset, with a white frame and a drop shadow, over another photo (``background``, or a
    grey gradient), as a news video or a reaction post shows it: 35–50% of the width, in a corner."""
    canvas = (
        cover(background, (1200, 800))
        if background is not None
        else Image.linear_gradient("L").resize((1200, 800)).convert("RGB")
    )
    width = round(canvas.width * rng.uniform(*share))
    inset = ImageOps.expand(
        im.resize((width, max(1, round(im.height * width / im.width))), Image.Resampling.LANCZOS), 6, (255, 255, 255)
    )
    if inset.width > canvas.width - 40 or inset.height > canvas.height - 40:  # a tall picture: fit the height
        inset = ImageOps.contain(inset, (canvas.width - 40, canvas.height - 40))
    x = rng.choice([20, canvas.width - inset.width - 20])
    y = rng.choice([20, canvas.height - inset.height - 20])
    shadow = Image.new("L", canvas.size, 0)
    ImageDraw.Draw(shadow).rectangle([x + 8, y + 8, x + inset.width + 8, y + inset.height + 8], fill=140)
    canvas = Image.composite(
        Image.new("RGB", canvas.size, (0, 0, 0)), canvas, shadow.filter(ImageFilter.GaussianBlur(6))
    )
    canvas.paste(inset, (x, y))
    return canvas


def picture_in_phone(im: Image.Image, rng: random.Random, background: Image.Image | None = None) -> Image.Image:
    """Held out: the copy on a phone screen held over another photo, turned by 4–8 degrees."""
    screen = ImageOps.contain(im, (360, 640), Image.Resampling.LANCZOS)
    phone = ImageOps.expand(screen, (18, 60, 18, 60), (20, 20, 24)).convert("RGBA")
    phone = phone.rotate(rng.choice([-1, 1]) * rng.uniform(4, 8), expand=True, resample=Image.Resampling.BICUBIC)
    canvas = (
        cover(background, (1000, 1000)) if background is not None else Image.new("RGB", (1000, 1000), (90, 80, 70))
    ).convert("RGBA")
    canvas.alpha_composite(phone, ((canvas.width - phone.width) // 2, (canvas.height - phone.height) // 2))
    return canvas.convert("RGB")


#: transforms the matcher is tuned on
POSTED: dict[str, Transform] = {
    "sticker": _as(sticker),
    "stickers-3": _as(stickers),
    "meme-text": _as(meme_text),
    "watermark-tiled": _as(tiled_watermark),
    "watermark-diagonal": _as(diagonal_watermark),
    "thumbnail-96": _as(thumbnail(96), quality=80),
    "thumbnail-128": _as(thumbnail(128), quality=80),
    "thumbnail-160": _as(thumbnail(160), quality=80),
    "keystone": _as(keystone),
    "grade-teal-orange": _as(teal_orange),
    "grade-sepia": _as(sepia),
    "grade-vignette": _as(vignette),
    "grade-film": _as(film),
    "picture-in-picture": _as(picture_in_picture),
}

#: never looked at while tuning: reported apart, a check that a change generalises
HELD_OUT: dict[str, Transform] = {
    "held-hearts": _as(hearts),
    "held-meme-middle": _as(meme_text_middle),
    "held-logo-grid": _as(logo_grid),
    "held-thumbnail-112-webp": lambda im, rng: encode(thumbnail(112)(im, rng), "WEBP", quality=70),
    "held-keystone-sideways": _as(keystone_sideways),
    "held-cross-process": _as(cross_process),
    "held-picture-in-phone": _as(picture_in_phone),
    "held-agency-stamp": _as(agency_stamp),
    "held-sticker-pair": _as(sticker_pair),
    "held-subtitle": _as(subtitle),
}

#: transforms that take a second, unrelated photo (the benchmark passes a distractor)
NEEDS_BACKGROUND = {"picture-in-picture": picture_in_picture, "held-picture-in-phone": picture_in_phone}

#: the family of every transform, for the per-family recall goals
FAMILIES: dict[str, str] = {
    **dict.fromkeys(["jpeg-q75", "jpeg-q50", "jpeg-q30", "jpeg-q15", "webp", "png", "metadata-stripped"], "encoding"),
    **dict.fromkeys(["resize-50", "thumbnail-256", "wordpress-960x640"], "resizing"),
    **dict.fromkeys(["grayscale", "brightness", "contrast", "saturation"], "colour"),
    **dict.fromkeys(["blur", "noise", "sharpen"], "filters"),
    **dict.fromkeys(["caption-banner", "watermark", "white-border", "letterbox-16x9"], "overlays"),
    **dict.fromkeys(["mirror", "rotate-90", "rotate-3-5"], "geometry"),
    **dict.fromkeys(["crop-90", "crop-75-offcentre", "crop-60"], "crops"),
    **dict.fromkeys(["screenshot", "collage-2x2"], "screenshots and collages"),
    "chain": "chain",
    **dict.fromkeys(["sticker", "stickers-3", "held-hearts", "held-sticker-pair"], "stickers"),
    **dict.fromkeys(["meme-text", "held-meme-middle", "held-subtitle"], "meme text"),
    **dict.fromkeys(
        ["watermark-tiled", "watermark-diagonal", "held-logo-grid", "held-agency-stamp"], "tiled watermarks"
    ),
    **dict.fromkeys(["thumbnail-96", "thumbnail-128", "thumbnail-160", "held-thumbnail-112-webp"], "thumbnails"),
    **dict.fromkeys(["keystone", "held-keystone-sideways"], "keystone"),
    **dict.fromkeys(
        ["grade-teal-orange", "grade-sepia", "grade-vignette", "grade-film", "held-cross-process"], "colour grading"
    ),
    **dict.fromkeys(["picture-in-picture", "held-picture-in-phone"], "picture in picture"),
}
