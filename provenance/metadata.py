"""EXIF (exifread), IPTC and XMP (through Pillow) → the documented canonical metadata fields.

Each canonical field is read from a list of sources in priority order (EXIF first,
then IPTC, XMP, PNG text), in the spirit of the Metadata Working Group's guidance;
``FIELD_SOURCES`` is that list, and docs/fingerprint.md documents it. Values are
normalised and typed; a field with no usable value is left out, never defaulted.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import exifread
from PIL import Image

from . import xmp as xmp_module

_EXIF_PREFIXES = ("Image ", "EXIF ", "GPS ", "Interoperability ", "MakerNote ", "Thumbnail ")


class _Collect(logging.Handler):
    """Gathers exifread's log warnings so they end up in the record, not on stderr."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.messages) < 10:
            self.messages.append(record.getMessage())


def read_exif(
    source: bytes | str, fallback_blobs: Iterable[Callable[[], bytes | None]] = (), *, details: bool = False
) -> tuple[dict, list[str]]:
    """The EXIF tags exifread finds in the file (MakerNotes and UserComment only with ``details``,
    because decoding MakerNotes can cost more than decoding the pixels) and the warnings it logged.

    When exifread finds none in the file itself (formats or damage it cannot walk), each
    fallback is asked in turn for a raw EXIF block (as Pillow extracted or rebuilt it);
    last, for bytes in memory, an ``Exif\\0\\0`` block is looked for in the bytes themselves.
    """
    logger = logging.getLogger("exifread")
    collector = _Collect()
    logger.addHandler(collector)
    saved_propagate, logger.propagate = logger.propagate, False
    blobs = list(fallback_blobs)
    if isinstance(source, (bytes, bytearray)):
        blobs.append(lambda: carve_exif(source))
    try:
        tags = _process_guarded(source, collector, "the file", details)
        for blob_of in blobs:
            if has_exif(tags):
                break
            try:
                blob = blob_of()
            except Exception as exc:  # noqa: BLE001
                collector.messages.append(f"EXIF block unavailable: {type(exc).__name__}: {exc}")
                continue
            if blob:
                block = blob[6:] if blob.startswith(b"Exif\x00\x00") else blob
                tags = _process_guarded(block, collector, "the EXIF block", details) or tags
    finally:
        logger.removeHandler(collector)
        logger.propagate = saved_propagate
    return tags, collector.messages


def _process_guarded(source: bytes | str, collector: _Collect, what: str, details: bool) -> dict:
    # MakerNotes are where exifread breaks most; without them the standard tags still count
    for attempt in (True, False) if details else (False,):
        try:
            return _process(source, attempt)
        except Exception as exc:  # noqa: BLE001 - exifread raises anything on damaged files
            without = " even without MakerNotes" if details and not attempt else ""
            collector.messages.append(f"exifread could not read {what}{without}: {type(exc).__name__}: {exc}")
    return {}


def _process(source: bytes | str, details: bool) -> dict:
    if isinstance(source, (bytes, bytearray)):
        return exifread.process_file(io.BytesIO(source), details=details, extract_thumbnail=True)
    with open(source, "rb") as fh:
        return exifread.process_file(fh, details=details, extract_thumbnail=True)


_CARVE = re.compile(rb"Exif\x00\x00(?:II\*\x00|MM\x00\*)")


def carve_exif(data: bytes) -> bytes | None:
    """The first EXIF block found by scanning the bytes (damaged containers, unknown formats)."""
    found = _CARVE.search(data)
    return data[found.start() :] if found else None


def has_exif(tags: dict) -> bool:
    """Whether exifread found real EXIF tags (not only the unnamed junk a misparse yields)."""
    return any(key.startswith(_EXIF_PREFIXES) and " Tag 0x" not in key for key in tags)


# --- JSON-safe EXIF -------------------------------------------------------------------------


def exif_to_json(tags: dict) -> dict[str, Any]:
    """Every tag as JSON-safe values: text as str, ratios as numbers, bytes as lowercase hex."""
    out: dict[str, Any] = {}
    for key, tag in tags.items():
        if key in ("JPEGThumbnail", "TIFFThumbnail") or not hasattr(tag, "values"):
            continue
        out[key] = _json_value(tag)
    return out


def _json_value(tag: Any) -> Any:
    values = tag.values
    if isinstance(values, str):
        return values
    if isinstance(values, (bytes, bytearray)):
        return _text(bytes(values)) if int(tag.field_type) == 2 else values.hex()
    if not isinstance(values, list):
        return str(values)
    if int(tag.field_type) in (1, 7) and all(isinstance(v, int) for v in values):  # BYTE, UNDEFINED
        return bytes(v & 0xFF for v in values).hex()
    items = [_number(v) for v in values]
    return items[0] if len(items) == 1 else items


