"""ExifTool as the oracle for canonical metadata: which ExifTool tags hold each field, and how to compare.

Written independently of provenance.metadata: it reads ExifTool's JSON (``exiftool -j -G1 -a -s -n``)
and normalises ExifTool's conventions, so agreement means two different readers agree.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

#: canonical field → ExifTool tags in the priority order the docs promise (first present wins)
FIELD_TAGS: dict[str, list[str]] = {
    "make": ["IFD0:Make", "XMP-tiff:Make"],
    "model": ["IFD0:Model", "XMP-tiff:Model"],
    "software": ["IFD0:Software", "XMP-tiff:Software", "PNG:Software"],
    "datetime_original": ["ExifIFD:DateTimeOriginal", "XMP-exif:DateTimeOriginal"],
    "datetime_digitized": ["ExifIFD:CreateDate", "XMP-exif:DateTimeDigitized", "XMP-xmp:CreateDate"],
    "datetime_modified": ["IFD0:ModifyDate", "XMP-xmp:ModifyDate"],
    "gps_latitude": ["Composite:GPSLatitude"],
    "gps_longitude": ["Composite:GPSLongitude"],
    "gps_altitude": ["Composite:GPSAltitude"],
    "gps_datetime": ["Composite:GPSDateTime"],
    "lens_model": ["ExifIFD:LensModel", "XMP-exifEX:LensModel", "XMP-aux:Lens"],
    "exposure_time": ["ExifIFD:ExposureTime", "XMP-exif:ExposureTime"],
    "f_number": ["ExifIFD:FNumber", "XMP-exif:FNumber"],
    "iso": ["ExifIFD:ISO", "XMP-exif:ISO"],
    "focal_length": ["ExifIFD:FocalLength", "XMP-exif:FocalLength"],
    "body_serial_number": ["ExifIFD:SerialNumber", "XMP-exifEX:SerialNumber", "XMP-aux:SerialNumber"],
    "lens_serial_number": ["ExifIFD:LensSerialNumber", "XMP-exifEX:LensSerialNumber", "XMP-aux:LensSerialNumber"],
    "artist": ["IFD0:Artist", "XMP-tiff:Artist", "PNG:Author"],
    "copyright": ["IFD0:Copyright", "IPTC:CopyrightNotice", "XMP-dc:Rights", "PNG:Copyright"],
    "image_description": ["IFD0:ImageDescription", "PNG:Description"],
    "user_comment": ["ExifIFD:UserComment"],
    "caption": ["IPTC:Caption-Abstract", "XMP-dc:Description"],
    "headline": ["IPTC:Headline", "XMP-photoshop:Headline"],
    "keywords": ["IPTC:Keywords", "XMP-dc:Subject"],
    "byline": ["IPTC:By-line", "XMP-dc:Creator"],
    "credit": ["IPTC:Credit", "XMP-photoshop:Credit"],
    "source": ["IPTC:Source", "XMP-photoshop:Source"],
    "city": ["IPTC:City", "XMP-photoshop:City"],
    "country": ["IPTC:Country-PrimaryLocationName", "XMP-photoshop:Country"],
    "xmp_creator_tool": ["XMP-xmp:CreatorTool"],
    "xmp_history": ["XMP-xmpMM:HistoryAction"],
    "document_id": ["XMP-xmpMM:DocumentID"],
    "original_document_id": ["XMP-xmpMM:OriginalDocumentID"],
    "icc_profile": ["ICC_Profile:ProfileDescription"],
}

_NUMERIC = {"gps_latitude", "gps_longitude", "gps_altitude", "exposure_time", "f_number", "focal_length", "iso"}
_DATES = {"datetime_original", "datetime_digitized", "datetime_modified", "gps_datetime"}
_LISTS = {"keywords", "xmp_history"}
# sub-second and offset companions of the EXIF date tags
_DATE_PARTS = {
    "ExifIFD:DateTimeOriginal": ("ExifIFD:SubSecTimeOriginal", "ExifIFD:OffsetTimeOriginal"),
    "ExifIFD:CreateDate": ("ExifIFD:SubSecTimeDigitized", "ExifIFD:OffsetTimeDigitized"),
    "IFD0:ModifyDate": ("ExifIFD:SubSecTime", "ExifIFD:OffsetTime"),
}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = "; ".join(t for t in (_text(v) for v in value) if t)
    text = str(value).strip(" \t\r\n\x00")
    return text or None


def _date(value: Any, subsec: Any = None, offset: Any = None) -> tuple | None:
    """(datetime, offset minutes or None) from ExifTool's ``YYYY:MM:DD HH:MM:SS[.ss][±HH:MM|Z]``."""
    text = _text(value)
    if not text:
        return None
    m = re.match(r"(\d{4})[:-](\d\d)[:-](\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?)?(.*)$", text)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, rest = m.groups()
    frac = frac or (_text(subsec) if _text(subsec) and _text(subsec).isdigit() else None)
    try:
        moment = datetime(
            int(y),
            int(mo),
            int(d),
            int(h or 0),
            int(mi or 0),
            int(s or 0),
            int(round(float(f"0.{frac}") * 1e6)) if frac else 0,
        )
    except ValueError:
        return None
    zone = _text(offset) or _text(rest)
    minutes = None
    if zone == "Z":
        minutes = 0
    elif zone and re.fullmatch(r"[+-]\d\d:?\d\d", zone):
        sign = -1 if zone[0] == "-" else 1
        minutes = sign * (int(zone[1:3]) * 60 + int(zone[-2:]))
    return (moment, minutes)


