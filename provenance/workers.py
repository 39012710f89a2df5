"""Per-file and per-query work in worker processes: in order, in parallel, safe from crashing decoders.

Each worker is a separate ``python -m provenance.worker`` process running one kind of task
(``worker.TASKS``: fingerprinting a file, matching a query), fed one JSON payload per line
over a pipe and answering with one JSON reply per line. A worker that dies (a decoder
segfault, the kernel's OOM killer), answers garbage, or runs past the per-item time limit
is replaced, and its item gets an error reply; the run goes on. JSON, not pickle, crosses
the pipe, so a worker compromised by a hostile file cannot run code in the parent. Replies
come back in input order with a bounded window, so memory stays flat; workers start only
when there is work, and no more of them than there are items in flight.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import stat
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .defaults import DEFAULT_TIMEOUT
from .errors import FingerprintTimeout, WorkerCrashed
from .files import WalkError
from .fingerprint import Fingerprint, FingerprintOptions, fingerprint

if TYPE_CHECKING:
    from .cluster import DaskPool, Scheduler

WORKER_COMMAND = (sys.executable, "-m", "provenance.worker")

#: (payload, error type, message) → the reply standing in for an item whose worker failed
FailureReply = Callable[[dict[str, Any], str, str], dict[str, Any]]


def default_jobs() -> int:
    """The number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Ready:
    """An item whose reply is known without a worker (a folder that could not be listed)."""

    reply: dict[str, Any]


# -- fingerprinting ------------------------------------------------------------------------------


def fingerprint_many(
    paths: Iterable[str | os.PathLike[str] | WalkError],
    *,
    jobs: int = 1,
    options: FingerprintOptions | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    worker_command: Sequence[str] = WORKER_COMMAND,
    debug: bool = False,
    scheduler: Scheduler | None = None,
) -> Generator[Fingerprint, None, None]:
    """Yield one ``Fingerprint`` per path, in input order.

    ``jobs=0`` works in this process (no isolation from crashing decoders, no time
    limit); ``jobs=N`` uses up to N worker processes; a ``scheduler`` (a Dask scheduler's
    address, or a ``distributed.Client``) sends the files to that cluster's workers instead
    (``cluster.py``). ``WalkError`` items (directories that could not be listed) become error
    records in their place.
    """
    results = fingerprint_many_with_keys(
        paths,
        jobs=jobs,
        options=options,
        timeout=timeout,
        worker_command=worker_command,
        debug=debug,
        keys=False,
        scheduler=scheduler,
    )
    try:
        for record, _ in results:
            yield record
    finally:
        results.close()


def fingerprint_many_with_keys(
    paths: Iterable[str | os.PathLike[str] | WalkError],
    *,
    jobs: int = 1,
    options: FingerprintOptions | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    worker_command: Sequence[str] = WORKER_COMMAND,
    debug: bool = False,
    keys: bool = True,
    scheduler: Scheduler | None = None,
) -> Generator[tuple[Fingerprint, bytes | None], None, None]:
    """As ``fingerprint_many``, each record with its keypoint search keys (``keypoints.fingerprint_with_keys``),
    made by the same worker from the same read of the file; None for a file that is not a decodable
    image, and for every file when ``keys`` is false."""
    options = options or FingerprintOptions()
    if jobs <= 0 and scheduler is None:
        for item in paths:
            if isinstance(item, WalkError):
                yield walk_error_record(item), None
            elif keys:
                from .keypoints import fingerprint_with_keys

                yield fingerprint_with_keys(os.fspath(item), options)
            else:
                yield fingerprint(item, options=options), None
        return

    def payloads() -> Iterator[dict[str, Any] | Ready]:
        for item in paths:
            if isinstance(item, WalkError):
                yield Ready({"record": walk_error_record(item).to_dict()})
            else:
                yield {"path": os.fspath(item)}

    def failed(payload: dict[str, Any], error_type: str, message: str) -> dict[str, Any]:
        return {"record": fingerprint_error_record(payload["path"], error_type, message).to_dict()}

    pool = open_pool(
        "fingerprint",
        {"options": options.to_dict(), "keys": keys},
        jobs,
        failed=failed,
        timeout=timeout,
        worker_command=worker_command,
        debug=debug,
        scheduler=scheduler,
    )
    with pool:
        for reply in pool.map(payloads()):
            blob = reply.get("keys")
            yield Fingerprint.from_dict(reply["record"]), _decoded_keys(blob)