def _number(value: Any) -> Any:
    if isinstance(value, Fraction):
        return None if value.denominator == 0 else _finite(float(value))
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, int):
        return value
    return str(value)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _text(raw: bytes) -> str:
    # as ExifTool does: UTF-8, with each byte that is not valid UTF-8 shown as "?"
    raw = raw.split(b"\x00", 1)[0]
    return raw.decode("utf-8", errors="replace").replace("\ufffd", "?")


# --- value normalisation --------------------------------------------------------------------


def clean_text(value: Any) -> str | None:
    """Text with surrounding whitespace and NULs removed; None when nothing is left."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        value = _text(bytes(value))
    if isinstance(value, list):
        value = "; ".join(v for v in (clean_text(x) for x in value) if v)
    text = str(value).strip(" \t\r\n\x00")
    return text or None


def to_float(value: Any) -> float | None:
    """A number from a ratio, a float, an int or text such as ``"1/125"``."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    try:
        if isinstance(value, Fraction):
            return None if value.denominator == 0 else _finite(float(value))
        if isinstance(value, str):
            value = value.strip()
            if "/" in value:
                num, den = value.split("/", 1)
                return None if float(den) == 0 else _finite(float(num) / float(den))
        return _finite(float(value))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None


def to_int(value: Any) -> int | None:
    number = to_float(value)
    return None if number is None else int(round(number))


_EXIF_DATE = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?")
_OFFSET = re.compile(r"^\s*(Z|[+-]\d{2}:?\d{2})\s*$")


def iso_datetime(value: Any, subsec: Any = None, offset: Any = None) -> str | None:
    """``2008:05:30 15:56:01`` (+ sub-seconds, + offset) → ``2008-05-30T15:56:01.00+02:00``.

    Dates that are blank, all zeros or impossible give None.
    """
    text = clean_text(value)
    if not text:
        return None
    match = _EXIF_DATE.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        from datetime import datetime

        datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        return None
    result = f"{year}-{month}-{day}"
    if hour is not None:
        result += f"T{hour}:{minute}:{second or '00'}"
        digits = fraction or _digits(subsec)
        if digits:
            result += f".{digits}"
        zone = _offset(offset) or _offset_in(text[match.end() :])
        if zone:
            result += zone
    return result


def _digits(value: Any) -> str | None:
    text = clean_text(value)
    return text if text and text.isdigit() else None


def _offset(value: Any) -> str | None:
    text = clean_text(value)
    if not text:
        return None
    match = _OFFSET.match(text)
    if not match:
        return None
    zone = match.group(1)
    if zone == "Z":
        return "Z"
    zone = zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    return zone if hours <= 14 and minutes < 60 else None


def _offset_in(rest: str) -> str | None:
    # only an offset written right after the time counts; "GMT+2" and other prose do not
    return _offset(rest) if rest.strip() else None


def gps_coordinate(values: Any, ref: Any, negative: str) -> float | None:
    """Degrees/minutes/seconds ratios and a reference letter → signed decimal degrees."""
    ref_text = clean_text(ref)
    if not isinstance(values, list) or not values or not ref_text:
        return None  # without the hemisphere the sign would be a guess
    found = [to_float(v) for v in values[:3]]
    parts = [p for p in found if p is not None]
    if len(parts) != len(found):
        return None
    degrees = parts[0] + (parts[1] / 60 if len(parts) > 1 else 0) + (parts[2] / 3600 if len(parts) > 2 else 0)
    return -degrees if ref_text[0].upper() == negative else degrees


def gps_datetime(date: Any, time: Any) -> str | None:
    """GPSDateStamp + GPSTimeStamp (UTC by definition) → ISO 8601 with ``Z``."""
    date_text = clean_text(date)
    if not date_text or not isinstance(time, list) or len(time) < 3:
        return None
    found = [to_float(v) for v in time[:3]]
    parts = [p for p in found if p is not None]
    if len(parts) != 3:
        return None
    hour, minute, second = parts
    whole = int(second)
    fraction = f"{second - whole:.6f}"[1:].rstrip("0").rstrip(".") if second != whole else ""
    return iso_datetime(f"{date_text[:10]} {int(hour):02d}:{int(minute):02d}:{whole:02d}{fraction}", offset="Z")


