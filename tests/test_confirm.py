"""Geometric confirmation: transforms we construct are recovered; look-alikes on one backdrop are rejected."""

from __future__ import annotations

import io
from functools import partial

import pytest
from PIL import Image, ImageDraw, ImageOps

from provenance.features import features_of
from provenance.matching.geometry import confirm, confirm_any
from provenance.testing.images import mugshot

from conftest import FIXTURES, corpus_path

REFERENCE = FIXTURES / "leak" / "56cd6b2057623bfb70111b883678d436.jpg"  # 1024x768 camera photo
WALL = FIXTURES / "leak" / "23b313574a1e61545db171a23edd73b3.jpg"  # trail-camera scene, textured


def reencode(im: Image.Image, quality: int = 80) -> Image.Image:
    buffer = io.BytesIO()
    im.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


@pytest.fixture(scope="module")
def reference():
    with Image.open(REFERENCE) as im:
        image = im.convert("RGB")
    return image, features_of(image)


def check(query: Image.Image, reference_features):
    features = features_of(query)
    return confirm_any(features, reference_features, features.mirrored)


def test_crop_and_scale_are_recovered(reference):
    image, features = reference
    box = (100, 80, 700, 530)
    query = reencode(image.crop(box).resize((300, 225), Image.Resampling.LANCZOS))
    outcome = check(query, features)
    assert outcome.confirmed, outcome.reason
    t = outcome.transform
    assert t.crop == pytest.approx(list(box), abs=8)
    assert t.scale == pytest.approx(0.5, abs=0.03)
    assert abs(t.rotation) < 1 and t.flip is None
    assert t.crop_fraction == pytest.approx(600 * 450 / (1024 * 768), abs=0.02)


def test_quarter_turn_is_counter_clockwise_positive(reference):
    image, features = reference
    outcome = check(reencode(image.transpose(Image.Transpose.ROTATE_90)), features)  # PIL: counter-clockwise
    assert outcome.confirmed, outcome.reason
    assert outcome.transform.rotation == pytest.approx(90, abs=1)
    clockwise = check(reencode(image.transpose(Image.Transpose.ROTATE_270)), features)
    assert clockwise.transform.rotation == pytest.approx(-90, abs=1)
    tilted = check(reencode(image.rotate(4, resample=Image.Resampling.BICUBIC)), features)  # counter-clockwise
    assert tilted.transform.rotation == pytest.approx(4, abs=0.5)


def test_mirror_is_recognised(reference):
    image, features = reference
    outcome = check(reencode(ImageOps.mirror(image)), features)
    assert outcome.confirmed, outcome.reason
    assert outcome.transform.flip == "horizontal"
    assert abs(outcome.transform.rotation) < 1
    assert outcome.transform.crop_fraction > 0.97
    turned = check(reencode(ImageOps.mirror(image).rotate(4, resample=Image.Resampling.BICUBIC)), features)
    assert turned.transform.flip == "horizontal"
    assert turned.transform.rotation == pytest.approx(4, abs=0.5)  # mirrored, then turned counter-clockwise


def test_reference_inside_a_page_fills_part_of_the_query(reference):
    image, features = reference
    page = Image.new("RGB", (1400, 1200), (250, 250, 250))
    ImageDraw.Draw(page).rectangle([0, 0, 1400, 100], fill=(20, 30, 50))
    page.paste(image.resize((700, 525)), (100, 200))
    outcome = check(reencode(page), features)
    assert outcome.confirmed, outcome.reason
    assert outcome.transform.query_fraction == pytest.approx(700 * 525 / (1400 * 1200), abs=0.02)
    assert outcome.transform.query_box == pytest.approx([100, 200, 800, 725], abs=6)


