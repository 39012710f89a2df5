"""Filling a ``Fingerprint`` from one read of one file: digests, decoding, hashes, metadata, thumbnail.

Apart from ``fingerprint.py`` (the record and its options) because this is what loads the decoder,
the hash libraries, exifread and NumPy: a command that only parses options or merges records never
imports it; a worker imports it with its first file.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from PIL import Image

from . import decode
from . import hashes as hash_kinds
from .decode import JPEG_FORMATS
from .digests import encoded_image_data_sha256, file_digests, name_digest, pixel_data_sha256
from .errors import ImageTooLarge, ProvenanceError, UnidentifiedImage
from .metadata import (
    Sources,
    canonical_fields,
    exif_to_json,
    icc_description,
    png_text,
    read_exif,
    read_iptc,
)
from .quality import estimate_quality
from .thumbnail import thumbnail_record
from .xmp import XmpPacket, scan_xmp, xmp_packet_bytes

if TYPE_CHECKING:
    from .fingerprint import Fingerprint, FingerprintOptions

#: flat pictures up to this many pixels are decoded again in full for pHash, dHash and aHash
_FULL_DECODE_FLAT = 4_000_000

T = TypeVar("T")


def fill(
    record: Fingerprint, data: bytes | None, streamed: dict | None, name: str | None, options: FingerprintOptions
) -> None:
    """Fill ``record`` from the file's bytes (``data``), or from its path ``name`` with its ``streamed``
    digests when it was too large to hold; never raises: what goes wrong is the record's error or a warning."""
    try:
        with decode.pixel_limit(options.max_pixels), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _fill(record, data, streamed, name, options)
        for warning in caught:
            record.note("decode", str(warning.message), warning.category.__name__)
    except Exception as exc:  # noqa: BLE001 - a bug of ours must not lose the record either
        record.set_error("InternalError", f"{type(exc).__name__}: {exc}")


def _fill(
    record: Fingerprint, data: bytes | None, streamed: dict | None, name: str | None, options: FingerprintOptions
) -> None:
    digests = file_digests(data) if data is not None else streamed
    assert digests is not None  # a file too large to hold came with its streamed digests
    record.md5, record.sha1, record.sha256 = digests["md5"], digests["sha1"], digests["sha256"]
    record.name_digest = name_digest(name, digests)

    source: bytes | str = data if data is not None else name or ""  # streamed files are re-read by path
    opened: list[str] = []
    try:
        im = decode.open_image(source, name, options.max_pixels, notes=opened)
    except UnidentifiedImage as exc:
        head = decode.file_head(source, 64)
        if decode.looks_like_image(name, head):
            record.kind = "image"
            _failed(record, exc, options)
            _fill_metadata(record, None, source, options, None)  # raw and JPEG XL files still carry EXIF
        return
    except ProvenanceError as exc:
        record.kind = "image"
        _failed(record, exc, options)
        _fill_metadata(record, None, source, options, None)
        return

    for message in opened:
        record.note("decode", message)
    with im:
        record.kind = "image"
        record.format = im.format
        record.width, record.height = im.size
        record.mode = im.mode
        try:
            record.frames = decode.frame_count(im)
        except ProvenanceError as exc:
            record.note("decode", str(exc))
        record.orientation = decode.orientation(im)
        try:
            decode.check_size(im.size, options.max_pixels)
        except ProvenanceError as exc:
            _failed(record, exc, options)
            _fill_metadata(record, im, source, options, None)
            return
        if im.format in JPEG_FORMATS:
            record.jpeg_quality = _quietly(
                record, "jpeg_quality", lambda: estimate_quality(getattr(im, "quantization", None))
            )
        try:
            _fill_pixels(record, im, data, options)
        except ProvenanceError as exc:
            _failed(record, exc, options)
        # the EXIF thumbnail is compared by pHash on purpose: its distance is a documented field
        _fill_metadata(record, im, source, options, record.hashes.get("phash"))