def user_comment(values: Any) -> str | None:
    """Decode EXIF UserComment: an 8-byte character code then the text."""
    if isinstance(values, str):
        return clean_text(values)
    if isinstance(values, (bytes, bytearray)):
        values = list(values)
    if not isinstance(values, list) or not all(isinstance(v, int) for v in values):
        return None
    raw = bytes(v & 0xFF for v in values)
    code, body = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
            text = body.decode("utf-16", errors="replace")
        else:  # byte order not stated: the one that puts zeros in the high bytes of ASCII
            little = body[1::2].count(0) >= body[0::2].count(0)
            text = body.decode("utf-16-le" if little else "utf-16-be", errors="replace")
    elif code.startswith(b"JIS"):
        text = body.decode("shift_jis", errors="replace")
    elif code.startswith(b"ASCII") or code == b"\x00" * 8:
        text = _text(body)
    else:  # no valid code: the whole field is the text, as ExifTool reads it
        text = _text(raw)
    return clean_text(text.replace("\x00", ""))


# --- sources --------------------------------------------------------------------------------


@dataclass
class Sources:
    """The raw metadata of one file, from each reader."""

    exif: dict
    iptc: dict[str, Any]
    xmp: xmp_module.XmpPacket | None
    png_text: dict[str, str]
    #: EXIF UserComment as Pillow read it (exifread skips it unless asked for details)
    user_comment: bytes | None = None


#: reads one canonical field from the sources of a record (None when they do not hold it)
Reader = Callable[[Sources], Any]


def _exif(name: str, convert: Callable[[Any], Any] = clean_text) -> Reader:
    def read(s: Sources) -> Any:
        tag = s.exif.get(name)
        return None if tag is None else convert(tag.values)

    return read


def _exif_datetime(name: str, subsec: str, offset: str) -> Reader:
    def read(s: Sources) -> Any:
        tag = s.exif.get(name)
        if tag is None:
            return None
        sub, off = s.exif.get(subsec), s.exif.get(offset)
        return iso_datetime(tag.values, sub.values if sub else None, off.values if off else None)

    return read


def _gps(name: str, negative: str) -> Reader:
    def read(s: Sources) -> Any:
        tag, ref = s.exif.get(f"GPS {name}"), s.exif.get(f"GPS {name}Ref")
        if tag is None or ref is None:
            return None
        return gps_coordinate(tag.values, ref.values, negative)

    return read


def _gps_altitude(s: Sources) -> float | None:
    tag = s.exif.get("GPS GPSAltitude")
    if tag is None:
        return None
    metres = to_float(tag.values)
    ref = s.exif.get("GPS GPSAltitudeRef")
    below = ref is not None and to_int(ref.values) == 1
    return None if metres is None else (-metres if below else metres)


def _gps_time(s: Sources) -> str | None:
    date, time = s.exif.get("GPS GPSDate"), s.exif.get("GPS GPSTimeStamp")
    if date is None or time is None:
        return None
    return gps_datetime(date.values, time.values)


def _iptc(key: str) -> Reader:
    return lambda s: s.iptc.get(key)


def _xmp(prop: str, convert: Callable[[Any], Any] = clean_text) -> Reader:
    def read(s: Sources) -> Any:
        return None if s.xmp is None else convert(s.xmp.get(prop))

    return read


def _xmp_list(prop: str) -> Reader:
    def read(s: Sources) -> Any:
        if s.xmp is None:
            return None
        items = [t for t in (clean_text(v) for v in s.xmp.get_list(prop)) if t]
        return items or None

    return read


def _png(key: str) -> Reader:
    return lambda s: clean_text(s.png_text.get(key))