def test_look_alikes_on_one_backdrop_are_rejected_and_copies_are_not():
    with Image.open(WALL) as im:
        wall = im.convert("RGB")
    subjects = []
    for path in sorted((FIXTURES / "leak").glob("*.jpg")):
        if path != WALL:
            with Image.open(path) as im:
                subjects.append(ImageOps.exif_transpose(im).convert("RGB"))
    shots = [mugshot(s, wall) for s in subjects[:5]]
    features = [features_of(s) for s in shots]
    for i, shot in enumerate(shots):
        copy = reencode(shot.resize((450, 600)), quality=60)
        assert check(copy, features[i]).confirmed
        for j in range(len(shots)):
            if j != i:
                outcome = check(copy, features[j])
                assert not outcome.confirmed, (i, j, outcome.to_dict())


def test_unrelated_photos_are_rejected(reference):
    _, features = reference
    with Image.open(WALL) as im:
        outcome = check(im.convert("RGB"), features)
    assert not outcome.confirmed and outcome.reason


def test_flat_images_cannot_confirm(reference):
    _, features = reference
    blank = Image.new("RGB", (640, 480), (128, 128, 128))
    outcome = confirm(features_of(blank), features)
    assert not outcome.confirmed and "keypoint" in outcome.reason


@pytest.mark.corpus
def test_corpus_trap_hopper_is_not_grace_hopper():
    hopper = corpus_path("pillow-images", "hopper.jpg")
    grace = corpus_path("packaged-photos", "matplotlib", "grace_hopper.jpg")
    with Image.open(hopper) as a, Image.open(grace) as b:
        assert not check(reencode(b.convert("RGB")), features_of(a.convert("RGB"))).confirmed
        assert not check(reencode(a.convert("RGB")), features_of(b.convert("RGB"))).confirmed


TEXT_UNDER = FIXTURES / "article" / "valley-below-the-county-seat-960x640-1.jpg"


@pytest.fixture(scope="module")
def drawn_over():
    """TEXT_UNDER under two big outlined lines across its middle, which hold the strongest corners of
    the picture, re-encoded; and the reference's features."""
    from provenance.features import reference_features
    from provenance.testing.posted import _fit_size, _outlined

    with Image.open(TEXT_UNDER) as im:
        image = im.convert("RGB")
    draw = ImageDraw.Draw(image)
    for text, y, share in (("BREAKING NEWS", 0.30, 0.15), ("MUST SEE", 0.62, 0.13)):
        size = _fit_size(text, image.width * 0.85, image.height * share)
        _outlined(draw, (image.width / 2, image.height * y), text, size, "mm")
    return reencode(image, 85), reference_features(str(TEXT_UNDER), TEXT_UNDER.name, 10**8)


def _tried_twice(query, reference, variant):
    """The query's features, and its confirmation with the second try, once the first try alone has
    failed for keypoints (asserted)."""
    from provenance.matching.confirmation import confirm_candidate, denser

    features = features_of(query)
    first = confirm_candidate(query, features, features.mirrored, reference, variant)
    assert not first.confirmed and "keypoint" in first.reason
    dense = partial(denser, features)  # as the matcher gives it
    return features, confirm_candidate(query, features, features.mirrored, reference, variant, dense)


def test_a_copy_whose_drawn_text_crowds_out_its_keypoints_is_confirmed_with_more_of_them(drawn_over):
    """With the first 1,500 query keypoints no mapping fits; the second try with 3,000 confirms, and
    says so."""
    from provenance.matching.confirmation import DENSE_FEATURES, denser
    from provenance.matching.evidence import confirmation_story

    query, reference = drawn_over
    features, second = _tried_twice(query, reference, "as is")
    assert second.confirmed, second.reason
    assert second.extra["query_keypoints"] == DENSE_FEATURES == len(denser(features).points) > len(features.points)
    assert second.transform is not None and abs(second.transform.scale - 1) < 0.02
    assert f"among the query's {DENSE_FEATURES} strongest keypoints" in confirmation_story(second)


def test_the_second_try_is_mirrored_for_every_variant_that_mirrors(drawn_over):
    """Flipped upside down is a mirror image turned 180°: the second try must mirror the query, as for
    "mirrored" (the geometry keeps orientation), or no mapping fits."""
    query, reference = drawn_over
    flipped = query.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    _, second = _tried_twice(flipped, reference, "flipped vertically")
    assert second.confirmed, second.reason
    assert second.transform is not None and second.transform.flip