def _fill_pixels(record: Fingerprint, im: Image.Image, data: bytes | None, options: FingerprintOptions) -> None:
    """The perceptual hashes (first frame), then ``image_data_sha256``; raises on undecodable pixels.

    Hashes come first so that a multi-frame file damaged after its first frame keeps them.
    """
    images = decode.hashing_images(im, exact=options.exact_hashes)

    def failed(kind: str, exc: Exception) -> None:
        record.note("hashes", f"{kind}: {type(exc).__name__}: {exc}")

    # Which pixels each kind sees (docs/limits.md): kinds of resolution "full" (pHash, dHash and aHash,
    # the ones exchanged in lists) see the full decode, or a large JPEG's decode at reduced scale; the
    # costly ones a box-reduced copy.
    found = _hashes_of(images.compat, images.reduced, failed)
    record.hash_input = "full" if images.full else "reduced"
    if (
        not images.full
        and hash_kinds.low_information(found)
        and (record.width or 0) * (record.height or 0) <= _FULL_DECODE_FLAT
    ):
        # a flat or smooth picture's bits sit on its median, where reduced decoding moves them (measured
        # in docs/limits.md): decoded again in full from the bytes already read, where that costs little;
        # a larger flat picture keeps its reduced values (hashes of flat pictures never claim a match)
        source: bytes | str = data if data is not None else record.path or ""
        with decode.open_image(source, record.path, options.max_pixels) as again:
            upright, _ = decode.decode_upright(again)
            found.update(_hashes_of(upright, None, failed))
        record.hash_input = "full"
    record.hashes = {name: found[name] for name in hash_kinds.record_fields() if name in found}

    if im.format in JPEG_FORMATS or im.format == "PNG":
        if data is not None:
            record.image_data_sha256 = encoded_image_data_sha256(data)
        else:
            record.note("image_data", "not computed: the file is above the in-memory limit")
    else:
        record.image_data_sha256 = pixel_data_sha256(decode.iter_frames(im, options.max_pixels))


def _hashes_of(
    compat: Image.Image, reduced: Image.Image | None, failed: Callable[[str, Exception], None]
) -> dict[str, Any]:
    """The kinds of resolution "full" on ``compat``, the others on ``reduced`` (None: those are not computed)."""
    found: dict[str, Any] = {}
    for pixels in (compat,) if reduced is None or reduced is compat else (compat, reduced):
        kinds = [k for k in hash_kinds.kinds() if (compat if k.resolution == "full" else reduced) is pixels]
        found.update(hash_kinds.compute_hashes(pixels, kinds_to_compute=kinds, on_error=failed))
    return found


def _fill_metadata(
    record: Fingerprint,
    im: Image.Image | None,
    source: bytes | str,
    options: FingerprintOptions,
    main_phash: str | None,
) -> None:
    """Canonical metadata, the EXIF details and the thumbnail; ``im`` is None when no decoder opened the file."""
    notes: list[tuple[str, str]] = []
    fallbacks = [] if im is None else [lambda: im.info.get("exif"), lambda: im.getexif().tobytes()]
    tags, messages = read_exif(source, fallbacks, details=options.details)
    if tags:  # without EXIF, exifread only says so ("File format not recognized.")
        notes.extend(("exif", m) for m in messages)
    iptc: dict[str, Any] = {}
    text: dict[str, Any] = {}
    xmp, icc, comment = None, None, None
    if im is not None:
        if "EXIF UserComment" not in tags:
            comment = _quietly(record, "exif", lambda: im.getexif().get_ifd(0x8769).get(0x9286))
        iptc = _quietly(record, "iptc", lambda: read_iptc(im)) or {}
        packet = xmp_packet_bytes(im) or (scan_xmp(source) if isinstance(source, bytes) else None)
        xmp = _quietly(record, "xmp", lambda: XmpPacket.parse(packet)) if packet else None
        text = _quietly(record, "png_text", lambda: png_text(im)) or {}
        icc = im.info.get("icc_profile")
    record.metadata = canonical_fields(Sources(tags, iptc, xmp, text, comment), notes)
    if icc:
        description = _quietly(record, "icc_profile", lambda: icc_description(icc))
        if description:
            record.metadata["icc_profile"] = description
    if options.details:
        record.exif = exif_to_json(tags)
    for stage, message in notes:
        record.note(stage, message)

    displayed = None
    if record.width and record.height:
        displayed = (record.width, record.height)
        if record.orientation in (5, 6, 7, 8) and not (im is not None and "original_orientation" in im.info):
            displayed = (record.height, record.width)
    thumb = tags.get("JPEGThumbnail")
    if isinstance(thumb, (bytes, bytearray)) and thumb:
        record.thumbnail = _quietly(
            record,
            "thumbnail",
            lambda: thumbnail_record(bytes(thumb), record.orientation, main_phash, displayed, options.max_pixels),
        )
    compared = (main_phash, displayed)
    record.forensics = _quietly(record, "forensics", lambda: _forensics(record, source, tags, options, xmp, compared))


