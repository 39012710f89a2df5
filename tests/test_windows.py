"""The keypoint search up close: a query's parts are searched when the whole finds nothing, and a
part's mapping is claimed only if it holds over the whole query."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from provenance import Index, MatchOptions, match
from provenance.captions import Query
from provenance.features import features_of
from provenance.matching import geometry, matcher
from provenance.testing.images import generated_scene, mugshot
from provenance.testing.transforms import encode


def _decoded(im: Image.Image) -> Image.Image:
    return Image.open(io.BytesIO(encode(im, quality=85))).convert("RGB")


def _inset(seed: int, width: int = 300, at: tuple[int, int] = (760, 440)) -> tuple[Image.Image, Image.Image]:
    """A reference, and a query showing it ``width`` px wide (of 1200) in a corner of another picture."""
    reference = generated_scene(seed, (640, 480))
    query = generated_scene(seed + 1, (1200, 800)).copy()
    query.paste(reference.resize((width, width * 3 // 4)), at)
    return reference, _decoded(query)


def test_parts_cover_the_corners_and_the_centre_of_a_large_query() -> None:
    assert matcher.windows((799, 600)) == []
    parts = matcher.windows((1200, 800))
    assert len(parts) == 5
    assert all(x1 - x0 == 720 and y1 - y0 == 480 for x0, y0, x1, y1 in parts)
    assert {(x0, y0) for x0, y0, _, _ in parts} == {(0, 0), (480, 0), (0, 320), (480, 320), (240, 160)}


def test_a_part_showing_only_a_look_alikes_backdrop_is_not_claimed() -> None:
    wall = generated_scene(40, (600, 800))
    one, other = mugshot(generated_scene(32), wall), mugshot(generated_scene(33), wall)
    query = _decoded(other.resize((900, 1200)))
    reference = features_of(one)
    part = geometry.confirm(features_of(query, (0, 0, 540, 720)), reference)
    assert part.confirmed, part.reason  # the wall above the person is the same wall
    whole = geometry.confirm_mapping(features_of(query), reference, part)
    assert not whole.confirmed
    assert "another subject" in (whole.reason or "")


def test_an_inset_found_up_close_holds_over_the_whole_query() -> None:
    reference_image, query = _inset(41)
    reference = features_of(reference_image)
    assert not geometry.confirm(features_of(query), reference).confirmed
    part = geometry.confirm(features_of(query, (480, 320, 1200, 800)), reference)
    whole = geometry.confirm_mapping(features_of(query), reference, part)
    assert whole.confirmed, whole.reason
    assert whole.transform is not None and whole.transform.query_box is not None
    for found, placed in zip(whole.transform.query_box, (760, 440, 1060, 665)):
        assert abs(found - placed) <= 6


@pytest.fixture()
def inset_case(tmp_path):
    references = tmp_path / "references"
    references.mkdir()
    reference, query = _inset(43, 260, (80, 500))
    reference.save(references / "original.png")
    for n in range(3):  # other pictures in the set
        generated_scene(60 + n, (640, 480)).save(references / f"other-{n}.png")
    query.save(tmp_path / "posted.jpg", quality=90)
    index = Index(tmp_path / "set.db")
    index.add([str(references)], jobs=1)
    yield index, str(tmp_path / "posted.jpg")
    index.close()


def test_match_finds_a_small_inset_by_its_parts(inset_case, monkeypatch) -> None:
    index, posted = inset_case
    found = match([Query(path=posted)], index, MatchOptions()).to_dict()["results"][0]
    assert found["verdict"] == "near-duplicate", found["rejected"]
    best = found["matches"][0]
    assert best["reference"]["path"].endswith("original.png")
    assert best["found_by"] == "keypoints"
    assert any("seen up close" in sentence for sentence in best["evidence"])
    # without the parts (in this process: the matcher itself, no workers) the inset is not found
    monkeypatch.setattr(matcher, "windows", lambda size: [])
    assert matcher.Matcher(index, MatchOptions()).match_query(Query(path=posted)).verdict == "no-match"