def _ours_date(value: Any) -> tuple | None:
    return _date(value) if isinstance(value, str) else None


def expected(entry: dict, field: str) -> tuple[str, Any] | None:
    """(tag, normalised value) ExifTool gives for ``field``, or None when it has no usable value."""
    for tag in FIELD_TAGS[field]:
        if tag not in entry:
            continue
        raw = entry[tag]
        if field in _DATES:
            sub, off = _DATE_PARTS.get(tag, (None, None))
            value = _date(raw, entry.get(sub), entry.get(off))
        elif field in _NUMERIC:
            value = raw if isinstance(raw, (int, float)) and math.isfinite(raw) else None
            if isinstance(raw, str):
                try:
                    value = float(raw.split()[0])
                except (ValueError, IndexError):
                    value = None
        elif field in _LISTS:
            items = raw if isinstance(raw, list) else [raw]
            value = [t for t in (_text(i) for i in items) if t] or None
        else:
            value = _text(raw)
        if value is not None:
            return tag, value
    return None


def agrees(field: str, ours: Any, theirs: Any) -> bool:
    """Whether our canonical value and ExifTool's normalised value say the same thing."""
    if ours is None:
        return False
    if field in _DATES:
        return _ours_date(ours) == theirs
    if field == "iso":
        return int(ours) == int(theirs)
    if field in _NUMERIC:
        return math.isclose(float(ours), float(theirs), rel_tol=1e-6, abs_tol=1e-6)
    if field == "xmp_history":
        return [e.get("action") for e in ours] == theirs
    if field in _LISTS:
        return list(ours) == theirs
    return _text(ours) == theirs


def compare(entry: dict, canonical: dict) -> tuple[int, list[str]]:
    """How many (field) pairs ExifTool has for this file, and a line for each disagreement."""
    pairs, disagreements = 0, []
    for field in FIELD_TAGS:
        found = expected(entry, field)
        if found is None:
            continue
        tag, theirs = found
        pairs += 1
        ours = canonical.get(field)
        if not agrees(field, ours, theirs):
            disagreements.append(f"{field}: ours={ours!r} exiftool[{tag}]={theirs!r}")
    return pairs, disagreements