def _decoded_keys(blob: object) -> bytes | None:
    """Keys from a worker's reply: whole 32-byte descriptors, or None (a reply is checked, not trusted)."""
    if not isinstance(blob, str):
        return None
    import base64
    import binascii

    try:
        data = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if len(data) % 32 == 0 else None


def walk_error_record(item: WalkError) -> Fingerprint:
    """The record of a folder that could not be listed."""
    record = Fingerprint(path=item.path)
    record.set_error("UnreadableFile", item.message)
    return record


def fingerprint_error_record(path: str, error_type: str, message: str) -> Fingerprint:
    """A record for a file whose worker failed, with its digests when they can still be read."""
    from .decode import looks_like_image
    from .digests import StreamingDigests, name_digest
    from .files import mtime_iso

    record = Fingerprint(path=path)
    record.set_error(error_type, message)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):
        return record
    with os.fdopen(fd, "rb") as fh:
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return record
            digests = StreamingDigests()
            head = b""
            size = 0
            while chunk := fh.read(1 << 20):
                head = head or chunk[:64]
                digests.update(chunk)
                size += len(chunk)
        except OSError:
            return record
    values = digests.hexdigests()
    record.size, record.mtime = size, mtime_iso(st.st_mtime_ns)
    record.md5, record.sha1, record.sha256 = values["md5"], values["sha1"], values["sha256"]
    record.name_digest = name_digest(path, values)
    record.kind = "image" if looks_like_image(path, head) else "other"
    return record


def open_pool(
    task: str,
    config: dict[str, Any],
    jobs: int,
    *,
    failed: FailureReply,
    timeout: float | None = DEFAULT_TIMEOUT,
    worker_command: Sequence[str] = WORKER_COMMAND,
    debug: bool = False,
    scheduler: Scheduler | None = None,
) -> WorkerPool | DaskPool:
    """Workers for ``task``: ``jobs`` local processes, or, given a ``scheduler``, a Dask cluster's."""
    if scheduler is not None:
        from .cluster import DaskPool

        command = None if tuple(worker_command) == WORKER_COMMAND else worker_command
        return DaskPool(task, config, scheduler, failed=failed, timeout=timeout, debug=debug, worker_command=command)
    return WorkerPool(task, config, jobs, failed=failed, timeout=timeout, worker_command=worker_command, debug=debug)


# -- the pool --------------------------------------------------------------------------------------


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


@dataclass
class _Item:
    index: int
    payload: dict[str, Any]
    started: float = 0.0


class _Worker:
    def __init__(self, command: Sequence[str], task: str, config: dict[str, Any], debug: bool) -> None:
        env = dict(os.environ)
        # one thread each: the pool is the parallelism (FAISS's OpenMP threads in every worker would
        # spin against each other and against the other workers)
        for name in _THREAD_VARIABLES:
            env.setdefault(name, "1")
        env["PROVENANCE_WORKER_TASK"] = json.dumps({"task": task, "config": config, "debug": debug})
        self.process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if debug else subprocess.DEVNULL,  # decoders chatter on stderr
            env=env,
            start_new_session=True,  # Ctrl-C reaches the parent, which stops the workers itself
        )
        self.buffer = b""
        self.item: _Item | None = None
        #: it wrote something that is not a reply (a decoder printing to the protocol, a hostile file)
        self.garbled = False

    def send(self, item: _Item) -> None:
        item.started = time.monotonic()
        self.item = item
        line = json.dumps({"index": item.index, "payload": item.payload}) + "\n"
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode("utf-8", errors="surrogatepass"))
        self.process.stdin.flush()

    def read_available(self) -> list[dict[str, Any]] | None:
        """Replies the worker has finished, or None once it has exited or broken the protocol."""
        assert self.process.stdout is not None
        chunk = os.read(self.process.stdout.fileno(), 1 << 16)
        if not chunk:
            try:  # it closed its end: it has exited, or is about to
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        replies = []
        for line in lines:
            if not line:
                continue
            try:
                message = json.loads(line.decode("utf-8", errors="surrogatepass"))
            except ValueError:
                self.garbled = True
                return None
            if not isinstance(message, dict) or not isinstance(
                message.get("reply", message.get("failure")), (dict, str)
            ):
                self.garbled = True
                return None
            replies.append(message)
        return replies

    def kill(self) -> None:
        try:
            self.process.kill()
        except OSError:
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def describe_exit(self) -> str:
        if self.garbled:
            return "it answered something that is not a reply"
        code = self.process.wait()
        if code < 0:
            try:
                return f"signal {signal.Signals(-code).name}"
            except ValueError:
                return f"signal {-code}"
        return f"exit status {code}"