#: canonical field → its sources in priority order; the first usable value wins
FIELD_SOURCES: dict[str, list[Reader]] = {
    "make": [_exif("Image Make"), _xmp("tiff:Make")],
    "model": [_exif("Image Model"), _xmp("tiff:Model")],
    "software": [_exif("Image Software"), _xmp("tiff:Software"), _png("Software")],
    "datetime_original": [
        _exif_datetime("EXIF DateTimeOriginal", "EXIF SubSecTimeOriginal", "EXIF OffsetTimeOriginal"),
        _xmp("exif:DateTimeOriginal", iso_datetime),
    ],
    "datetime_digitized": [
        _exif_datetime("EXIF DateTimeDigitized", "EXIF SubSecTimeDigitized", "EXIF OffsetTimeDigitized"),
        _xmp("exif:DateTimeDigitized", iso_datetime),
        _xmp("xmp:CreateDate", iso_datetime),
    ],
    "datetime_modified": [
        _exif_datetime("Image DateTime", "EXIF SubSecTime", "EXIF OffsetTime"),
        _xmp("xmp:ModifyDate", iso_datetime),
    ],
    "gps_latitude": [_gps("GPSLatitude", "S")],
    "gps_longitude": [_gps("GPSLongitude", "W")],
    "gps_altitude": [_gps_altitude],
    "gps_datetime": [_gps_time],
    "lens_model": [_exif("EXIF LensModel"), _xmp("exifEX:LensModel"), _xmp("aux:Lens")],
    "exposure_time": [_exif("EXIF ExposureTime", to_float), _xmp("exif:ExposureTime", to_float)],
    "f_number": [_exif("EXIF FNumber", to_float), _xmp("exif:FNumber", to_float)],
    "iso": [_exif("EXIF ISOSpeedRatings", to_int), _xmp("exif:ISOSpeedRatings", to_int)],
    "focal_length": [_exif("EXIF FocalLength", to_float), _xmp("exif:FocalLength", to_float)],
    "body_serial_number": [
        _exif("EXIF BodySerialNumber"),
        _xmp("exifEX:BodySerialNumber"),
        _xmp("aux:SerialNumber"),
    ],
    "lens_serial_number": [
        _exif("EXIF LensSerialNumber"),
        _xmp("exifEX:LensSerialNumber"),
        _xmp("aux:LensSerialNumber"),
    ],
    "artist": [_exif("Image Artist"), _xmp("tiff:Artist"), _png("Author")],
    "copyright": [_exif("Image Copyright"), _iptc("copyright"), _xmp("dc:rights"), _png("Copyright")],
    "image_description": [_exif("Image ImageDescription"), _png("Description")],
    "user_comment": [_exif("EXIF UserComment", user_comment), lambda s: user_comment(s.user_comment)],
    "caption": [_iptc("caption"), _xmp("dc:description")],
    "headline": [_iptc("headline"), _xmp("photoshop:Headline")],
    "keywords": [_iptc("keywords"), _xmp_list("dc:subject")],
    "byline": [_iptc("byline"), _xmp("dc:creator")],
    "credit": [_iptc("credit"), _xmp("photoshop:Credit")],
    "source": [_iptc("source"), _xmp("photoshop:Source")],
    "city": [_iptc("city"), _xmp("photoshop:City")],
    "country": [_iptc("country"), _xmp("photoshop:Country")],
    "xmp_creator_tool": [_xmp("xmp:CreatorTool")],
    "xmp_history": [lambda s: None if s.xmp is None else (s.xmp.history() or None)],
    "document_id": [_xmp("xmpMM:DocumentID")],
    "original_document_id": [_xmp("xmpMM:OriginalDocumentID")],
}


def canonical_fields(sources: Sources, notes: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Fill each canonical field from the first source that has a usable value."""
    result: dict[str, Any] = {}
    for name, readers in FIELD_SOURCES.items():
        for read in readers:
            try:
                value = read(sources)
            except Exception as exc:  # noqa: BLE001 - one odd tag must not lose the others
                if notes is not None:
                    notes.append(("metadata", f"{name}: {type(exc).__name__}: {exc}"))
                continue
            if value is not None:
                result[name] = value
                break
    return result


# --- IPTC and ICC through Pillow ---------------------------------------------------------------

_IPTC_FIELDS = {
    (2, 120): "caption",
    (2, 105): "headline",
    (2, 25): "keywords",
    (2, 80): "byline",
    (2, 110): "credit",
    (2, 115): "source",
    (2, 90): "city",
    (2, 101): "country",
    (2, 116): "copyright",
}


def read_iptc(im: Image.Image) -> dict[str, Any]:
    """The IPTC-IIM fields we report, decoded (UTF-8 when declared or valid, else Windows-1252)."""
    from PIL import IptcImagePlugin

    info = IptcImagePlugin.getiptcinfo(im)  # type: ignore[arg-type]  # any opened image
    if not info:
        return {}
    utf8_declared = info.get((1, 90)) in (b"\x1b%G", [b"\x1b%G"])
    out: dict[str, Any] = {}
    for key, name in _IPTC_FIELDS.items():
        raw = info.get(key)
        if raw is None:
            continue
        items = raw if isinstance(raw, list) else [raw]
        texts = [t for t in (clean_text(_iptc_text(b, utf8_declared)) for b in items) if t]
        if not texts:
            continue
        out[name] = texts if name == "keywords" else "; ".join(texts)
    return out


def _iptc_text(raw: bytes, utf8_declared: bool) -> str:
    if utf8_declared:
        return raw.decode("utf-8", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def icc_description(icc: bytes) -> str | None:
    """The description of an embedded ICC profile (its 'desc' tag), read by LittleCMS."""
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return clean_text(profile.profile.profile_description)


def png_text(im: Image.Image) -> dict[str, str]:
    """PNG tEXt/zTXt/iTXt keywords as Pillow decoded them."""
    if im.format != "PNG":
        return {}
    return {k: v for k, v in getattr(im, "text", {}).items() if isinstance(v, str)}
