"""The multi-index hash against brute force (the oracle), on random and clustered hashes."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.search import BruteForceIndex, MultiIndexHash, hex_to_words, words_to_hex


def clustered(seed: int, count: int, words: int, flips: int) -> np.ndarray:
    """Groups of four near-duplicates: a random centre and copies with up to ``flips`` bits flipped."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2**63, size=(-(-count // 4), words), dtype=np.uint64)
    hashes = np.repeat(centres, 4, axis=0)[:count]
    for _ in range(flips):
        word = rng.integers(0, words, count)
        bit = rng.integers(0, 64, count).astype(np.uint64)
        hashes[np.arange(count), word] ^= np.where(rng.random(count) < 0.5, np.uint64(1) << bit, np.uint64(0))
    return hashes


def as_set(i, j):
    return set(zip(i.tolist(), j.tolist()))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(1, 400),
    words=st.sampled_from([1, 4]),
    distance=st.integers(0, 40),
    extra_blocks=st.sampled_from([None, 0, 1, 3]),
)
def test_search_and_pairs_equal_brute_force(seed, count, words, distance, extra_blocks):
    hashes = clustered(seed, count, words, flips=6 * words)
    brute = BruteForceIndex(hashes)
    blocks = None if extra_blocks is None else 64 * words // 16 + extra_blocks
    mih = MultiIndexHash(hashes, distance=distance, blocks=blocks)
    for query in hashes[:: max(1, count // 7)]:
        expected_rows, expected_distances = brute.search(query, distance)
        rows, distances = mih.search(query, distance)
        assert rows.tolist() == expected_rows.tolist()
        assert distances.tolist() == expected_distances.tolist()
    bi, bj, bd = brute.pairs(distance)
    mi, mj, md = mih.pairs(distance, capacity=37)
    assert len(mi) == len(as_set(mi, mj)), "a pair was reported twice"
    assert as_set(mi, mj) == as_set(bi, bj)
    assert sorted(md.tolist()) == sorted(bd.tolist())


@pytest.mark.parametrize("words, distance", [(1, 10), (4, 31)])
def test_pair_search_resumes_when_its_buffer_fills(words, distance):
    hashes = clustered(7, 3000, words, flips=4 * words)
    expected = as_set(*BruteForceIndex(hashes).pairs(distance)[:2])
    mih = MultiIndexHash(hashes, distance=distance)
    # the compiled kernel, with an output buffer that fills at once and has to resume again and again
    i, j, d = mih.pairs(distance, capacity=7)
    assert len(i) == len(as_set(i, j)) and as_set(i, j) == expected
    assert (i < j).all() and (d <= distance).all()


def test_distances_agree_with_imagehash():
    rng = np.random.default_rng(5)
    texts = [f"{int(v):016x}" for v in rng.integers(0, 2**63, 50, dtype=np.uint64)]
    words = hex_to_words(texts, 64)
    index = MultiIndexHash(words)
    for k, text in enumerate(texts[:10]):
        rows, distances = index.search(words[k], 64)
        by_row = dict(zip(rows.tolist(), distances.tolist()))
        for j, other in enumerate(texts):
            assert by_row[j] == imagehash.hex_to_hash(text) - imagehash.hex_to_hash(other)


def test_hex_round_trip_keeps_digit_order():
    pdq = "b696af328f51889912d6b668d469ddc8d99a983f9c650ccc0e89bb369b330ccd"
    words = hex_to_words([pdq], 256)
    assert words.shape == (1, 4)
    assert words_to_hex(words[0]) == pdq
    assert int(words[0, 0]) == int(pdq[:16], 16)
