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


class CountingSource:
    """Reads a reference's features from its file, as the matcher's fallback does, counting the reads."""

    def __init__(self):
        self.calls = []

    def get(self, sha256, paths):
        self.calls.append(sha256)
        return None if "txt" in paths[0] else features_of(load(paths[0]))


def stored_features(db, method=keypoints.METHOD):
    import sqlite3

    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT sha256, data FROM features WHERE method = ?", (method,)))


def test_index_stores_each_images_features_and_no_query_reads_references(tmp_path):
    from provenance import Index

    with Index(tmp_path / "leak.db") as index:
        summary = index.add([str(FIXTURES / "leak")], jobs=1)
        images = dict(index.image_contents())
        source = CountingSource()
        search = KeypointSearch.for_index(index, source)
    assert source.calls == []  # every reference's features came from the index
    assert summary.keys_added == len(images) == len(search) > 0
    stored = stored_features(tmp_path / "leak.db")
    assert set(stored) == set(images)
    assert all(0 < len(blob) <= keypoints.PER_REFERENCE * 32 and len(blob) % 32 == 0 for blob in stored.values())
    # the stored keys find a crop's reference, as the keys read from the file do
    target = load(PHOTOS[2])
    crop = features_of(
        target.crop((target.width // 4, target.height // 4, target.width * 3 // 4, target.height * 3 // 4))
    )
    sha = next(s for s, paths in images.items() if paths[0] == str(PHOTOS[2]))
    assert search.candidates(crop)[0][0] == sha


def test_keys_made_in_a_worker_equal_those_made_in_process(tmp_path):
    from provenance import Index

    for jobs in (0, 1):
        with Index(tmp_path / f"{jobs}.db") as index:
            index.add([str(FIXTURES / "leak")], jobs=jobs)
    assert stored_features(tmp_path / "0.db") == stored_features(tmp_path / "1.db") != {}


def test_an_index_without_features_gets_them_on_its_next_run(tmp_path):
    from provenance import Index

    db = tmp_path / "leak.db"
    with Index(db) as index:
        index.add([str(FIXTURES / "leak")], jobs=1, keys=False)
    assert stored_features(db) == {}
    with Index(db) as index:
        again = index.add([str(FIXTURES / "leak")], jobs=1)
        images = dict(index.image_contents())
    assert again.unchanged == again.seen and again.added == again.updated == 0
    assert again.keys_added == len(images) and set(stored_features(db)) == set(images)
    with Index(db) as index:
        third = index.add([str(FIXTURES / "leak")], jobs=1)
    assert third.keys_added == 0 and third.unchanged == third.seen  # nothing read a third time


def test_without_stored_features_the_search_reads_references_once_and_stores_them(tmp_path):
    from provenance import Index

    with Index(tmp_path / "leak.db") as index:
        index.add([str(FIXTURES / "leak")], jobs=1, keys=False)
        source = CountingSource()
        first = KeypointSearch.for_index(index, source)
        images = len(source.calls)
        assert images == len(list(index.image_contents())) and len(first) == images
        second = KeypointSearch.for_index(index, source)
        assert len(source.calls) == images  # nothing read again: the descriptors came from the index
        assert np.array_equal(second._descriptors, first._descriptors)
    # a changed setting names other descriptors: they are computed afresh, the old ones stay apart
    with Index(tmp_path / "leak.db") as index, pytest.MonkeyPatch.context() as patch:
        patch.setattr(keypoints, "METHOD", "orb-other")
        KeypointSearch.for_index(index, source)
        assert len(source.calls) == 2 * images


def test_the_inverted_file_finds_what_the_exhaustive_search_finds(monkeypatch):
    """Crops of the fixture photos among generated distractors: the approximate search (forced by a
    low threshold) ranks first the reference the exhaustive one (FAISS's flat index) ranks first."""
    from provenance.features import extract, work_image
    from provenance.testing.images import generated_scene

    references = [(f"{n:064x}", [str(p)], features_of(load(p))) for n, p in enumerate(PHOTOS)]
    for seed in range(60):
        gray = work_image(generated_scene(seed))
        references.append((f"{1000 + seed:064x}", [], extract(gray, (640, 480))))
    monkeypatch.setattr(keypoints, "EXHAUSTIVE_UP_TO", 1000)
    approximate = KeypointSearch.build(references)
    exhaustive = KeypointSearch.build(references)
    exhaustive._structure = "flat"
    approximate.prepare()
    assert approximate.describe().startswith("ivf2 ")
    assert exhaustive.describe() == "flat"
    for n, path in enumerate(PHOTOS):
        image = load(path)
        w, h = image.size
        crop = features_of(image.crop((w // 5, h // 5, w * 4 // 5, h * 4 // 5)))
        expected = exhaustive.candidates(crop, mirrored=crop.mirrored())
        found = approximate.candidates(crop, mirrored=crop.mirrored())
        assert expected and expected[0][0] == f"{n:064x}"
        assert found and found[0][0] == expected[0][0]
    assert approximate.memory() < exhaustive.memory() * 1.5  # 40 bytes a descriptor against 36


# the inverted file's lists, stored by `provenance index` -------------------------------------------


def faiss_lists(lists, descriptors):
    """Each descriptor's list as FAISS's own ``add`` puts it: an inverted file over the same centres,
    filled the ordinary way with each descriptor's position as its id, then read list by list."""
    import faiss

    quantizer = lists.quantizer()
    ivf = faiss.IndexBinaryIVF(quantizer, 256, lists.nlist)
    ivf.is_trained = True
    ivf.add_with_ids(descriptors, np.arange(len(descriptors), dtype=np.int64))
    where = np.full(len(descriptors), -1)
    for number in range(lists.nlist):
        size = ivf.invlists.list_size(number)
        if size:
            ids = faiss.rev_swig_ptr(ivf.invlists.get_ids(number), size)
            where[np.array(ids)] = number
    return where


def stored_lists(db, method):
    return {sha: np.frombuffer(blob, np.uint16) for sha, blob in stored_features(db, method).items()}


def crops():
    for path in PHOTOS:
        image = load(path)
        w, h = image.size
        crop = features_of(image.crop((w // 5, h // 5, w * 4 // 5, h * 4 // 5)))
        yield crop, crop.mirrored()


@pytest.fixture
def small_exhaustive(monkeypatch):
    """The inverted file above 1,000 stored descriptors (the fixtures hold a few thousand)."""
    monkeypatch.setattr(keypoints, "EXHAUSTIVE_UP_TO", 1000)


def test_index_stores_the_lists_and_a_matcher_fills_the_inverted_file_without_assigning(tmp_path, small_exhaustive):
    from provenance import Index

    db = tmp_path / "leak.db"
    with Index(db) as index:
        summary = index.add([str(FIXTURES / "leak")], jobs=1)
        images = dict(index.image_contents())
        lists = keypoints.Lists.stored(index)
    assert lists is not None and summary.lists_added == len(images) > 0
    features = stored_features(db)
    numbers = stored_lists(db, lists.method)
    assert set(numbers) == set(images)
    for sha, blob in features.items():  # each descriptor in the list FAISS itself would put it in
        descriptors = np.frombuffer(blob, np.uint8).reshape(-1, 32)
        assert np.array_equal(numbers[sha], faiss_lists(lists, descriptors))

    with Index(db, create=False, writable=False) as index:
        stored = KeypointSearch.for_index(index, CountingSource())
        stored.prepare()
        in_memory = KeypointSearch.build_from_descriptors(
            (sha, [], np.frombuffer(features[sha], np.uint8).reshape(-1, 32)) for sha, _ in index.image_contents()
        )
        in_memory.prepare()
    assert stored.assigned_here == 0  # every descriptor went to its stored list
    assert in_memory.assigned_here == in_memory._count
    assert stored.describe() == in_memory.describe() and stored.describe().startswith("ivf2 ")
    for crop, mirrored in crops():  # the same centres (drawn from the same set), the same lists: the same votes
        assert stored.candidates(crop, mirrored=mirrored) == in_memory.candidates(crop, mirrored=mirrored) != []


def inverted_lists(search):
    """Every list of a search's inverted file as a sorted list of (owner, descriptor bytes)."""
    import faiss

    invlists, found = search._index.invlists, []
    for number in range(search._index.nlist):
        size = invlists.list_size(number)
        ids = faiss.rev_swig_ptr(invlists.get_ids(number), size) if size else []
        codes = faiss.rev_swig_ptr(invlists.get_codes(number), size * 32) if size else b""
        owners = [search._owners[i] for i in ids]
        found.append(sorted((o, bytes(codes[32 * k : 32 * (k + 1)])) for k, o in enumerate(owners)))
    return found


def test_a_matcher_fills_the_inverted_file_a_chunk_at_a_time_without_reading_every_descriptor_at_once(
    tmp_path, small_exhaustive, monkeypatch
):
    import provenance.index as index_module
    from provenance import Index
    from provenance.store import Store

    db = tmp_path / "leak.db"
    with Index(db) as index:
        index.add([str(FIXTURES / "leak")], jobs=1)
    features = stored_features(db)
    with Index(db, create=False, writable=False) as index:
        in_memory = KeypointSearch.build_from_descriptors(
            (sha, [], np.frombuffer(features[sha], np.uint8).reshape(-1, 32)) for sha, _ in index.image_contents()
        )
        in_memory.prepare()

    monkeypatch.setattr(keypoints, "FILL_CHUNK", 700)
    monkeypatch.setattr(index_module, "FEATURES_READ", 2)
    whole_reads, chunks = [], []
    real_features, real_add = Store.features, keypoints._add_assigned

    def features_read_whole(self, method):
        whole_reads.append(method)
        return real_features(self, method)

    def add(index, descriptors, ids, numbers):
        chunks.append(len(descriptors))
        real_add(index, descriptors, ids, numbers)

    monkeypatch.setattr(Store, "features", features_read_whole)
    monkeypatch.setattr(keypoints, "_add_assigned", add)
    with Index(db, create=False, writable=False) as index:
        filled = KeypointSearch.for_index(index, CountingSource())
    assert keypoints.METHOD not in whole_reads  # the descriptors were read a few at a time
    assert len(chunks) >= 3 and max(chunks) < 700 + keypoints.PER_REFERENCE and sum(chunks) == in_memory._count
    assert filled.assigned_here == 0 and filled._count == in_memory._count
    assert filled.describe() == in_memory.describe()
    assert inverted_lists(filled) == inverted_lists(in_memory)  # every descriptor in the same list, under its owner
    for crop, mirrored in crops():
        assert filled.candidates(crop, mirrored=mirrored) == in_memory.candidates(crop, mirrored=mirrored) != []


def test_the_lists_are_kept_up_to_date_incrementally(tmp_path, small_exhaustive, monkeypatch):
    import sqlite3

    from provenance import Index

    db = tmp_path / "leak.db"
    with Index(db) as index:
        index.add([str(FIXTURES / "leak")], jobs=1)
        first = keypoints.Lists.stored(index)
        leak = dict(index.image_contents())
    with Index(db) as index:
        more = index.add([str(FIXTURES / "article")], jobs=1)
        article = {sha for sha, _ in index.image_contents()} - set(leak)
        second = keypoints.Lists.stored(index)
    # the same number of lists suits the larger set: only the new contents are assigned
    assert first is not None and second is not None and second.method == first.method
    assert more.lists_added == len(article) == 5
    assert set(stored_lists(db, first.method)) == set(leak) | article
    with Index(db) as index:
        assert index.add([str(FIXTURES / "leak"), str(FIXTURES / "article")], jobs=1).lists_added == 0

    # a content without stored numbers (added while the lists were not kept) is assigned in memory
    victim, blob = next(iter(stored_features(db).items()))
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM features WHERE method = ? AND sha256 = ?", (first.method, victim))
    with Index(db, create=False, writable=False) as index:
        search = KeypointSearch.for_index(index, CountingSource())
        search.prepare()
    assert search.assigned_here == len(blob) // 32

    # a set grown past the list count the centres were drawn for: drawn again, all assigned again
    monkeypatch.setattr(keypoints, "_lists_for", lambda n: 128)
    with Index(db) as index:
        redrawn = index.add([str(FIXTURES / "leak")], jobs=1)
        third = keypoints.Lists.stored(index)
    assert third is not None and third.nlist == 128 and third.method != first.method
    assert redrawn.lists_added == len(leak) + len(article)
    with sqlite3.connect(db) as conn:
        methods = {m for (m,) in conn.execute("SELECT DISTINCT method FROM features")}
    assert methods == {keypoints.METHOD, third.method}  # the old centres' numbers are gone


def test_an_interrupted_lists_step_keeps_its_batches_and_the_next_run_finishes(tmp_path, small_exhaustive, monkeypatch):
    from provenance import Index

    db = tmp_path / "leak.db"
    with Index(db) as index:
        index.add([str(FIXTURES / "leak")], jobs=1, keys=True, lists_progress=None)
        images = len(list(index.image_contents()))
        lists = keypoints.Lists.stored(index)
        index.store.begin()
        index.store.delete_features(lists.method)
        index.commit()
    monkeypatch.setattr(keypoints, "LISTS_BATCH", 2)
    real = keypoints.Lists.assign
    calls = []

    def interrupted(self, descriptors):
        calls.append(len(descriptors))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, descriptors)

    monkeypatch.setattr(keypoints.Lists, "assign", interrupted)
    with Index(db) as index, pytest.raises(KeyboardInterrupt):
        index.add([str(FIXTURES / "leak")], jobs=1)
    assert len(stored_lists(db, lists.method)) == 2  # the first batch was committed
    monkeypatch.setattr(keypoints.Lists, "assign", real)
    with Index(db) as index:
        assert index.add([str(FIXTURES / "leak")], jobs=1).lists_added == images - 2
    assert len(stored_lists(db, lists.method)) == images


def test_a_schema_3_index_is_read_without_lists_and_migrated_when_written(tmp_path, small_exhaustive):
    import sqlite3

    from provenance import Index

    db = tmp_path / "leak.db"
    with Index(db) as index:
        index.add([str(FIXTURES / "leak")], jobs=1, keys=False)
    with sqlite3.connect(db) as conn:  # what version 3 wrote: no structures table
        conn.execute("DROP TABLE structures")
        conn.execute("PRAGMA user_version = 3")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    with Index(db, create=False, writable=False) as index:
        assert index.store.schema_version() == 3 and keypoints.Lists.stored(index) is None
    with Index(db) as index:
        summary = index.add([str(FIXTURES / "leak")], jobs=1)
        assert index.store.schema_version() == 4
        assert summary.lists_added == summary.keys_added > 0 and keypoints.Lists.stored(index) is not None


def test_provenance_index_says_it_stored_the_lists_and_a_rerun_says_nothing_of_them(tmp_path, small_exhaustive):
    from click.testing import CliRunner

    from provenance.cli import main

    db = tmp_path / "leak.db"
    first = CliRunner().invoke(main, ["index", str(FIXTURES / "leak"), "--db", str(db), "-j", "1"])
    assert first.exit_code == 0, first.output
    assert "; search lists of 8 images stored" in first.stderr
    again = CliRunner().invoke(main, ["index", str(FIXTURES / "leak"), "--db", str(db), "-j", "1"])
    assert again.exit_code == 0 and "search lists" not in again.stderr
