"""Thumbnail-scale confirmation and the overlay rule: copies confirmed, look-alikes kept apart."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageOps

from provenance.features import features_of
from provenance.matching import geometry, small
from provenance.testing.images import generated_scene, mugshot
from provenance.testing.posted import sticker
from provenance.testing.transforms import encode


def _decoded(im: Image.Image, quality: int = 85) -> Image.Image:
    return Image.open(io.BytesIO(encode(im, quality=quality))).convert("RGB")


def test_a_128px_thumbnail_is_confirmed_at_its_own_scale() -> None:
    reference = generated_scene(3, (800, 600))
    thumb = _decoded(ImageOps.contain(reference, (128, 128), Image.Resampling.LANCZOS), 80)
    query = features_of(thumb)
    assert small.is_small(query)
    outcome = small.confirm_small(query, features_of(reference), "as is")
    assert outcome.confirmed, outcome.reason
    assert outcome.extra["rule"] == "thumbnail-scale"


def test_a_mirrored_thumbnail_is_placed_by_its_variant() -> None:
    reference = generated_scene(4, (800, 600))
    thumb = _decoded(ImageOps.mirror(ImageOps.contain(reference, (128, 128))), 80)
    outcome = small.confirm_small(features_of(thumb), features_of(reference), "mirrored")
    assert outcome.confirmed, outcome.reason
    assert outcome.transform is not None and outcome.transform.flip == "horizontal"
    wrong = small.confirm_small(features_of(thumb), features_of(reference), "as is")
    assert not wrong.confirmed


def test_a_thumbnail_of_another_person_on_the_same_backdrop_is_not_confirmed() -> None:
    one, other = mugshot(generated_scene(10)), mugshot(generated_scene(11))
    thumb = _decoded(ImageOps.contain(other, (128, 128)), 80)
    assert not small.confirm_small(features_of(thumb), features_of(one), "as is").confirmed


def test_a_sticker_is_left_out_of_the_comparison_and_said() -> None:
    reference = generated_scene(5, (800, 600))
    query = _decoded(sticker(reference, random.Random(2)))
    outcome = geometry.confirm(features_of(query), features_of(reference))
    assert outcome.confirmed, outcome.reason
    assert outcome.extra["overlay_share"] > 0


def test_another_subject_on_the_same_backdrop_is_still_rejected() -> None:
    one, other = mugshot(generated_scene(20)), mugshot(generated_scene(21))
    outcome = geometry.confirm(features_of(_decoded(other)), features_of(one))
    assert not outcome.confirmed


def test_the_thumbnail_turns_are_the_hash_variants_turns() -> None:
    """small.py's 3x3 maps must turn a picture as hashes.DIHEDRAL does, variant by variant."""
    import cv2
    import numpy as np

    from provenance.hashes import DIHEDRAL

    picture = np.asarray(generated_scene(7, (60, 40)).convert("L"))
    for name, turn in DIHEDRAL:
        expected = np.asarray(turn(Image.fromarray(picture)))
        matrix = small._orientation(name, picture.shape[1], picture.shape[0])
        assert matrix is not None, name
        size = (expected.shape[1], expected.shape[0])
        got = cv2.warpAffine(picture, matrix[:2], size, flags=cv2.INTER_NEAREST)
        # the maps send the picture's edges to its edges (x -> w - x), so a flipped grid lands one
        # pixel over (ECC absorbs that): the turn is right when some shift of at most a pixel matches
        inner = expected[2:-2, 2:-2].astype(int)
        best = min(
            np.abs(got[2 + dy : got.shape[0] - 2 + dy, 2 + dx : got.shape[1] - 2 + dx].astype(int) - inner).mean()
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        )
        assert best == 0, name
