"""What a file's own bytes say about its history: the record's ``forensics`` block and its findings.

Each finding states a fact and the rule that found it (docs/forensics.md lists every code, what it
means, what it does not mean, and how often it fires on camera originals); none is a verdict on
whether a picture is genuine. The block is made from the bytes already read for the fingerprint.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import signatures
from .quality import ijg_quality

if TYPE_CHECKING:
    from .jpeg_structure import JpegStructure
    from .png_structure import PngStructure

#: names of editing and converting programs (lower case, matched as words in Software and
#: xmp:CreatorTool); camera firmware and phone camera apps are not on it
EDITORS = (
    "adobe photoshop", "photoshop", "lightroom", "camera raw", "gimp", "paint.net", "affinity photo",
    "pixelmator", "snapseed", "picasa", "acdsee", "photoscape", "capture one", "darktable", "rawtherapee",
    "imagemagick", "graphicsmagick", "libvips", "irfanview", "xnview", "faststone", "luminar", "corel",
    "paintshop", "photofiltre", "fotor", "canva", "krita", "digikam", "shotwell", "windows photo editor",
    "instagram", "facetune", "vsco", "picsart", "photoscape", "pixlr",
)  # fmt: skip
_EDITOR_WORDS = re.compile(r"\b(" + "|".join(re.escape(e) for e in EDITORS) + r")\b", re.IGNORECASE)


def names_editor(text: object) -> bool:
    """Whether ``text`` (a Software or CreatorTool value) names a program of ``EDITORS``."""
    return isinstance(text, str) and bool(_EDITOR_WORDS.search(text))


#: xmpMM:History actions that say the file was written again by software
EDIT_ACTIONS = ("saved", "converted", "derived", "edited", "cropped", "resized", "filtered", "produced")
#: thumbnail pHash distance at which it shows another picture (as the check rule's default)
THUMBNAIL_DISTANCE = 16
#: thumbnail and image aspect ratios differing by more than this share were not made from one frame
ASPECT_TOLERANCE = 0.03


def finding(code: str, severity: str, message: str, **facts: Any) -> dict[str, Any]:
    """One finding: a stable code, how much it weighs (info, notice, warning), the fact in words, its evidence."""
    return {"code": code, "severity": severity, "message": message, "facts": facts}


def forensics_block(
    structure: JpegStructure | None,
    metadata: dict[str, Any],
    exif_dimensions: tuple[int, int] | None,
    thumbnail: dict[str, Any] | None,
    size: tuple[int, int] | None,
    credentials: dict[str, Any] | None = None,
    png: PngStructure | None = None,
    dates: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """The record's ``forensics``: the JPEG structure (JPEG files) or the PNG chunks (PNG files), the
    encoder the tables point to, the Content Credentials (credentials.py), the findings."""
    findings: list[dict[str, Any]] = []
    block: dict[str, Any] = {"jpeg": None, "png": None, "encoder": None, "c2pa": credentials, "findings": findings}
    if png is not None:
        block["png"] = png.to_dict()
        findings.extend(_png_findings(png))
    if structure is not None:
        block["jpeg"] = structure.to_dict()
        quality = ijg_quality(structure.quantization)
        matched = signatures.candidates(block["jpeg"])
        block["encoder"] = {
            "ijg_quality": quality,
            "tables": (
                f"the IJG (libjpeg) standard tables at quality {quality}"
                if quality is not None
                else "not the IJG standard tables at any quality"
                if structure.quantization
                else None
            ),
            "named": signatures.named(matched),
            "candidates": [{"name": e["name"], "kind": e["kind"], "source": e["source"][0]} for e in matched[:20]],
        }
        findings.extend(_structure_findings(structure))
        findings.extend(
            _resave_findings(structure, quality, metadata)
            or resave_by_signature(block["jpeg"], metadata)
            or _resave_by_exif_writer(structure, quality, metadata, exif_dimensions, size)
        )
    findings.extend(_software_findings(metadata))
    findings.extend(_dimension_findings(exif_dimensions, size))
    findings.extend(_thumbnail_findings(thumbnail, size))
    findings.extend(_time_findings(metadata, dates or {}))
    findings.extend(_credential_findings(credentials))
    return block


def _structure_findings(structure: JpegStructure) -> list[dict[str, Any]]:
    out = []
    tail = structure.after_end
    declared = structure.mpf_images or 1
    if tail and tail["looks_like"] != "zeros":
        if tail["looks_like"] == "another JPEG" and declared > 1:
            pass  # the MPF index declares the images that follow: multiple-images below
        else:
            out.append(
                _appended(
                    tail,
                    "the end of the image",
                    "bytes after the JPEG end-of-image marker that are not zero padding "
                    "and not images an MPF index declares",
                )
            )
    if declared > 1:
        out.append(
            finding(
                "multiple-images",
                "info",
                f"the file holds {declared} images (an MPF index: previews or a second view)",
                mpf_images=declared,
                rule="an MPF segment whose index declares more than one image",
            )
        )
    preview = structure.photoshop_thumbnail
    if preview:
        out.append(
            finding(
                "multiple-images",
                "info",
                f"a Photoshop resource block carries a {preview['width']}x{preview['height']} thumbnail",
                photoshop_thumbnail=preview,
                rule="a Photoshop image resource (APP13) with a thumbnail resource (0x0409 or 0x040C)",
            )
        )
        out.extend(_thumbnail_distance(preview, "the Photoshop thumbnail", "Photoshop thumbnail"))
        width, height = structure.width, structure.height
        if width and height and preview["width"] and preview["height"]:
            if _another_shape((preview["width"], preview["height"]), (width, height)):
                out.append(
                    finding(
                        "thumbnail-mismatch",
                        "notice",
                        f"the Photoshop thumbnail is {preview['width']}x{preview['height']}, another shape than the "
                        f"{width}x{height} image (cropped after the thumbnail was written?)",
                        thumbnail_width=preview["width"],
                        thumbnail_height=preview["height"],
                        rule=f"Photoshop thumbnail and image aspect ratios differ by more than {ASPECT_TOLERANCE:.0%}",
                    )
                )
    if structure.problems:
        out.append(
            _damaged(structure.problems, "JPEG structure", "a marker, length or table that does not follow ITU-T T.81")
        )
    return out


def _appended(tail: dict[str, Any], after: str, rule: str) -> dict[str, Any]:
    """appended-data: ``tail`` (``trailing_bytes``) follows ``after``; an archive weighs more than other data."""
    return finding(
        "appended-data",
        "warning" if tail["looks_like"] in ("a ZIP archive", "an archive") else "notice",
        f"{tail['bytes']} bytes follow {after}; they look like {tail['looks_like']}",
        bytes=tail["bytes"],
        looks_like=tail["looks_like"],
        rule=rule,
    )


def _damaged(problems: list[str], what: str, rule: str) -> dict[str, Any]:
    return finding(
        "structure-damaged",
        "notice",
        f"the {what} cannot be read in full: " + "; ".join(problems[:3]),
        problems=problems[:10],
        rule=rule,
    )


def _segment_order(structure: JpegStructure) -> list[str]:
    """The kinds of the segments in file order, comments left out (programs put them anywhere)."""
    return [k for k in structure.kinds() if k != "COM"]


def _resave_findings(structure: JpegStructure, quality: int | None, metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """A camera's metadata in a file whose encoding a libjpeg-based program wrote.

    Two cues, both required, because either alone accuses camera originals: the IJG standard tables
    at some quality (a quarter of camera originals use them too), and a JFIF segment first, right
    after the start of the image, followed by the EXIF block (where libjpeg puts the JFIF marker it
    writes before the program's own segments; a camera writes its EXIF block first)."""
    if not metadata.get("make") or quality is None:
        return []
    kinds = _segment_order(structure)
    if len(kinds) < 2 or kinds[0] != "JFIF" or "EXIF" not in kinds:
        return []
    return [
        finding(
            "resaved-by-software",
            "notice",
            f"the metadata names a {metadata['make']} camera, but the file was encoded as libjpeg-based software "
            f"encodes (the IJG tables at quality {quality}, a JFIF segment ahead of the camera's EXIF block)",
            make=metadata.get("make"),
            model=metadata.get("model"),
            ijg_quality=quality,
            segment_order=kinds[:4],
            huffman=structure.huffman,
            subsampling=structure.subsampling,
            rule="camera metadata, the IJG standard tables at some quality, and a JFIF segment first, EXIF after it",
        )
    ]


def _resave_by_exif_writer(
    structure: JpegStructure,
    quality: int | None,
    metadata: dict[str, Any],
    exif_dimensions: tuple[int, int] | None,
    size: tuple[int, int] | None,
) -> list[dict[str, Any]]:
    """A camera's metadata in a file whose encoding and EXIF block are what libvips writes.

    libvips writes no JFIF segment and keeps the EXIF block first, as cameras do, so the structure
    rule cannot see it; but it rewrites the block with libexif. Five cues, all required: each one
    alone is found in camera originals, and on the corpus leaving out any one of them accuses 1–3 of
    its 93 originals (docs/forensics.md): the IJG tables, the EXIF segment first, the block in
    libexif's packed layout (exif_layout.py), IFD0 with the orientation and resolution tags libvips
    writes, and EXIF pixel dimensions equal to the frame's (libvips sets them)."""
    layout = structure.exif_layout
    if not metadata.get("make") or quality is None or layout is None or not layout.packed:
        return []
    kinds = _segment_order(structure)
    if not kinds or kinds[0] != "EXIF" or not layout.records_orientation_and_resolution():
        return []
    if exif_dimensions is None or exif_dimensions != size:
        return []
    return [
        finding(
            "resaved-by-software",
            "notice",
            f"the metadata names a {metadata['make']} camera, but the file was encoded as libvips encodes: the IJG "
            f"tables at quality {quality}, and an EXIF block rewritten in the packed layout of libexif (which libvips "
            "uses), with the orientation, resolution and pixel dimensions libvips sets",
            make=metadata.get("make"),
            model=metadata.get("model"),
            ijg_quality=quality,
            segment_order=kinds[:4],
            exif_layout=layout.to_dict(),
            exif_dimensions=list(exif_dimensions),
            rule="camera metadata, the IJG standard tables at some quality, the EXIF segment first, the EXIF block in "
            "libexif's packed layout with IFD0 Orientation, XResolution, YResolution and ResolutionUnit, and EXIF "
            "pixel dimensions equal to the frame's",
        )
    ]


def _software_findings(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    named = {}
    for field in ("software", "xmp_creator_tool"):
        value = metadata.get(field)
        if names_editor(value):
            named[field] = value
    history = metadata.get("xmp_history") or []
    actions = [
        {k: v for k, v in event.items() if k in ("action", "software_agent", "when", "parameters")}
        for event in history
        if isinstance(event, dict) and str(event.get("action", "")).lower() in EDIT_ACTIONS
    ]
    if not named and not actions:
        return []
    said = ", ".join(f"{k} names {v!r}" for k, v in named.items())
    if actions:
        said = (said + "; " if said else "") + f"the XMP history lists {len(actions)} edits or saves"
    return [
        finding(
            "software-tag",
            "notice",
            said,
            **named,
            history=actions[:20],
            rule="Software or xmp:CreatorTool names an editing program, "
            "or xmpMM:History records a save, conversion or derivation",
        )
    ]


def _dimension_findings(exif: tuple[int, int] | None, size: tuple[int, int] | None) -> list[dict[str, Any]]:
    if not exif or not size or 0 in exif or exif == size or exif == (size[1], size[0]):
        return []
    return [
        finding(
            "dimensions-changed",
            "notice",
            f"EXIF records {exif[0]}x{exif[1]} pixels; the image is {size[0]}x{size[1]} "
            "(resized or cropped after the EXIF block was written)",
            exif_width=exif[0],
            exif_height=exif[1],
            width=size[0],
            height=size[1],
            rule="EXIF PixelXDimension and PixelYDimension differ from the frame's dimensions, in either orientation",
        )
    ]


def _thumbnail_distance(thumbnail: dict[str, Any], named: str, kind: str) -> list[dict[str, Any]]:
    """thumbnail-mismatch when ``thumbnail``'s pHash is THUMBNAIL_DISTANCE bits or more from the image's."""
    d = thumbnail.get("phash_distance")
    if not isinstance(d, int) or d < THUMBNAIL_DISTANCE:
        return []
    return [
        finding(
            "thumbnail-mismatch",
            "warning",
            f"{named}'s pHash is {d} bits from the image's: it shows another picture, or this one before an edit",
            phash_distance=d,
            rule=f"{kind} pHash distance of {THUMBNAIL_DISTANCE} bits or more",
        )
    ]


def _another_shape(thumbnail: tuple[int, int], image: tuple[int, int]) -> bool:
    """Whether the aspect ratios (long side over short side) differ by more than ASPECT_TOLERANCE."""
    image_ratio = max(image) / max(1, min(image))
    thumb_ratio = max(thumbnail) / max(1, min(thumbnail))
    return abs(image_ratio - thumb_ratio) > ASPECT_TOLERANCE * image_ratio


def _thumbnail_findings(thumbnail: dict[str, Any] | None, size: tuple[int, int] | None) -> list[dict[str, Any]]:
    if not thumbnail:
        return []
    out = _thumbnail_distance(thumbnail, "the embedded thumbnail", "EXIF thumbnail")
    tw, th = thumbnail.get("width"), thumbnail.get("height")
    if size and isinstance(tw, int) and isinstance(th, int) and tw and th and not thumbnail.get("letterbox_trimmed"):
        if _another_shape((tw, th), size):
            out.append(
                finding(
                    "thumbnail-mismatch",
                    "notice",
                    f"the embedded thumbnail is {tw}x{th}, another shape than the "
                    f"{size[0]}x{size[1]} image (cropped after capture?)",
                    thumbnail_width=tw,
                    thumbnail_height=th,
                    rule=f"thumbnail and image aspect ratios differ by more than {ASPECT_TOLERANCE:.0%}, "
                    "black bars trimmed",
                )
            )
    return out


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value[:19])
    except ValueError:
        return None
    return moment


#: GPS time and capture time further apart than this, the capture's UTC offset recorded, disagree
GPS_TOLERANCE_HOURS = 2


def _time_findings(metadata: dict[str, Any], dates: dict[str, str | None]) -> list[dict[str, Any]]:
    out = []
    taken, modified = _when(metadata.get("datetime_original")), _when(metadata.get("datetime_modified"))
    if taken and modified and taken > modified:
        out.append(
            finding(
                "timestamp-inconsistent",
                "notice",
                f"taken {metadata['datetime_original']} but last modified earlier, {metadata['datetime_modified']}",
                datetime_original=metadata["datetime_original"],
                datetime_modified=metadata["datetime_modified"],
                rule="DateTimeOriginal later than ModifyDate (local times, to the second)",
            )
        )
    exif_taken, xmp_taken = dates.get("exif_taken"), dates.get("xmp_taken")
    a, b = _when(exif_taken), _when(xmp_taken)
    if a and b and len(str(xmp_taken)) >= 19 and abs((a - b).total_seconds()) > 1:
        out.append(
            finding(
                "timestamp-inconsistent",
                "notice",
                f"EXIF says taken {exif_taken}, XMP says {xmp_taken}",
                exif_datetime_original=exif_taken,
                xmp_datetime_original=xmp_taken,
                rule="EXIF DateTimeOriginal and XMP exif:DateTimeOriginal (or photoshop:DateCreated) more than "
                "a second apart (local times)",
            )
        )
    gps, capture = _utc(dates.get("gps")), _utc(exif_taken)
    if gps and capture:  # only with the capture's UTC offset recorded: without it no gap is telling
        gap = abs((capture - gps).total_seconds()) / 3600
        if gap > GPS_TOLERANCE_HOURS:
            out.append(
                finding(
                    "timestamp-inconsistent",
                    "notice",
                    f"the GPS fix is dated {dates['gps']}, {gap:.1f} hours from the capture time {exif_taken}",
                    gps_datetime=dates["gps"],
                    datetime_original=exif_taken,
                    hours_apart=round(gap, 2),
                    rule=f"GPS time (UTC) more than {GPS_TOLERANCE_HOURS} hours from DateTimeOriginal converted "
                    "to UTC with its recorded offset (OffsetTimeOriginal)",
                )
            )
    return out


def _utc(value: object) -> datetime | None:
    """An ISO time with a zone (``Z`` or ``±hh:mm``) as a naive UTC datetime; None without a zone."""
    if not isinstance(value, str) or len(value) < 19:
        return None
    from datetime import timezone

    # Python 3.10's fromisoformat takes 3 or 6 fractional digits only; EXIF and GPS give 1 to 6
    text = re.sub(r"\.(\d{1,6})\d*", lambda m: "." + m.group(1).ljust(6, "0"), value.replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _png_findings(png: PngStructure) -> list[dict[str, Any]]:
    out = []
    tail = png.after_end
    if tail and tail["looks_like"] != "zeros":
        out.append(_appended(tail, "the PNG's IEND chunk", "bytes after the PNG IEND chunk that are not zero padding"))
    if png.problems:
        out.append(
            _damaged(
                png.problems, "PNG chunks", "a chunk length, type or CRC that does not follow the PNG specification"
            )
        )
    return out


def _credential_findings(credentials: dict[str, Any] | None) -> list[dict[str, Any]]:
    state = credentials.get("state") if credentials else None
    if state == "invalid":
        assert credentials is not None
        failures = credentials.get("failures") or []
        codes = ", ".join(f"{f['code']} ({f.get('explanation') or 'no explanation'})" for f in failures[:5])
        return [
            finding(
                "c2pa-invalid",
                "warning",
                "the Content Credentials do not validate: " + (codes or "c2pa-python reports the manifest invalid"),
                failures=failures,
                signer=credentials.get("signer"),
                claim_generator=credentials.get("claim_generator"),
                rule="c2pa-python's validation state is Invalid (a hash, signature or assertion that does "
                "not verify; a signer without a trust anchor is not counted)",
            )
        ]
    if state == "unreadable":
        assert credentials is not None
        return [
            finding(
                "c2pa-unreadable",
                "info",
                f"the file refers to Content Credentials that could not be read: {credentials.get('reason')}",
                reason=credentials.get("reason"),
                rule="a C2PA manifest or a reference to one is present, and c2pa-python could not read it offline",
            )
        ]
    return []


def authenticity(forensics: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a report's Authenticity section shows of a record's ``forensics``: the findings (code,
    severity, message), the encoder in words, the Content Credentials' state and main facts."""
    if not forensics:
        return None
    c2pa = forensics.get("c2pa") or {"state": "absent"}
    kept = ("state", "reason", "signer", "signing_time", "claim_generator", "actions", "failures")
    return {
        "findings": [{k: f.get(k) for k in ("code", "severity", "message")} for f in forensics.get("findings") or []],
        "encoder": (forensics.get("encoder") or {}).get("tables"),
        "c2pa": {k: c2pa[k] for k in kept if c2pa.get(k) not in (None, [], {})},
    }


def authenticity_lines(summary: dict[str, Any] | None) -> list[str]:
    """An Authenticity section's lines (untrusted text left raw: each report escapes it its own way)."""
    if not summary:
        return ["no forensics block (a record made before it, or a file that could not be read)"]
    lines = []
    c2pa = summary.get("c2pa") or {}
    state = c2pa.get("state", "absent")
    if state == "absent":
        lines.append("Content Credentials: none")
    else:
        signer = c2pa.get("signer") or {}
        said = f"Content Credentials: {state}"
        if signer.get("common_name"):
            said += f", signed by {signer['common_name']} ({signer.get('issuer')}) at {c2pa.get('signing_time')}"
        if c2pa.get("reason"):
            said += f": {c2pa['reason']}"
        lines.append(said)
        actions = [str(a.get("action")) for a in c2pa.get("actions") or []]
        if actions:
            lines.append("C2PA actions: " + ", ".join(actions))
        for failure in c2pa.get("failures") or []:
            lines.append(f"C2PA failure {failure.get('code')}: {failure.get('explanation')}")
    if summary.get("encoder"):
        lines.append(f"encoder: {summary['encoder']}")
    for f in summary.get("findings") or []:
        lines.append(f"{f['severity']} {f['code']}: {f['message']}")
    if not summary.get("findings"):
        lines.append("findings: none (docs/forensics.md)")
    return lines


def resave_by_signature(
    jpeg: dict[str, Any], metadata: dict[str, Any], table: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """A camera's metadata in a file whose tables and marker layout are exactly what a program here
    writes, when that camera model's own tables are in the signature table and these are not them.

    Only for models the table knows: many cameras of 1998–2005 encode with libjpeg itself, so "a
    program's tables and layout" alone would accuse their originals (docs/forensics.md)."""
    own = signatures.camera_tables(metadata.get("make"), metadata.get("model"), table)
    if own is None or jpeg.get("quantization_sha256") in own:
        return []
    programs = [e for e in signatures.candidates(jpeg, table) if e.get("kind") == "software"]
    if not programs:
        return []
    names = signatures.named(programs)
    return [
        finding(
            "resaved-by-software",
            "notice",
            f"the metadata names a {metadata.get('make')} {metadata.get('model')}, but the file's quantisation "
            f"tables and marker layout are what {names} writes, and not the tables that camera writes",
            make=metadata.get("make"),
            model=metadata.get("model"),
            encoder=names,
            camera_tables=len(own),
            rule="camera metadata; tables and marker layout equal to a program's signature; the camera model's "
            "own signatures in the table, none with these tables",
        )
    ]
