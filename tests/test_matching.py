"""Verdicts and evidence on the bundled case: the article's copies are traced to the leak, nothing else is claimed."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

from provenance import FingerprintOptions, Index, MatchOptions, match
from provenance.captions import Query, from_name
from provenance.matching import VERDICTS, metadata_diff, trim_borders
from provenance.testing.files import strip_metadata as strip_jpeg_metadata
from provenance.testing.transforms import TRANSFORMS, collage, encode

from conftest import ARTICLE_FILES, FIXTURES, LEAK_FILES, ROOT, report_validator

LEAK = FIXTURES / "leak"
#: which leak file each article copy was derived from (fixtures/SOURCES.md); None: not in the leak
DERIVED_FROM = {
    "canteen-lunch-960x640-1.jpg": "56cd6b2057623bfb70111b883678d436.jpg",
    "officials-tour-facility-960x640-1.jpg": "35b833f721ed391380a8ddf159852b50.jpg",
    "trail-camera-still-of-the-perimeter-in-winter-960x640-1.jpg": "23b313574a1e61545db171a23edd73b3.jpg",
    "valley-below-the-county-seat-960x640-1.jpg": "d5eb6cac1c9f68073dbecc01d154a7ee.heic",
    "rally-car-in-the-snow-960x640-1.jpg": None,
}
NIKON = LEAK / "35b833f721ed391380a8ddf159852b50.jpg"


@pytest.fixture(scope="module")
def leak_index(tmp_path_factory):
    index = Index(tmp_path_factory.mktemp("db") / "leak.db")
    index.add([str(LEAK)], jobs=1)
    yield index
    index.close()


def run(queries, index, **options):
    return match(queries, index, MatchOptions(**options)).to_dict()


def test_article_copies_are_traced_to_their_leak_originals(leak_index):
    report = run([from_name(str(p)) for p in ARTICLE_FILES], leak_index)
    assert sorted(DERIVED_FROM) == sorted(p.name for p in ARTICLE_FILES)
    for result in report["results"]:
        name = result["query"]["path"].rsplit("/", 1)[-1]
        expected = DERIVED_FROM[name]
        if expected is None:
            assert result["verdict"] == "no-match" and result["matches"] == []
            continue
        assert result["verdict"] == "near-duplicate", (name, result["rejected"])
        best = result["matches"][0]
        assert best["reference"]["path"].endswith(expected)
        assert best["confirmation"]["confirmed"] and best["confirmation"]["inliers"] >= 50
        # a 960x640 cover-crop keeps the share of the area that a 3:2 frame keeps (fixtures/make_fixtures.py)
        aspect = best["reference"]["width"] / best["reference"]["height"]
        kept = min(aspect, 1.5) / max(aspect, 1.5)
        assert best["transform"]["crop_fraction"] == pytest.approx(kept, abs=0.03)
        assert result["query"]["caption_source"] == "filename"
        assert result["query"]["declared_size"] == [960, 640]
        assert not any("declares" in e for e in result["evidence"])  # the declared size is true
    summary = report["summary"]["verdicts"]
    assert summary == {"exact": 0, "metadata-only": 0, "near-duplicate": 4, "no-match": 1}


def test_stripped_metadata_shows_in_the_diff(leak_index):
    report = run([from_name(str(ROOT / "fixtures/article/officials-tour-facility-960x640-1.jpg"))], leak_index)
    diff = report["results"][0]["matches"][0]["metadata_diff"]
    assert diff["removed"]["make"] == "NIKON" and diff["removed"]["model"] == "COOLPIX P6000"
    assert "gps_latitude" in diff["removed"] and diff["added"] == {}


def test_exact_and_metadata_only(leak_index, tmp_path):
    exact = tmp_path / "copy-of-the-nikon-photo.jpg"
    shutil.copyfile(NIKON, exact)
    stripped = tmp_path / "stripped-nikon-photo.jpg"
    stripped.write_bytes(strip_jpeg_metadata(NIKON.read_bytes()))
    report = run([from_name(str(exact)), from_name(str(stripped))], leak_index)
    first, second = report["results"]
    assert first["verdict"] == "exact" and first["confidence"] == 1.0
    assert first["matches"][0]["reference"]["sha256"] == hashlib.sha256(NIKON.read_bytes()).hexdigest()
    assert second["verdict"] == "metadata-only"
    assert second["matches"][0]["reference"]["path"] == str(NIKON)
    assert "make" in second["matches"][0]["metadata_diff"]["removed"]
    assert any("same image data" in e for e in second["matches"][0]["evidence"])


def test_a_file_named_after_a_reference_it_is_not_says_so_loudly(leak_index, tmp_path):
    reference_md5 = hashlib.md5(NIKON.read_bytes()).hexdigest()
    impostor = tmp_path / f"{reference_md5}.jpg"
    impostor.write_bytes((ROOT / "fixtures/article/rally-car-in-the-snow-960x640-1.jpg").read_bytes())
    result = run([from_name(str(impostor))], leak_index)["results"][0]
    assert result["verdict"] == "no-match"
    assert any(e.startswith("NAME MISMATCH") and str(NIKON) in e for e in result["evidence"])
    honest = tmp_path / f"{reference_md5}-copy" / f"{reference_md5}.jpg"
    honest.parent.mkdir()
    shutil.copyfile(NIKON, honest)
    result = run([from_name(str(honest))], leak_index)["results"][0]
    assert result["verdict"] == "exact"
    assert any("own MD5" in e for e in result["evidence"])
    assert "the query's file name is this reference's digest" in result["matches"][0]["evidence"]


def test_declared_size_that_lies_is_reported(leak_index, tmp_path):
    liar = tmp_path / "officials-tour-facility-800x600-1.jpg"
    shutil.copyfile(ROOT / "fixtures/article/officials-tour-facility-960x640-1.jpg", liar)
    result = run([from_name(str(liar))], leak_index)["results"][0]
    assert result["verdict"] == "near-duplicate"
    assert "the file name declares 800x600, but the image is 960x640" in result["evidence"]


@pytest.mark.parametrize(
    "transform", ["mirror", "rotate-90", "crop-75-offcentre", "screenshot", "chain", "caption-banner", "letterbox-16x9"]
)
def test_hard_transforms_are_confirmed(leak_index, tmp_path, transform):
    with Image.open(NIKON) as im:
        image = im.convert("RGB")
    import random

    query = tmp_path / "query.jpg"
    query.write_bytes(TRANSFORMS[transform](image, random.Random(3)))
    result = run([Query(path=str(query))], leak_index)["results"][0]
    assert result["verdict"] == "near-duplicate", result["rejected"]
    assert result["matches"][0]["reference"]["path"] == str(NIKON)
    if transform == "mirror":
        assert result["matches"][0]["transform"]["flip"] == "horizontal"
    if transform == "rotate-90":
        assert result["matches"][0]["transform"]["rotation"] == pytest.approx(90, abs=1)


def test_collage_is_found_by_keypoints_and_not_without_them(leak_index, tmp_path):
    import random

    photos = [Image.open(p).convert("RGB") for p in sorted(ARTICLE_FILES) if "rally" in p.name]
    with Image.open(NIKON) as im:
        grid = collage(im.convert("RGB"), random.Random(1), others=photos * 3)
    query = tmp_path / "collage.jpg"
    query.write_bytes(encode(grid))
    found = run([Query(path=str(query))], leak_index)["results"][0]
    assert found["verdict"] == "near-duplicate"
    assert found["matches"][0]["reference"]["path"] == str(NIKON)
    assert found["matches"][0]["transform"]["query_fraction"] < 0.4
    without = run([Query(path=str(query))], leak_index, keypoint_search=False)["results"][0]
    assert without["verdict"] == "no-match"


def test_bad_queries_are_records_not_crashes(leak_index, tmp_path):
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(NIKON.read_bytes()[:5000])
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    missing = Query(path=str(tmp_path / "gone.jpg"), problem="missing on disk")
    report = run([from_name(str(truncated)), from_name(str(empty)), from_name(str(text)), missing], leak_index)
    verdicts = [r["verdict"] for r in report["results"]]
    assert verdicts == ["no-match"] * 4
    assert all(r["error"] for r in report["results"][:2])
    assert report["results"][3]["error"]["type"] == "QueryUnavailable"
    assert report["summary"]["errors"] >= 3


def test_report_is_json_and_matches_its_schema(leak_index):
    report = run([from_name(str(p)) for p in ARTICLE_FILES] + [from_name(str(NIKON))], leak_index)
    report_validator("match").validate(json.loads(json.dumps(report)))
    assert set(report["summary"]["verdicts"]) == set(VERDICTS)


def test_run_block_names_every_input_and_the_index_content(leak_index):
    queries = [from_name(str(p)) for p in ARTICLE_FILES]
    run_block = run(queries, leak_index)["run"]
    assert {i["path"]: i["sha256"] for i in run_block["inputs"]} == {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in ARTICLE_FILES
    }
    # the documented recipe: sha256sum FILES | cut -c1-64 | LC_ALL=C sort -u | sha256sum
    lines = sorted({hashlib.sha256(p.read_bytes()).hexdigest() for p in LEAK_FILES})
    assert run_block["index"]["content_digest"] == hashlib.sha256("".join(f"{h}\n" for h in lines).encode()).hexdigest()
    assert run_block["index"]["files"] == len(LEAK_FILES)
    assert run_block["parameters"]["max_candidates"] == MatchOptions().max_candidates


def _decoded_at_reduced_scale(path: Path) -> bool:
    """Pillow's own answer: would draft to 256 px shrink this file's decode (a large enough JPEG)?"""
    with Image.open(path) as image:
        before = image.size
        image.draft(None, (256, 256))
        return image.size != before


def test_run_block_says_how_the_hashes_were_made(leak_index, tmp_path):
    queries = [from_name(str(p)) for p in ARTICLE_FILES]
    reduced = sum(map(_decoded_at_reduced_scale, ARTICLE_FILES))
    assert 0 < reduced  # the 960x640 copies are large enough to be decoded at half scale
    block = run(queries, leak_index)["run"]["hash_input"]
    assert block == {"exact_hashes": False, "full": len(ARTICLE_FILES) - reduced, "reduced": reduced}

    exact = Index(tmp_path / "exact.db", options=FingerprintOptions(exact_hashes=True))
    exact.add([str(LEAK)], jobs=0)
    block = run(queries, exact)["run"]["hash_input"]  # queries are hashed as the references were
    assert block == {"exact_hashes": True, "full": len(ARTICLE_FILES), "reduced": 0}
    exact.close()


def test_metadata_diff():
    diff = metadata_diff(
        {"make": "NIKON", "software": "A", "gps_latitude": 1.5},
        {"make": "NIKON", "software": "Photoshop", "artist": "x"},
    )
    assert diff == {
        "removed": {"gps_latitude": 1.5},
        "changed": {"software": {"reference": "A", "query": "Photoshop"}},
        "added": {"artist": "x"},
    }


def test_trim_borders():
    photo = Image.open(NIKON).convert("RGB")
    framed = Image.new("RGB", (photo.width + 80, photo.height + 200), (255, 255, 255))
    framed.paste(photo, (40, 100))
    trimmed = trim_borders(framed)
    assert trimmed is not None and abs(trimmed.width - photo.width) <= 4 and abs(trimmed.height - photo.height) <= 4
    assert trim_borders(photo) is None


def test_a_reference_that_cannot_be_reread_is_claimed_only_on_very_close_hashes(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    shutil.copyfile(NIKON, refs / "photo.jpg")
    Image.new("RGB", (640, 480), (200, 200, 200)).save(refs / "blank.png")
    with Image.open(NIKON) as im:
        close = tmp_path / "close.jpg"
        im.save(close, quality=70)  # re-encoded: pHash and PDQ stay within a few bits
        cropped = tmp_path / "cropped.jpg"
        im.crop((32, 24, 608, 456)).save(cropped)  # a candidate, but too far for hashes alone
    blank = tmp_path / "blank-query.png"
    Image.new("RGB", (320, 240), (201, 201, 201)).save(blank)
    with Index(tmp_path / "refs.db") as index:
        index.add([str(refs)], jobs=1)
        (refs / "photo.jpg").unlink()
        (refs / "blank.png").unlink()
        close_r, cropped_r, blank_r = run([Query(path=str(p)) for p in (close, cropped, blank)], index)["results"]
    assert close_r["verdict"] == "near-duplicate" and close_r["confidence"] == 0.6
    assert any("not confirmed geometrically" in e for e in close_r["matches"][0]["evidence"])
    assert cropped_r["verdict"] == "no-match"
    assert any("cannot be re-read" in r["reason"] for r in cropped_r["rejected"])
    assert blank_r["verdict"] == "no-match"  # flat images all hash alike: never claimed on hashes


MISBEHAVING = (sys.executable, str(Path(__file__).with_name("misbehaving_worker.py")))


def test_a_query_that_crashes_or_hangs_its_worker_costs_only_itself(leak_index, tmp_path):
    crash = tmp_path / "crash-me.jpg"
    shutil.copyfile(NIKON, crash)  # an exact copy of a reference: its digests still prove it
    hang = tmp_path / "hang-me.jpg"
    shutil.copyfile(ARTICLE_FILES[0], hang)
    queries = [
        from_name(str(ARTICLE_FILES[1])),
        Query(path=str(crash)),
        Query(path=str(hang)),
        from_name(str(ARTICLE_FILES[2])),
    ]
    report = match(queries, leak_index, jobs=2, timeout=20, worker_command=MISBEHAVING).to_dict()
    results = report["results"]
    assert [r["query"]["path"] for r in results] == [q.path for q in queries]
    assert results[1]["error"]["type"] == "WorkerCrashed" and "SIGSEGV" in results[1]["error"]["message"]
    assert results[1]["verdict"] == "exact" and results[1]["matches"][0]["reference"]["path"] == str(NIKON)
    assert results[2]["error"]["type"] == "Timeout"
    assert results[0]["verdict"] == "near-duplicate" and results[0]["error"] is None
    assert results[3]["error"] is None
    report_validator("match").validate(json.loads(json.dumps(report)))


def test_the_parent_process_never_decodes_a_query(leak_index, monkeypatch):
    import provenance.decode

    def refuse(*args, **kwargs):
        raise AssertionError("the parent decoded an image")

    monkeypatch.setattr(provenance.decode, "open_image", refuse)
    monkeypatch.setattr(Image, "open", refuse)
    report = run_in_workers([from_name(str(p)) for p in ARTICLE_FILES], leak_index)
    assert report["summary"]["verdicts"] == {"exact": 0, "metadata-only": 0, "near-duplicate": 4, "no-match": 1}


def run_in_workers(queries, index):
    return match(queries, index, MatchOptions(), jobs=1).to_dict()
