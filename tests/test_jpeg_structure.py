"""The JPEG structure reader against two independent readers: Pillow (which wrote or decodes the
file) and ExifTool's JSON readings of the corpus."""

from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image

from provenance.jpeg_structure import MAX_SEGMENTS, read_structure

from conftest import LEAK_FILES, corpus_path


def jpeg(**options) -> bytes:
    im = Image.radial_gradient("L").convert("RGB").resize((96, 64))
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", **options)
    return buffer.getvalue()


@pytest.mark.parametrize("quality", [10, 50, 75, 95])
def test_quantisation_tables_are_those_pillow_reads(quality):
    data = jpeg(quality=quality)
    with Image.open(io.BytesIO(data)) as im:
        expected = {k: list(v) for k, v in im.quantization.items()}
    structure = read_structure(data)
    assert structure.quantization == expected
    assert structure.problems == []


def test_the_tables_digest_names_a_setting():
    assert (
        read_structure(jpeg(quality=80)).quantization_sha256()
        == read_structure(jpeg(quality=80, optimize=True)).quantization_sha256()
    )
    assert (
        read_structure(jpeg(quality=80)).quantization_sha256() != read_structure(jpeg(quality=81)).quantization_sha256()
    )


@pytest.mark.parametrize(
    "options, frame, subsampling, huffman",
    [
        ({"subsampling": 0}, "baseline", "4:4:4", "standard"),
        ({"subsampling": 1}, "baseline", "4:2:2", "standard"),
        ({"subsampling": 2}, "baseline", "4:2:0", "standard"),
        ({"optimize": True}, "baseline", "4:2:0", "optimised"),
        ({"progressive": True}, "progressive", "4:2:0", "optimised"),
    ],
)
def test_frame_sampling_and_huffman_tables_are_what_the_encoder_was_told(options, frame, subsampling, huffman):
    structure = read_structure(jpeg(quality=85, **options))
    assert (structure.frame, structure.subsampling, structure.huffman) == (frame, subsampling, huffman)
    assert (structure.width, structure.height) == (96, 64)
    assert structure.kinds()[0] == "JFIF"
    assert structure.scans == (1 if frame == "baseline" else structure.scans) and structure.scans >= 1


def test_comments_and_bytes_after_the_end_are_reported():
    data = jpeg(comment=b"made by a test")
    assert read_structure(data).comments == ["made by a test"]
    assert read_structure(data).after_end is None
    zipped = read_structure(data + b"PK\x03\x04" + b"\x00" * 40)
    assert zipped.after_end == {"bytes": 44, "looks_like": "a ZIP archive"}
    assert read_structure(data + jpeg()).after_end["looks_like"] == "another JPEG"
    assert read_structure(data + b"hello, investigators\n" * 3).after_end["looks_like"] == "text"


@pytest.mark.parametrize("cut", [1, 3, 20, 200, 600])
def test_a_truncated_or_damaged_file_is_a_problem_not_an_exception(cut):
    data = jpeg(quality=90)
    structure = read_structure(data[: len(data) - cut] if cut < len(data) else data[:10])
    assert structure.problems
    damaged = bytearray(data)
    damaged[20:22] = b"\xff\xff"  # a length that runs past the end
    assert read_structure(bytes(damaged)).problems


def test_a_file_of_endless_segments_lists_only_the_first():
    data = jpeg()
    body = b"\xff\xfe\x00\x04ab" * 10_000  # ten thousand comments
    structure = read_structure(data[:2] + body + data[2:])
    assert len(structure.segments) == MAX_SEGMENTS and structure.more_segments > 9_000


def test_the_fixture_camera_jpegs_have_exif_and_their_frame():
    for path in LEAK_FILES:
        if path.suffix == ".jpg":
            structure = read_structure(path.read_bytes())
            assert structure.frame in ("baseline", "progressive"), path
            with Image.open(path) as im:
                assert (structure.width, structure.height) == im.size or structure.problems, path


_SAMPLING = {"1 1": "4:4:4", "2 1": "4:2:2", "2 2": "4:2:0", "1 2": "4:4:0", "4 1": "4:1:1"}


@pytest.mark.corpus
def test_the_corpus_agrees_with_exiftool_on_frame_components_sampling_comments_and_segments():
    root = corpus_path()
    compared, disagreements = 0, []
    for oracle in sorted(root.rglob("_exiftool_oracle.json")):
        for entry in json.loads(oracle.read_text()):
            path = (oracle.parent / entry["SourceFile"]).resolve()
            if entry.get("File:FileType") != "JPEG" or "File:EncodingProcess" not in entry:
                continue
            s = read_structure(path.read_bytes())
            facts = {
                "frame code": ([k for k, v in _FRAME_CODES.items() if v == s.frame][:1] or [None])[0]
                == entry["File:EncodingProcess"],
                "components": len(s.components) == entry.get("File:ColorComponents"),
                "precision": s.precision == entry.get("File:BitsPerSample"),
                "JFIF": ("JFIF" in s.kinds()) == ("JFIF:JFIFVersion" in entry),
                "Adobe": ("Adobe" in s.kinds()) == ("Adobe:DCTEncodeVersion" in entry),
                # ExifTool reads an MPF index only when its header is sound, as we do
                "MPF": s.mpf_images == entry.get("MPF0:NumberOfImages"),
                # "(Binary data 858 bytes, use -b option to extract)": the thumbnail's JPEG bytes
                "Photoshop thumbnail": (s.photoshop_thumbnail or {}).get("bytes")
                == _binary_length(entry.get("Photoshop:PhotoshopThumbnail")),
            }
            if "File:YCbCrSubSampling" in entry:
                facts["sampling"] = s.subsampling == _SAMPLING.get(str(entry["File:YCbCrSubSampling"]), "unusual")
            if "File:Comment" in entry:
                # ExifTool's JSON shows a byte that is not UTF-8 as "?"
                ours = ["".join(ch if ord(ch) < 128 else "?" for ch in c).strip("\x00 ") for c in s.comments]
                facts["comment"] = str(entry["File:Comment"]).strip() in ours
            compared += 1
            disagreements += [f"{path.name}: {name}" for name, same in facts.items() if not same]
    print("\n".join(disagreements))
    assert compared > 100
    assert disagreements == []


def _binary_length(value: object) -> int | None:
    found = re.search(r"Binary data (\d+) bytes", str(value)) if value is not None else None
    return int(found.group(1)) if found else None


_FRAME_CODES = {0: "baseline", 1: "extended sequential", 2: "progressive", 3: "lossless"}
