"""Work sent to a Dask cluster (``--scheduler``): the same records, index and verdicts as a local run.

A ``distributed.LocalCluster`` of two worker processes stands in for a cluster in most tests; one
test starts real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, as a user would.
The oracle is always the local run of the same work.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from provenance import Index, match
from provenance.captions import Query, from_name
from provenance.errors import ClusterError
from provenance.workers import fingerprint_many

from conftest import ARTICLE_FILES, FIXTURES, LEAK_FILES, run_cli

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed (pip install '.[dask]')")

MISBEHAVING = (sys.executable, str(Path(__file__).with_name("misbehaving_worker.py")))


@pytest.fixture(scope="module")
def cluster():
    import dask

    # two worker deaths under one task and Dask gives it up (its default is 3; the test is quicker)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
        ) as local:
            yield local


@pytest.fixture(scope="module")
def address(cluster):
    return cluster.scheduler_address


def records(items):
    return [r.to_dict() for r in items]


def test_fingerprints_made_on_the_cluster_are_the_local_ones(address):
    paths = [str(p) for p in LEAK_FILES + ARTICLE_FILES]
    local = records(fingerprint_many(paths, jobs=1))
    remote = records(fingerprint_many(paths, scheduler=address))
    assert remote == local
    assert len(remote) == len(paths) and any(r["hashes"] for r in remote)


def dump(index: Index) -> tuple[list, list]:
    rows = sorted((r.to_dict() for r in index.records()), key=lambda r: r["path"])
    from provenance.keypoints import METHOD

    return rows, sorted(index.store.features(METHOD).items())


def test_an_index_built_on_the_cluster_holds_what_a_local_one_holds(address, tmp_path):
    with Index(tmp_path / "local.db") as index:
        index.add([str(FIXTURES / "leak"), str(FIXTURES / "article")], jobs=1)
        local = dump(index)
    with Index(tmp_path / "remote.db") as index:
        summary = index.add([str(FIXTURES / "leak"), str(FIXTURES / "article")], scheduler=address)
        remote = dump(index)
    assert summary.added == len(local[0]) and summary.keys_added > 0
    assert remote == local
    assert any(blob for _, blob in remote[1])  # keypoint features crossed the cluster too


def verdicts(report):
    return [
        (r["query"]["path"], r["verdict"], [m["reference"]["path"] for m in r["matches"]], r["error"])
        for r in report["results"]
    ]


def test_matching_on_the_cluster_gives_the_local_verdicts(address, tmp_path):
    with Index(tmp_path / "refs.db") as index:
        index.add([str(FIXTURES / "leak")], jobs=1)
        queries = [from_name(str(p)) for p in ARTICLE_FILES] + [Query(path=str(p)) for p in LEAK_FILES[:3]]
        local = match(queries, index, jobs=1).to_dict()
        remote = match(queries, index, scheduler=address).to_dict()
    assert verdicts(remote) == verdicts(local)
    assert {v for _, v, _, _ in verdicts(remote)} >= {"near-duplicate", "exact"}
    assert remote["results"] == local["results"]  # evidence, scores and metadata differences too


def test_a_file_that_crashes_or_hangs_its_decoder_costs_only_its_record(address, tmp_path):
    crash = tmp_path / "crash-me.jpg"
    hang = tmp_path / "hang-me.jpg"
    shutil.copyfile(LEAK_FILES[0], crash)
    shutil.copyfile(LEAK_FILES[0], hang)
    paths = [str(LEAK_FILES[1]), str(crash), str(hang), str(LEAK_FILES[2])]
    from provenance.workers import fingerprint_many_with_keys

    got = [
        r
        for r, _ in fingerprint_many_with_keys(
            paths, scheduler=address, timeout=5, worker_command=MISBEHAVING, keys=False
        )
    ]
    assert [r.path for r in got] == paths
    assert got[1].error["type"] == "WorkerCrashed" and "SIGSEGV" in got[1].error["message"]
    assert got[1].md5 is not None  # the digests are still read, by the client
    assert got[2].error["type"] == "Timeout"
    assert got[0].error is None and got[3].error is None


def test_a_lost_dask_worker_has_its_task_retried_and_a_file_that_keeps_killing_workers_is_an_error(
    address, cluster, tmp_path
):
    once = tmp_path / "kill-host-once.jpg"
    always = tmp_path / "kill-host.jpg"
    shutil.copyfile(LEAK_FILES[0], once)
    shutil.copyfile(LEAK_FILES[0], always)
    from provenance.workers import fingerprint_many_with_keys

    def run(paths):
        return [
            r
            for r, _ in fingerprint_many_with_keys(
                paths, scheduler=address, timeout=60, worker_command=MISBEHAVING, keys=False
            )
        ]

    # one at a time: a task queued on a worker that dies counts that death too
    first, second = run([str(once), str(LEAK_FILES[1])])
    assert first.path == str(once) and first.error is None and first.hashes  # Dask ran it again elsewhere
    assert second.error is None
    cluster.wait_for_workers(2, timeout=60)
    (lost,) = run([str(always)])
    assert lost.error["type"] == "WorkerCrashed" and "2 times on different workers" in lost.error["message"]
    assert lost.md5 == hashlib.md5(always.read_bytes()).hexdigest()  # what the bytes prove is still read
    cluster.wait_for_workers(2, timeout=60)  # the nannies restart what was killed, for the next tests


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path):
    result = run_cli("fingerprint", str(LEAK_FILES[0]), "--scheduler", "tcp://127.0.0.1:9", "-o", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr
    assert not (tmp_path / "o").exists()


def test_a_malformed_address_is_refused_before_connecting(tmp_path):
    result = run_cli("index", str(FIXTURES / "leak"), "--db", str(tmp_path / "x.db"), "--scheduler", "nowhere")
    assert result.returncode == 2 and "not a Dask scheduler address" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_jobs_and_a_scheduler_are_refused_together():
    result = run_cli("fingerprint", str(LEAK_FILES[0]), "--scheduler", "tcp://127.0.0.1:9", "-j", "2")
    assert result.returncode == 2 and "--jobs and --scheduler" in result.stderr


def test_without_distributed_the_scheduler_option_says_what_to_install(monkeypatch):
    from provenance import cluster as cluster_module

    monkeypatch.setitem(sys.modules, "distributed", None)  # an import of it now fails, as where it is not installed
    with pytest.raises(ClusterError, match=r"pip install 'provenance\[dask\]'"):
        cluster_module.connect("tcp://127.0.0.1:8786")


def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear in {seconds} s")
        time.sleep(0.2)


@contextlib.contextmanager
def real_cluster(folder: Path, workers: int = 2):
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, started as a user starts them;
    yields (scheduler address, scheduler process)."""
    dask_cli = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
    if dask_cli is None:
        pytest.skip("the dask command is not installed")
    info = folder / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    scheduler = subprocess.Popen(
        [dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(info)],
        **quiet,
    )
    processes = [scheduler]
    try:
        _wait_for(info, 60)
        address = json.loads(info.read_text())["address"]
        processes.append(
            subprocess.Popen(
                [
                    dask_cli,
                    "worker",
                    address,
                    "--nworkers",
                    str(workers),
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                **quiet,
            )  # fmt: skip
        )
        client = distributed.Client(address, timeout=30)
        client.wait_for_workers(workers, timeout=60)
        client.close()
        yield address, scheduler
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def test_a_real_dask_scheduler_and_workers_on_localhost_serve_the_cli(tmp_path):
    with real_cluster(tmp_path) as (address, _):
        local_db, remote_db = tmp_path / "local.db", tmp_path / "remote.db"
        assert run_cli("index", str(FIXTURES / "leak"), "--db", str(local_db), "-j", "1", "-q").returncode == 0
        made = run_cli("index", str(FIXTURES / "leak"), "--db", str(remote_db), "--scheduler", address, "-q")
        assert made.returncode == 0, made.stderr
        with Index(local_db, create=False, writable=False) as a, Index(remote_db, create=False, writable=False) as b:
            assert dump(b) == dump(a)

        local = run_cli("match", str(FIXTURES / "article"), "--against", str(local_db), "-j", "1", "-q")
        remote = run_cli("match", str(FIXTURES / "article"), "--against", str(remote_db), "--scheduler", address, "-q")
        assert remote.returncode == local.returncode == 0, remote.stderr
        assert verdicts(json.loads(remote.stdout)) == verdicts(json.loads(local.stdout))
        checked = run_cli(
            "check", str(FIXTURES / "article"), "--against", str(remote_db), "--scheduler", address,
            "--fail-on", "unreadable", "-q",
        )  # fmt: skip
        assert checked.returncode == 0, checked.stderr


def test_a_scheduler_lost_mid_run_stops_the_run_without_error_records(tmp_path):
    from provenance.workers import fingerprint_many_with_keys

    hang = tmp_path / "hang-me.jpg"
    shutil.copyfile(LEAK_FILES[0], hang)
    paths = [str(LEAK_FILES[1]), str(LEAK_FILES[2]), str(hang), str(LEAK_FILES[3])]
    got = []
    with real_cluster(tmp_path, workers=1) as (address, scheduler):
        results = fingerprint_many_with_keys(
            paths, scheduler=address, timeout=120, worker_command=MISBEHAVING, keys=False
        )
        with pytest.raises(ClusterError, match="lost the Dask scheduler"):
            for record, _ in results:
                got.append(record)
                if len(got) == 2:  # the third hangs on the cluster: the scheduler goes now
                    os.killpg(scheduler.pid, signal.SIGKILL)
    assert [r.path for r in got] == paths[:2] and all(r.error is None for r in got)


def test_cluster_workers_read_fsspec_urls(address):
    folder = "file://" + str((FIXTURES / "leak").resolve())
    from provenance.files import iter_files

    local = records(fingerprint_many(iter_files([folder]), jobs=1))
    remote = records(fingerprint_many(iter_files([folder]), scheduler=address))
    assert remote == local and all(r["path"].startswith("file://") for r in remote)
