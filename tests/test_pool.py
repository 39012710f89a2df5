import itertools
import shutil
import sys
from pathlib import Path

from provenance import FingerprintOptions, fingerprint, fingerprint_many
from provenance.files import WalkError

from conftest import ARTICLE_FILES, LEAK_FILES

FILES = [str(p) for p in LEAK_FILES + ARTICLE_FILES]
MISBEHAVING = (sys.executable, str(Path(__file__).with_name("misbehaving_worker.py")))


def comparable(record):
    data = record.to_dict()
    data.pop("mtime")
    return data


def test_workers_give_the_same_records_in_input_order():
    in_process = [comparable(r) for r in fingerprint_many(FILES, jobs=0)]
    parallel = [comparable(r) for r in fingerprint_many(FILES, jobs=2)]
    assert [r["path"] for r in parallel] == FILES
    assert parallel == in_process


def test_a_crashing_decoder_costs_one_record_not_the_run(tmp_path):
    victim = tmp_path / "crash-me.jpg"
    shutil.copy(LEAK_FILES[0], victim)
    paths = FILES[:3] + [str(victim)] + FILES[3:6]
    records = list(fingerprint_many(paths, jobs=2, worker_command=MISBEHAVING))
    assert [r.path for r in records] == paths
    crashed = records[3]
    assert crashed.error["type"] == "WorkerCrashed" and "SIGSEGV" in crashed.error["message"]
    assert crashed.sha256 == fingerprint(LEAK_FILES[0]).sha256  # digests recovered by the parent
    assert crashed.kind == "image"
    assert all(r.error is None for i, r in enumerate(records) if i != 3)


def test_a_hanging_file_times_out_and_the_run_goes_on(tmp_path):
    victim = tmp_path / "hang-me.jpg"
    shutil.copy(LEAK_FILES[0], victim)
    paths = [FILES[0], str(victim), FILES[1]]
    records = list(fingerprint_many(paths, jobs=1, timeout=3, worker_command=MISBEHAVING))
    assert [r.path for r in records] == paths
    assert records[1].error["type"] == "Timeout" and "3 s" in records[1].error["message"]
    assert records[0].error is None and records[2].error is None


def test_options_reach_the_workers():
    path = str(LEAK_FILES[0])
    (record,) = fingerprint_many([path], jobs=1, options=FingerprintOptions(details=True, max_pixels=10))
    assert record.error["type"] == "ImageTooLarge" and record.exif is not None


def test_walk_errors_become_records_in_place():
    items = [FILES[0], WalkError("/leak/locked", "cannot list directory: Permission denied"), FILES[1]]
    for jobs in (0, 2):
        records = list(fingerprint_many(items, jobs=jobs))
        assert [r.path for r in records] == [FILES[0], "/leak/locked", FILES[1]]
        assert records[1].error == {"type": "UnreadableFile", "message": "cannot list directory: Permission denied"}


def test_input_is_read_lazily_within_a_bounded_window():
    """Memory stays flat: the pool never reads far ahead of what it has yielded."""
    read = []

    def endless():
        for i in itertools.count():
            read.append(i)
            yield FILES[i % len(FILES)]

    stream = fingerprint_many(endless(), jobs=2)
    for _ in itertools.islice(stream, 20):
        pass
    stream.close()
    assert len(read) <= 20 + 4 * 2
