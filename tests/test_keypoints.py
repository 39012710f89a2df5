"""The keypoint search: votes go to the reference a query's keypoints come from, whatever the chunking."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

import provenance.keypoints as keypoints
from provenance.decode import register_formats
from provenance.features import features_of
from provenance.keypoints import KeypointSearch

from conftest import FIXTURES

PHOTOS = sorted((FIXTURES / "leak").glob("*.jpg"))


def load(path):
    register_formats()  # HEIC
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def test_a_crop_votes_for_its_reference():
    references = [(f"{n:064x}", [str(p)], features_of(load(p))) for n, p in enumerate(PHOTOS)]
    target = load(PHOTOS[2])
    query = features_of(
        target.crop((target.width // 4, target.height // 4, target.width * 3 // 4, target.height * 3 // 4))
    )
    whole = KeypointSearch.build(references)
    found = whole.candidates(query)
    assert found and found[0][0] == f"{2:064x}"
    assert all(votes >= keypoints.MIN_VOTES for _, votes in found)


def test_fewer_stored_descriptors_than_neighbours():
    features = features_of(load(PHOTOS[0]))
    features.descriptors = features.descriptors[:3]
    search = KeypointSearch.build([("a" * 64, [], features)])
    assert search.candidates(features) == []  # 3 votes at most: below MIN_VOTES, and no crash


def test_generic_descriptors_vote_for_nobody():
    shared = features_of(load(PHOTOS[0]))
    # two references holding the very same descriptors: every match has a rival as near
    search = KeypointSearch.build([("a" * 64, [], shared), ("b" * 64, [], shared)])
    assert search.candidates(shared) == []
    assert search.candidates(shared, exclude={"a" * 64}) == []
    alone = KeypointSearch.build([("a" * 64, [], shared)])
    assert alone.candidates(shared)[0][0] == "a" * 64  # the same descriptors, with no rival, do vote


def test_reference_descriptors_are_stored_in_the_index_and_reused(tmp_path):
    from provenance import Index

    calls = []

    class Source:
        def get(self, sha256, paths):
            calls.append(sha256)
            return None if "txt" in paths[0] else features_of(load(paths[0]))

    with Index(tmp_path / "leak.db") as index:
        index.add([str(FIXTURES / "leak")], jobs=1)
        first = KeypointSearch.for_index(index, Source())
        images = len(calls)
        assert images == len(list(index.image_contents())) and len(first) == images
        second = KeypointSearch.for_index(index, Source())
        assert len(calls) == images  # nothing read again: the descriptors came from the index
        assert len(second) == len(first)
        assert np.array_equal(second._descriptors, first._descriptors)
    # a changed setting names other descriptors: they are computed afresh, the old ones stay apart
    with Index(tmp_path / "leak.db") as index, pytest.MonkeyPatch.context() as patch:
        patch.setattr(keypoints, "METHOD", "orb-other")
        KeypointSearch.for_index(index, Source())
        assert len(calls) == 2 * images
