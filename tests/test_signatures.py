"""Encoder signatures: the marker layout read from files we made, the bundled table's integrity, and
the resaved-by-software cue that compares a camera model's own tables with a program's."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pytest
from PIL import Image

from provenance import fingerprint
from provenance.forensics import resave_by_signature
from provenance.jpeg_structure import read_structure
from provenance.signatures import LAYOUT_FIELDS, camera_key, candidates, layout, named, table

from conftest import corpus_path


def pillow_jpeg(quality: int = 85, exif: bool = True, **options) -> bytes:
    im = Image.radial_gradient("L").convert("RGB").resize((320, 240))
    data = Image.Exif()
    data[0x010F], data[0x0110] = "TestCam", "X1"
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, exif=data if exif else b"", **options)
    return out.getvalue()


def structure(data: bytes) -> dict:
    return read_structure(data).to_dict()


def test_the_layout_is_what_libjpeg_writes_through_pillow():
    seen = layout(structure(pillow_jpeg()))
    # libjpeg writes JFIF first, one DQT per table (two), one DHT per table (four)
    assert seen == {
        "first_app": "JFIF", "dqt_segments": 2, "dht_segments": 4, "huffman": "standard",
        "subsampling": "4:2:0", "frame": "baseline",
    }  # fmt: skip
    assert layout(structure(pillow_jpeg(optimize=True)))["huffman"] == "optimised"
    assert layout(structure(pillow_jpeg(progressive=True)))["frame"] == "progressive"


@pytest.mark.parametrize("quality", [75, 85, 90, 95])
def test_a_pillow_copy_is_named_with_pillow_among_its_candidates(quality):
    found = candidates(structure(pillow_jpeg(quality)))
    programs = {e.get("program") for e in found}
    assert "Pillow" in programs
    assert f"quality {quality}" in named(found)


@pytest.mark.skipif(shutil.which("vips") is None, reason="libvips-tools (vips) is not installed")
def test_a_libvips_copy_is_named_libvips_alone(tmp_path):
    (tmp_path / "in.jpg").write_bytes(pillow_jpeg(95))
    subprocess.run(["vips", "copy", str(tmp_path / "in.jpg"), str(tmp_path / "out.jpg[Q=85]")], check=True)
    found = candidates(structure((tmp_path / "out.jpg").read_bytes()))
    assert {e.get("program") for e in found} == {"libvips"}


def test_the_bundled_table_says_where_every_signature_came_from():
    entries = table()
    assert entries, "provenance/data/encoder_signatures.json is missing"
    for e in entries:
        assert re.fullmatch(r"[0-9a-f]{64}", e["quantization_sha256"])
        assert e["kind"] in ("camera", "software") and e["source"] and e["name"]
        assert set(e["layout"]) <= set(LAYOUT_FIELDS)
        if e["kind"] == "camera":
            assert e["camera"] and all(s.startswith("corpus: ") for s in e["source"])
        else:
            assert e["program"] and all(s.startswith("made here by ") for s in e["source"])


@pytest.mark.corpus
def test_each_camera_signature_is_what_its_source_files_hold():
    for e in (e for e in table() if e["kind"] == "camera"):
        for source in e["source"]:
            path = corpus_path(source.removeprefix("corpus: "))
            record = fingerprint(str(path)).to_dict()
            jpeg = record["forensics"]["jpeg"]
            assert jpeg["quantization_sha256"] == e["quantization_sha256"], source
            assert layout(jpeg) == e["layout"], source
            assert camera_key(record["metadata"]["make"], record["metadata"]["model"]) == e["camera"]


def test_the_signature_cue_fires_only_for_a_known_camera_whose_tables_these_are_not():
    jpeg = structure(pillow_jpeg())
    software = [e for e in candidates(jpeg)]
    assert software
    metadata = {"make": "TestCam", "model": "X1"}
    other = {"kind": "camera", "camera": camera_key("TestCam", "X1"), "quantization_sha256": "0" * 64, "name": "x"}
    fired = resave_by_signature(jpeg, metadata, [other, *software])
    assert fired and fired[0]["code"] == "resaved-by-software" and "Pillow" in fired[0]["facts"]["encoder"]
    # the camera's own signatures include these tables: silent
    own = dict(other, quantization_sha256=jpeg["quantization_sha256"])
    assert resave_by_signature(jpeg, metadata, [own, *software]) == []
    # a camera the table does not know: silent (no evidence of what it writes)
    assert resave_by_signature(jpeg, {"make": "Other", "model": "Y"}, [other, *software]) == []
    # no program writes these tables and layout: silent
    assert resave_by_signature(jpeg, metadata, [other]) == []