def _forensics(
    record: Fingerprint,
    source: bytes | str,
    tags: dict[str, Any],
    options: FingerprintOptions,
    xmp: XmpPacket | None = None,
    compared: tuple[str | None, tuple[int, int] | None] = (None, None),
) -> dict[str, Any]:
    """The ``forensics`` block, from the bytes already read (a file streamed for its size gets none of
    the JPEG or PNG structure). ``compared`` is the image's pHash and displayed size, which a
    Photoshop thumbnail is compared with as the EXIF thumbnail is."""
    from .credentials import read_credentials
    from .forensics import forensics_block
    from .jpeg_structure import PHOTOSHOP_4_THUMBNAIL, read_structure
    from .png_structure import read_png_structure

    structure = read_structure(source) if isinstance(source, bytes) and source[:3] == b"\xff\xd8\xff" else None
    png = read_png_structure(source) if isinstance(source, bytes) and structure is None else None
    preview = structure.photoshop_thumbnail if structure is not None else None
    jpeg = structure.photoshop_thumbnail_jpeg if structure is not None else None
    if preview is not None and jpeg:
        main_phash, displayed = compared
        seen = _quietly(
            record,
            "photoshop_thumbnail",
            lambda: thumbnail_record(
                jpeg,
                record.orientation,
                main_phash,
                displayed,
                options.max_pixels,
                swapped=preview["resource"] == PHOTOSHOP_4_THUMBNAIL,
            ),
        )
        if seen:
            preview.update(phash=seen["phash"], phash_distance=seen["phash_distance"])
    dimensions = None
    width, height = tags.get("EXIF ExifImageWidth"), tags.get("EXIF ExifImageLength")
    if width is not None and height is not None:
        try:
            dimensions = (int(str(width)), int(str(height)))
        except ValueError:
            dimensions = None
    size = (record.width, record.height) if record.width and record.height else None
    first_scan = next((s["offset"] for s in structure.segments if s["kind"] == "SOS"), None) if structure else None
    credentials = read_credentials(source, record.format, options.c2pa_trust, header_end=first_scan)
    dates = _recorded_dates(tags, xmp, record.metadata)
    return forensics_block(structure, record.metadata, dimensions, record.thumbnail, size, credentials, png, dates)


def _recorded_dates(tags: dict[str, Any], xmp: XmpPacket | None, metadata: dict[str, Any]) -> dict[str, str | None]:
    """The capture time as EXIF and XMP each record it, and the GPS fix's time, for the consistency rules."""
    from .metadata import iso_datetime

    taken, zone = tags.get("EXIF DateTimeOriginal"), tags.get("EXIF OffsetTimeOriginal")
    xmp_taken = None
    if xmp is not None:
        for prop in ("exif:DateTimeOriginal", "photoshop:DateCreated"):
            value = xmp.get(prop)
            xmp_taken = iso_datetime(value) if isinstance(value, str) else None
            if xmp_taken:
                break
    return {
        "exif_taken": iso_datetime(taken.values, None, zone.values if zone else None) if taken is not None else None,
        "xmp_taken": xmp_taken,
        "gps": metadata.get("gps_datetime"),  # the canonical field: GPSDateStamp + GPSTimeStamp, UTC
    }


def _failed(record: Fingerprint, exc: ProvenanceError, options: FingerprintOptions) -> None:
    """Record ``exc`` as the record's error; an image over the pixel limit says how to raise it, where one can."""
    message = str(exc)
    if isinstance(exc, ImageTooLarge) and options.max_pixels_hint:
        message = f"{message}; {options.max_pixels_hint}"
    record.set_error(exc.error_type, message)


def _quietly(record: Fingerprint, stage: str, compute: Callable[[], T]) -> T | None:
    """Run one optional step; a failure becomes a warning on the record, never a lost record."""
    try:
        return compute()
    except Exception as exc:  # noqa: BLE001
        record.note(stage, f"{type(exc).__name__}: {exc}")
        return None
