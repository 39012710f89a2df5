import json
from fractions import Fraction

import pytest

from provenance import fingerprint
from provenance.metadata import gps_coordinate, gps_datetime, iso_datetime, user_comment
from provenance.xmp import XmpPacket, scan_xmp

from conftest import FIXTURES, corpus_path
from exiftool_oracle import compare


def test_fixtures_agree_with_exiftool(fixture_oracle):
    pairs, disagreements = 0, []
    for rel, entry in fixture_oracle.items():
        n, bad = compare(entry, fingerprint(FIXTURES / rel).metadata)
        pairs += n
        disagreements += [f"{rel}: {line}" for line in bad]
    print("\n".join(disagreements))
    assert pairs > 100
    assert disagreements == []


@pytest.mark.corpus
def test_corpus_agrees_with_exiftool_on_99_percent_of_fields():
    root = corpus_path()
    pairs, disagreements = 0, []
    for oracle in sorted(root.rglob("_exiftool_oracle.json")):
        for entry in json.loads(oracle.read_text()):
            path = (oracle.parent / entry["SourceFile"]).resolve()
            n, bad = compare(entry, fingerprint(path).metadata)
            pairs += n
            disagreements += [f"{path.relative_to(root.resolve())}: {line}" for line in bad]
    print(f"{pairs} (file, field) pairs, {len(disagreements)} disagreements:")
    print("\n".join(disagreements))
    assert pairs > 1000
    assert len(disagreements) <= 0.01 * pairs


@pytest.mark.parametrize(
    "value, subsec, offset, expected",
    [
        ("2008:05:30 15:56:01", None, None, "2008-05-30T15:56:01"),
        ("2008:05:30 15:56:01", "00", "+02:00", "2008-05-30T15:56:01.00+02:00"),
        ("2021:07:06 16:08:14", "164", "-03:00", "2021-07-06T16:08:14.164-03:00"),
        ("2008-05-30T15:56:01.5Z", None, None, "2008-05-30T15:56:01.5Z"),
        ("2024-04-22T14:38:09GMT+2", None, None, "2024-04-22T14:38:09"),  # prose is not an offset
        ("2017:03:13 23:03:09\x00", None, "bogus", "2017-03-13T23:03:09"),
        ("0000:00:00 00:00:00", None, None, None),
        ("    :  :     :  :  ", None, None, None),
        ("2008:13:45 10:00:00", None, None, None),
        ("", None, None, None),
    ],
)
def test_iso_datetime(value, subsec, offset, expected):
    assert iso_datetime(value, subsec, offset) == expected


def test_gps_coordinates_are_signed_and_need_their_reference():
    dms = [Fraction(43), Fraction(28), Fraction(1407, 500)]
    assert gps_coordinate(dms, "N", "S") == pytest.approx(43.467448333)
    assert gps_coordinate(dms, "S", "S") == pytest.approx(-43.467448333)
    assert gps_coordinate(dms, "", "S") is None  # a missing hemisphere is not guessed
    assert gps_coordinate([Fraction(1), Fraction(0)], "E", "W") == 1.0


def test_gps_datetime_is_utc():
    assert gps_datetime("2008:10:23", [Fraction(14), Fraction(27), Fraction(181, 25)]) == "2008-10-23T14:27:07.24Z"
    assert gps_datetime("2008:10:23", [Fraction(14), Fraction(27)]) is None


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"ASCII\x00\x00\x00hello  \x00\x00", "hello"),
        (b"UNICODE\x00" + "caf\u00e9".encode("utf-16-le"), "caf\u00e9"),
        (b"UNICODE\x00" + "caf\u00e9".encode("utf-16-be"), "caf\u00e9"),
        (b"\x00" * 8 + b"   ", None),
        (b"\x00" * 8 + b"plain", "plain"),
    ],
)
def test_user_comment_decoding(raw, expected):
    assert user_comment(list(raw)) == expected


