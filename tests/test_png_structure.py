"""The PNG chunk inventory: files Pillow writes with known chunks (Pillow's own reading of the text
is the oracle), and files broken on purpose."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, PngImagePlugin

from provenance import fingerprint
from provenance.png_structure import MAX_INFLATED, MAX_TEXT, read_png_structure


def png(**info) -> bytes:
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Software", "GIMP 2.10.30")
    meta.add_text("Comment", "long comment " * 30, zip=True)
    meta.add_itxt("Description", "Überschrift", lang="de", tkey="Beschreibung", zip=False)
    im = Image.linear_gradient("L").convert("RGB").resize((64, 48))
    out = io.BytesIO()
    im.save(out, "PNG", pnginfo=meta, **info)
    return out.getvalue()


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def test_the_text_chunks_are_what_pillow_reads():
    data = png()
    found = read_png_structure(data)
    assert found is not None and found.problems == []
    pillow = Image.open(io.BytesIO(data)).text
    assert {t["keyword"]: t["value"] for t in found.text} == {k: str(v) for k, v in pillow.items()}
    assert [t["chunk"] for t in found.text] == ["tEXt", "zTXt", "iTXt"]
    kinds = [c["type"] for c in found.chunks]
    assert kinds[0] == "IHDR" and kinds[-1] == "IEND" and "IDAT" in kinds


def test_exif_icc_and_time_chunks_are_listed():
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    data = png(exif=exif.tobytes())
    stamp = chunk(b"tIME", struct.pack(">HBBBBB", 2022, 5, 24, 13, 4, 5))
    data = data[:33] + stamp + data[33:]  # after IHDR
    found = read_png_structure(data)
    assert found.exif_bytes == len(exif.tobytes()) - len(b"Exif\x00\x00")  # the chunk holds the TIFF block
    assert found.modified == "2022-05-24T13:04:05Z"


def test_bytes_after_iend_are_appended_data():
    data = png() + b"PK\x03\x04" + bytes(40)
    record = fingerprint(data, name="x.png").to_dict()
    assert record["forensics"]["png"]["after_end"] == {"bytes": 44, "looks_like": "a ZIP archive"}
    found = {f["code"]: f for f in record["forensics"]["findings"]}
    assert found["appended-data"]["severity"] == "warning"
    clean = fingerprint(png() + bytes(16), name="y.png").to_dict()
    assert "appended-data" not in {f["code"] for f in clean["forensics"]["findings"]}


def test_a_bad_crc_or_a_cut_file_is_a_problem_never_an_exception():
    data = bytearray(png())
    data[20] ^= 0xFF  # inside IHDR's body
    assert any("CRC" in p for p in read_png_structure(bytes(data)).problems)
    padded = read_png_structure(bytes(data) + b"hidden text after the end")
    assert padded.after_end == {"bytes": 25, "looks_like": "text"}  # a bad CRC does not hide what follows
    cut = png()[:-30]
    assert read_png_structure(cut).problems
    record = fingerprint(bytes(cut), name="cut.png").to_dict()
    assert "structure-damaged" in {f["code"] for f in (record["forensics"] or {}).get("findings", [])}


def test_a_text_bomb_is_cut():
    bomb = zlib.compress(b"A" * (50 * 1024 * 1024), 9)
    data = png()
    data = data[:33] + chunk(b"zTXt", b"Bomb\x00\x00" + bomb) + data[33:]
    found = read_png_structure(data)
    value = next(t["value"] for t in found.text if t["keyword"] == "Bomb")
    assert len(value) == MAX_TEXT + 1 and MAX_INFLATED < 50 * 1024 * 1024


def test_a_file_that_is_not_a_png_has_no_png_structure():
    assert read_png_structure(b"\xff\xd8\xff\xe0 not a png") is None