class WorkerPool:
    """Up to ``jobs`` supervised worker processes of one task; ``map`` streams replies back in input order."""

    def __init__(
        self,
        task: str,
        config: dict[str, Any],
        jobs: int,
        *,
        failed: FailureReply,
        timeout: float | None = DEFAULT_TIMEOUT,
        worker_command: Sequence[str] = WORKER_COMMAND,
        debug: bool = False,
    ) -> None:
        self.task = task
        self.config = config
        self.jobs = max(1, jobs)
        self.failed = failed
        self.timeout = timeout
        self.command = tuple(worker_command)
        self.debug = debug
        self.window = 4 * self.jobs
        self.selector = selectors.DefaultSelector()
        self.workers: list[_Worker] = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in list(self.workers):
            self._retire(worker)
        self.selector.close()

    def _start(self) -> _Worker:
        worker = _Worker(self.command, self.task, self.config, self.debug)
        self.workers.append(worker)
        assert worker.process.stdout is not None
        self.selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        try:
            assert worker.process.stdout is not None
            self.selector.unregister(worker.process.stdout)
        except (KeyError, ValueError):
            pass
        self.workers.remove(worker)
        worker.kill()

    def map(self, payloads: Iterable[dict[str, Any] | Ready]) -> Iterator[dict[str, Any]]:
        """One reply per payload, in input order."""
        source = iter(enumerate(payloads))
        queue: deque[_Item] = deque()  # read from the source, not yet sent
        done: dict[int, dict[str, Any]] = {}
        next_out = 0
        next_in = 0
        exhausted = False
        while True:
            # keep at most `window` items between the oldest not yet yielded and the newest read
            while not exhausted and next_in - next_out < self.window:
                try:
                    index, item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                next_in = index + 1
                if isinstance(item, Ready):
                    done[index] = item.reply
                else:
                    queue.append(_Item(index, item))
            idle = [w for w in self.workers if w.item is None]
            while queue and len(idle) < len(queue) and len(self.workers) < self.jobs:
                idle.append(self._start())  # workers start when there is work for them
            for worker in idle:
                if queue:
                    self._send(worker, queue.popleft(), done)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if exhausted and not queue and next_out == next_in:
                return
            self._collect(done)

    def _send(self, worker: _Worker, item: _Item, done: dict[int, dict[str, Any]]) -> None:
        try:
            worker.send(item)
        except (BrokenPipeError, OSError):
            self._replace(worker, done, f"worker exited before the item was sent ({worker.describe_exit()})")

    def _collect(self, done: dict[int, dict[str, Any]]) -> None:
        """Wait for replies (or a timeout) and file them under their input index."""
        busy = [w for w in self.workers if w.item is not None]
        if not busy:
            return
        wait = None
        if self.timeout is not None:
            deadline = min(w.item.started for w in busy if w.item is not None) + self.timeout
            wait = max(0.0, deadline - time.monotonic())
        for key, _ in self.selector.select(wait):
            worker: _Worker = key.data
            messages = worker.read_available()
            if messages is None:
                self._replace(worker, done, f"the worker process died ({worker.describe_exit()})")
                continue
            for message in messages:
                if worker.item is None or message.get("index") != worker.item.index:
                    self._replace(worker, done, "the worker process answered out of turn")
                    break
                if "failure" in message:  # the handler raised: a bug of ours, costing this item only
                    done[worker.item.index] = self.failed(worker.item.payload, "InternalError", str(message["failure"]))
                else:
                    done[worker.item.index] = message["reply"]
                worker.item = None
        if self.timeout is not None:
            now = time.monotonic()
            for worker in [w for w in self.workers if w.item is not None]:
                if worker.item is not None and now - worker.item.started >= self.timeout:
                    self._replace(
                        worker,
                        done,
                        f"gave up after {self.timeout:g} s (per-file time limit, --timeout)",
                        FingerprintTimeout.error_type,
                    )

    def _replace(
        self, worker: _Worker, done: dict[int, dict[str, Any]], message: str, error_type: str = WorkerCrashed.error_type
    ) -> None:
        item = worker.item
        if worker in self.workers:
            self._retire(worker)
        if item is not None:
            done[item.index] = self.failed(item.payload, error_type, message)
