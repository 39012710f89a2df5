"""Opening images safely and preparing the pixels the perceptual hashes are computed on.

Safety: a pixel limit is enforced from the header, before any pixel is decoded
(decompression bombs), and every decoder failure becomes a ``ProvenanceError``.
Speed: JPEGs are decoded at reduced size (libjpeg's DCT scaling through Pillow's
``draft``), to at least ``HASH_MIN_SIDE`` pixels a side; other formats are decoded in
full anyway, and a box-reduced copy serves the hashes that cost most at full size.
``exact=True`` decodes JPEGs in full too.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from .containers import PNG_SIGNATURE, oversized_png_text, without_spans
from .errors import CorruptImage, ImageTooLarge, UnidentifiedImage

#: the reduced image the costly hashes (wHash, colour hash, PDQ) see has at least this many pixels a side
HASH_MIN_SIDE = 256
#: a large JPEG is decoded for pHash, dHash and aHash at reduced size keeping at least this many pixels a
#: side (DCT scaling; docs/limits.md measures what it costs in bits); a JPEG under twice this on its
#: shorter side is decoded in full anyway
COMPAT_MIN_SIDE = 256

JPEG_FORMATS = frozenset({"JPEG", "MPO"})

# Formats Pillow recognises without a magic number: accepted only with a matching extension,
# so that documents in a leak are not mistaken for images.
_WEAK_FORMATS = {"TGA": {".tga", ".icb", ".vda", ".vst"}}

IMAGE_EXTENSIONS = frozenset(
    ".jpg .jpeg .jpe .jfif .png .apng .gif .webp .tif .tiff .heic .heif .hif .avif .bmp .dib"
    " .jp2 .j2k .jpx .jxl .dng .cr2 .cr3 .nef .arw .orf .rw2 .raf .psd .ico .tga .pcx .ppm .pgm"
    " .pbm .pnm .svg .eps .emf .wmf".split()
)

_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",  # TIFF and most camera raw
    b"MM\x00*",
    b"BM",
    b"\x00\x00\x00\x0cJXL ",
    b"\xff\x0a",  # JPEG XL codestream
    b"\x00\x00\x00\x0cjP  ",  # JPEG 2000
    b"8BPS",  # PSD
)

_registered = False


def register_formats() -> None:
    """Teach Pillow HEIC/HEIF (pillow-heif); AVIF is Pillow's own. Safe to call repeatedly.

    ``open_image`` calls it only for an ISO media file (``ftyp`` box): importing the plugin costs a
    worker a tenth of a second, and no other file needs it."""
    global _registered
    if _registered:
        return
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - pillow-heif is a core dependency
        pass
    _registered = True


def file_head(source: bytes | str, size: int) -> bytes:
    """The first ``size`` bytes of a file given as bytes or a path (empty when it cannot be read)."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source[:size])
    try:
        with open(source, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""  # Image.open says why


def looks_like_image(name: str | None, data: bytes) -> bool:
    """Whether a file Pillow could not open still claims to be an image, by magic bytes or extension."""
    if any(data.startswith(m) for m in _MAGIC):
        return True
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return True
    if data[4:8] == b"ftyp" and data[8:12] in {
        b"heic",
        b"heix",
        b"heim",
        b"heis",
        b"hevc",
        b"hevx",
        b"mif1",
        b"msf1",
        b"avif",
        b"avis",
    }:
        return True
    return name is not None and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


@contextmanager
def pixel_limit(max_pixels: int) -> Iterator[None]:
    """Make Pillow's own decompression-bomb check agree with ``max_pixels`` for the duration."""
    saved = Image.MAX_IMAGE_PIXELS
    # Pillow raises above twice this value and warns above it; we check the exact limit ourselves.
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def check_size(size: tuple[int, int], max_pixels: int) -> None:
    """Refuse an image whose declared size is above the pixel limit."""
    width, height = size
    if width * height > max_pixels:
        raise ImageTooLarge(f"{width}x{height} is {width * height:,} pixels, {_ABOVE_LIMIT.format(max_pixels)}")


_ABOVE_LIMIT = "above the limit of {:,} (decompression-bomb guard)"


def _too_large(exc: Exception, max_pixels: int | None) -> ImageTooLarge:
    """Pillow's own bomb error, reworded with our limit (Pillow quotes twice its setting)."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    declared = f"the image declares {int(found.group(1)):,} pixels" if found else "the image is too large"
    return ImageTooLarge(f"{declared}, {_ABOVE_LIMIT.format(max_pixels or 0)}")


def open_image(source: bytes | str, name: str | None, max_pixels: int, notes: list[str] | None = None) -> Image.Image:
    """Open an image lazily (header only) from bytes or a path; raise on anything but a usable header.

    A PNG text chunk too large for Pillow (a zTXt that inflates past its limit: hiding a copy from the
    decoder is its only use) is left out so the pixels can be read; ``notes`` hears about it.
    """
    if file_head(source, 12)[4:8] == b"ftyp":
        register_formats()
    if isinstance(source, (bytes, bytearray)) and source.startswith(PNG_SIGNATURE):
        oversized = oversized_png_text(bytes(source), PngImagePlugin.MAX_TEXT_CHUNK)
        if oversized:
            source = without_spans(bytes(source), oversized)
            if notes is not None:
                kinds = ", ".join(sorted({s.kind.decode("latin-1") for s in oversized if isinstance(s.kind, bytes)}))
                notes.append(
                    f"{len(oversized)} PNG text chunk(s) ({kinds}) larger than "
                    f"{PngImagePlugin.MAX_TEXT_CHUNK:,} bytes once inflated were left out; the pixels were read"
                )
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        im = Image.open(fp)
    except Image.DecompressionBombError as exc:
        raise _too_large(exc, max_pixels) from exc
    except UnidentifiedImageError as exc:
        raise UnidentifiedImage("no decoder recognises this file") from exc
    except Exception as exc:  # decoders raise anything from SyntaxError to struct.error
        raise UnidentifiedImage(f"unreadable image header: {_describe(exc)}") from exc
    weak = _WEAK_FORMATS.get(im.format or "")
    if weak is not None and (not name or os.path.splitext(name)[1].lower() not in weak):
        im.close()
        raise UnidentifiedImage(f"only a weak {im.format} signature and no {im.format} file extension")
    check_size(im.size, max_pixels)
    return im


def orientation(im: Image.Image) -> int | None:
    """The EXIF orientation recorded in the file (1–8), or None."""
    if "original_orientation" in im.info:  # pillow-heif: the decoder already applied it
        value = im.info["original_orientation"]
    else:
        try:
            value = im.getexif().get(0x0112)
        except Exception:  # noqa: BLE001 - a damaged EXIF block: no orientation, not a failed record
            return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


@dataclass
class HashingImages:
    """The pixels perceptual hashes are computed on, oriented for display."""

    #: reduced image (shorter side >= HASH_MIN_SIDE where the source allows), native mode
    reduced: Image.Image
    #: what the hashes exchanged in lists (pHash, dHash, aHash) see: the full decode, or for a large JPEG
    #: its decode at reduced scale (shorter side >= COMPAT_MIN_SIDE)
    compat: Image.Image
    #: whether ``compat`` is the full-resolution decode (then those hashes are imagehash's, bit for bit)
    full: bool


def decode_upright(im: Image.Image, side: int | None = None) -> tuple[Image.Image, tuple[int, int]]:
    """Decode the current frame, turned upright by its EXIF orientation, and its full upright size.

    With ``side``, a JPEG is decoded at a reduced scale (DCT scaling) keeping both sides at least ``side``.
    """
    full = im.size
    if side and im.format in JPEG_FORMATS:
        im.draft(None, (side, side))
    load(im)
    try:
        upright = ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - a damaged EXIF block must not cost us the pixels
        upright = im
    if upright.size != im.size:  # turned a quarter: so is the full size
        full = (full[1], full[0])
    return upright, full


def oriented_image(
    source: str | bytes, name: str, max_pixels: int, side: int | None = None
) -> tuple[Image.Image, tuple[int, int]]:
    """An image decoded upright in RGB, and its full upright size (``decode_upright``), within the pixel limit."""
    with pixel_limit(max_pixels):
        upright, full = decode_upright(open_image(source, os.path.basename(name), max_pixels), side)
        return to_rgb(upright), full


def hashing_images(im: Image.Image, *, exact: bool = False) -> HashingImages:
    """Decode the first frame (a large JPEG at reduced size unless ``exact``) and apply the EXIF orientation."""
    oriented, full_size = decode_upright(im, None if exact else COMPAT_MIN_SIDE)
    return HashingImages(reduced=reduce_for_hashing(oriented), compat=oriented, full=oriented.size == full_size)


# Averaging is meaningless for palette indices and bilevel pixels.
_REDUCIBLE_MODES = frozenset({"L", "LA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "I", "F"})


def reduce_for_hashing(im: Image.Image) -> Image.Image:
    """Box-reduce by 2, 4 or 8, as JPEG DCT scaling would, keeping the shorter side >= HASH_MIN_SIDE."""
    scale = min(im.width // HASH_MIN_SIDE, im.height // HASH_MIN_SIDE)
    factor = next((f for f in (8, 4, 2) if scale >= f), 1)
    if factor == 1 or im.mode not in _REDUCIBLE_MODES:
        return im
    try:
        return im.reduce(factor)
    except (ValueError, NotImplementedError):
        return im


def load(im: Image.Image) -> None:
    """Decode the current frame's pixels, turning decoder failures into ``CorruptImage``."""
    try:
        im.load()
    except Image.DecompressionBombError as exc:
        raise _too_large(exc, Image.MAX_IMAGE_PIXELS) from exc
    except MemoryError as exc:
        raise CorruptImage("decoding needs more memory than is available") from exc
    except Exception as exc:
        raise CorruptImage(_describe(exc)) from exc


def frame_count(im: Image.Image) -> int:
    """How many frames (pages, layers, burst shots) the file declares; raises CorruptImage if that is unreadable."""
    try:
        return int(getattr(im, "n_frames", 1) or 1)
    except Exception as exc:  # counting walks the file: TIFF IFD chains, PSD layer blocks
        raise CorruptImage(f"cannot count frames: {_describe(exc)}") from exc


def iter_frames(im: Image.Image, max_pixels: int) -> Iterator[Image.Image]:
    """Every frame of ``im``, decoded, each checked against the pixel limit; ends on frame 0."""
    count = frame_count(im)
    try:
        for index in range(count):
            if index:
                try:
                    im.seek(index)
                except EOFError:
                    break
                except Exception as exc:
                    raise CorruptImage(f"frame {index}: {_describe(exc)}") from exc
            check_size(im.size, max_pixels)
            load(im)
            yield im
    finally:
        if count > 1:
            try:
                im.seek(0)
            except Exception:  # noqa: BLE001 - the frames were read; rewinding a damaged file may fail
                pass


def to_rgb(im: Image.Image) -> Image.Image:
    """An RGB copy of ``im``, including modes Pillow's ``convert`` refuses (CIELAB)."""
    if im.mode == "LAB":
        from PIL import ImageCms

        transform = ImageCms.buildTransform(ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB")
        converted = ImageCms.applyTransform(im, transform)
        assert converted is not None  # applyTransform returns None only when it works in place
        return converted
    return im.convert("RGB")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