HISTORY_PACKET = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
  xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
  xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmp:CreatorTool="Adobe Photoshop CC 2017 (Windows)" xmpMM:DocumentID="xmp.did:1">
 <xmpMM:OriginalDocumentID>xmp.did:0</xmpMM:OriginalDocumentID>
 <xmpMM:History><rdf:Seq>
  <rdf:li stEvt:action="created" stEvt:when="2017-01-01T10:00:00+01:00" stEvt:softwareAgent="Camera"/>
  <rdf:li rdf:parseType="Resource"><stEvt:action>saved</stEvt:action><stEvt:changed>/</stEvt:changed>
   <stEvt:softwareAgent>Adobe Photoshop CC 2017 (Windows)</stEvt:softwareAgent></rdf:li>
 </rdf:Seq></xmpMM:History>
 <dc:description><rdf:Alt><rdf:li xml:lang="x-default">&lt;script&gt;alert(1)&lt;/script&gt;</rdf:li></rdf:Alt>
 </dc:description>
 <dc:subject><rdf:Bag><rdf:li>one</rdf:li><rdf:li>two</rdf:li></rdf:Bag></dc:subject>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def test_xmp_history_in_both_rdf_styles():
    xmp = XmpPacket.parse(HISTORY_PACKET)
    assert xmp.get("xmp:CreatorTool") == "Adobe Photoshop CC 2017 (Windows)"
    assert xmp.get("xmpMM:DocumentID") == "xmp.did:1"
    assert xmp.get("xmpMM:OriginalDocumentID") == "xmp.did:0"
    assert xmp.history() == [
        {"action": "created", "when": "2017-01-01T10:00:00+01:00", "software_agent": "Camera"},
        {"action": "saved", "changed": "/", "software_agent": "Adobe Photoshop CC 2017 (Windows)"},
    ]
    assert xmp.get("dc:description") == "<script>alert(1)</script>"  # text stays text
    assert xmp.get_list("dc:subject") == ["one", "two"]


def test_xmp_entity_bomb_is_refused_not_expanded():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&" + bytes([97 + i]) + b";") * 10) for i in range(8))
        + b']><x:xmpmeta xmlns:x="adobe:ns:meta/">&i;</x:xmpmeta>'
    )
    with pytest.raises(ValueError, match="malformed XMP"):
        XmpPacket.parse(bomb)


def test_xmp_packet_scanning_finds_a_packet_in_unknown_bytes():
    blob = b"GIF89a...XMP DataXMP" + HISTORY_PACKET + b"\x01\x00trailer"
    assert XmpPacket.parse(scan_xmp(blob)).get("xmpMM:DocumentID") == "xmp.did:1"


def test_heic_exif_is_read_through_pillow_when_exifread_cannot_walk_the_file():
    record = fingerprint(FIXTURES / "metadata" / "L_exif_xmp_iptc.heic")
    assert record.metadata["make"] == "SONY"
    assert record.metadata["datetime_original"].endswith("-05:00")
    assert record.metadata["xmp_history"][0]["action"]


def test_broken_exif_keeps_the_hashes_and_notes_the_damage():
    data = bytearray((FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg").read_bytes())
    tiff = data.index(b"Exif\x00\x00") + 6
    data[tiff + 4 : tiff + 8] = b"\xff\xff\xff\x7f"  # IFD0 offset far past the end
    record = fingerprint(bytes(data), name="broken-exif.jpg")
    assert record.error is None
    assert record.hashes["phash"]
    assert "make" not in record.metadata
    assert any("EXIF" in w["message"] for w in record.warnings), record.warnings


def test_details_add_every_exif_tag_as_json():
    record = fingerprint(FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg", details=True)
    assert record.exif["Image Make"] == "NIKON"
    assert record.exif["EXIF ExposureTime"] == pytest.approx(1 / 75)
    assert record.exif["EXIF ExifVersion"] == "30323230"  # UNDEFINED bytes as hex
    assert any(key.startswith("MakerNote ") for key in record.exif)
    json.dumps(record.exif, allow_nan=False)
    assert "exif" not in fingerprint(FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg").to_dict()
