"""Pictures made for tests and benchmarks: look-alikes that a matcher must keep apart."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageOps


def mugshot(
    subject: Image.Image,
    wall: Image.Image | None = None,
    *,
    colour: tuple[int, int, int] = (200, 202, 198),
    shift: tuple[int, int] = (0, 0),
    tilt: float = 0.0,
    sway: float = 0.0,
) -> Image.Image:
    """A look-alike maker: ``subject`` in front of a fixed backdrop, as in a detention photo set
    (a plain wall of ``colour`` with height lines, or ``wall``, a textured one), 600x800.

    ``shift`` (pixels), ``tilt`` (degrees) and ``sway`` (a smooth non-rigid warp of that many pixels,
    a change of pose or expression) move the subject as between two frames of a burst: the same
    person and backdrop, another photograph."""
    if wall is None:
        backdrop = Image.new("RGB", (600, 800), colour)
        draw = ImageDraw.Draw(backdrop)
        for y in range(40, 800, 50):
            draw.line([(0, y), (600, y)], fill=(120, 120, 120), width=2)
    else:
        backdrop = ImageOps.fit(wall, (600, 800))
    w, h = 330, 480
    subject = ImageOps.fit(subject, (w, h))
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse([0, 0, w, int(h * 1.4)], fill=255)
    if sway:
        subject = _sway(subject, sway)
    if tilt:
        subject = subject.rotate(tilt, resample=Image.Resampling.BICUBIC)
        mask = mask.rotate(tilt, resample=Image.Resampling.BICUBIC)
    backdrop.paste(subject, ((600 - w) // 2 + shift[0], 800 - h + shift[1]), mask)
    return backdrop


def _sway(im: Image.Image, amplitude: float) -> Image.Image:
    """``im`` warped by a smooth displacement field of ``amplitude`` pixels (wavelength about a third of its size)."""
    import numpy as np
    from scipy.ndimage import map_coordinates

    pixels = np.asarray(im.convert("RGB"), dtype=np.float32)
    h, w = pixels.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    dx = amplitude * np.sin(2 * np.pi * y / (h / 3)) * np.sin(np.pi * x / w)
    dy = amplitude * np.sin(2 * np.pi * x / (w / 3)) * np.sin(np.pi * y / h)
    out = np.stack([map_coordinates(pixels[..., c], [y + dy, x + dx], order=1, mode="nearest") for c in range(3)], 2)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def generated_scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A distinct picture with no photograph in it, made from ``seed`` alone: a colour gradient, a
    low-frequency texture, shapes, strokes and words. Distractors for the keypoint search at scale:
    they give ORB corners and edges to describe, as a photo does, and share no content with one."""
    import random

    import numpy as np

    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    width, height = size
    low = nrng.integers(0, 256, (height // 32 + 2, width // 32 + 2, 3), dtype=np.uint8)
    texture = Image.fromarray(low).resize(size, Image.Resampling.BICUBIC)
    a, b = (tuple(rng.randrange(256) for _ in range(3)) for _ in range(2))
    gradient = Image.linear_gradient("L").rotate(rng.uniform(0, 360)).resize(size)
    background = Image.composite(Image.new("RGB", size, a), Image.new("RGB", size, b), gradient)
    im = Image.blend(background, texture, rng.uniform(0.2, 0.6))
    draw = ImageDraw.Draw(im)
    for _ in range(rng.randint(12, 40)):
        colour = tuple(rng.randrange(256) for _ in range(3))
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randint(8, width // 3), y0 + rng.randint(8, height // 3)
        shape = rng.randrange(5)
        if shape == 0:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
        elif shape == 1:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        elif shape == 2:
            points = [(rng.randrange(width), rng.randrange(height)) for _ in range(rng.randint(3, 6))]
            draw.polygon(points, fill=colour)
        elif shape == 3:
            draw.line([x0, y0, x1, y1], fill=colour, width=rng.randint(1, 6))
        else:
            word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
            draw.text((x0, y0), word, fill=colour)
    spread = rng.randint(2, 8)
    grain = nrng.integers(-spread, spread + 1, (height, width, 3), dtype=np.int16)
    return Image.fromarray(np.clip(np.asarray(im, dtype=np.int16) + grain, 0, 255).astype(np.uint8))
