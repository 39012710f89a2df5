"""Fingerprinting many files: in order, in parallel worker processes, safe from crashing decoders.

Each worker is a separate ``python -m provenance.worker`` process fed one path at a
time over a pipe and answering with one JSON record. A worker that dies (a decoder
segfault, the kernel's OOM killer) or runs past the per-file time limit is replaced,
and its file gets an error record; the run goes on. JSON, not pickle, crosses the
pipe, so a worker compromised by a hostile file cannot run code in the parent.
Results come back in input order with a bounded window, so memory stays flat.
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
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from .errors import FingerprintTimeout, WorkerCrashed
from .files import WalkError
from .fingerprint import Fingerprint, FingerprintOptions, fingerprint

#: seconds one file may take before its worker is killed
DEFAULT_TIMEOUT = 120.0

WORKER_COMMAND = (sys.executable, "-m", "provenance.worker")


def default_jobs() -> int:
    """The number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def fingerprint_many(
    paths: Iterable[str | os.PathLike[str] | WalkError],
    *,
    jobs: int = 1,
    options: FingerprintOptions | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    worker_command: Sequence[str] = WORKER_COMMAND,
    debug: bool = False,
) -> Iterator[Fingerprint]:
    """Yield one ``Fingerprint`` per path, in input order.

    ``jobs=0`` works in this process (no isolation from crashing decoders, no time
    limit); ``jobs=N`` uses N worker processes. ``WalkError`` items (directories that
    could not be listed) become error records in their place.
    """
    options = options or FingerprintOptions()
    if jobs <= 0:
        for item in paths:
            yield _walk_error_record(item) if isinstance(item, WalkError) else fingerprint(item, options=options)
        return
    with WorkerPool(jobs, options, timeout=timeout, worker_command=worker_command, debug=debug) as pool:
        yield from pool.map(paths)


def _walk_error_record(item: WalkError) -> Fingerprint:
    record = Fingerprint(path=item.path)
    record.set_error("UnreadableFile", item.message)
    return record


@dataclass
class _Task:
    index: int
    path: str
    started: float = 0.0


class _Worker:
    def __init__(self, command: Sequence[str], options: FingerprintOptions, debug: bool) -> None:
        env = dict(os.environ)
        env["PROVENANCE_WORKER_OPTIONS"] = json.dumps(options.to_dict())
        self.process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if debug else subprocess.DEVNULL,  # decoders chatter on stderr
            env=env,
            start_new_session=True,  # Ctrl-C reaches the parent, which stops the workers itself
        )
        self.buffer = b""
        self.task: _Task | None = None

    def send(self, task: _Task) -> None:
        task.started = time.monotonic()
        self.task = task
        line = json.dumps({"index": task.index, "path": task.path}) + "\n"
        self.process.stdin.write(line.encode("utf-8", errors="surrogatepass"))
        self.process.stdin.flush()

    def read_available(self) -> list[dict] | None:
        """Records the worker has finished, or None once it has exited."""
        chunk = os.read(self.process.stdout.fileno(), 1 << 16)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line.decode("utf-8", errors="surrogatepass")) for line in lines if line]

    def kill(self) -> None:
        try:
            self.process.kill()
        except OSError:
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def describe_exit(self) -> str:
        code = self.process.wait()
        if code < 0:
            try:
                return f"signal {signal.Signals(-code).name}"
            except ValueError:
                return f"signal {-code}"
        return f"exit status {code}"


class WorkerPool:
    """N supervised worker processes; ``map`` streams records back in input order."""

    def __init__(
        self,
        jobs: int,
        options: FingerprintOptions,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        worker_command: Sequence[str] = WORKER_COMMAND,
        debug: bool = False,
    ) -> None:
        self.jobs = jobs
        self.options = options
        self.timeout = timeout
        self.command = tuple(worker_command)
        self.debug = debug
        self.window = 4 * jobs
        self.selector = selectors.DefaultSelector()
        self.workers: list[_Worker] = []

    def __enter__(self) -> "WorkerPool":
        for _ in range(self.jobs):
            self._start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for worker in list(self.workers):
            self._retire(worker)
        self.selector.close()

    def _start(self) -> _Worker:
        worker = _Worker(self.command, self.options, self.debug)
        self.workers.append(worker)
        self.selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        try:
            self.selector.unregister(worker.process.stdout)
        except (KeyError, ValueError):
            pass
        self.workers.remove(worker)
        worker.kill()

    def map(self, paths: Iterable[str | os.PathLike[str] | WalkError]) -> Iterator[Fingerprint]:
        """Fingerprint ``paths``; yields in input order."""
        source = iter(enumerate(paths))
        queue: deque[_Task] = deque()  # read from the source, not yet sent
        done: dict[int, Fingerprint] = {}
        next_out = 0
        next_in = 0
        exhausted = False
        while True:
            # keep at most `window` files between the oldest not yet yielded and the newest read
            while not exhausted and next_in - next_out < self.window:
                try:
                    index, item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                next_in = index + 1
                if isinstance(item, WalkError):
                    done[index] = _walk_error_record(item)
                else:
                    queue.append(_Task(index, os.fspath(item)))
            for worker in self.workers:
                if worker.task is None and queue:
                    self._send(worker, queue.popleft(), done)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if exhausted and not queue and next_out == next_in:
                return
            self._collect(done)

    def _send(self, worker: _Worker, task: _Task, done: dict[int, Fingerprint]) -> None:
        try:
            worker.send(task)
        except (BrokenPipeError, OSError):
            self._replace(worker, done, f"worker exited before the file was sent ({worker.describe_exit()})")

    def _collect(self, done: dict[int, Fingerprint]) -> None:
        """Wait for records (or a timeout) and file them under their input index."""
        busy = [w for w in self.workers if w.task is not None]
        if not busy:
            return
        wait = None
        if self.timeout is not None:
            deadline = min(w.task.started for w in busy) + self.timeout
            wait = max(0.0, deadline - time.monotonic())
        for key, _ in self.selector.select(wait):
            worker: _Worker = key.data
            messages = worker.read_available()
            if messages is None:
                self._replace(worker, done, f"the worker process died ({worker.describe_exit()})")
                continue
            for message in messages:
                record = Fingerprint.from_dict(message["record"])
                done[message["index"]] = record
                worker.task = None
        if self.timeout is not None:
            now = time.monotonic()
            for worker in [w for w in self.workers if w.task is not None]:
                if now - worker.task.started >= self.timeout:
                    self._replace(
                        worker, done, f"gave up after {self.timeout:g} s (per-file time limit, --timeout)",
                        FingerprintTimeout.error_type,
                    )

    def _replace(self, worker: _Worker, done: dict[int, Fingerprint], message: str,
                 error_type: str = WorkerCrashed.error_type) -> None:
        task = worker.task
        self._retire(worker)
        if task is not None:
            record = fingerprint_error_record(task.path, error_type, message)
            done[task.index] = record
        self._start()


def fingerprint_error_record(path: str, error_type: str, message: str) -> Fingerprint:
    """A record for a file whose worker failed, with its digests when they can still be read."""
    from .decode import looks_like_image
    from .digests import StreamingDigests, name_digest
    from .files import mtime_iso

    record = Fingerprint(path=path)
    record.set_error(error_type, message)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
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
