"""Per-item work on a Dask distributed cluster (``--scheduler tcp://HOST:8786``), in input order.

The cluster is Dask's: started by the user (``dask scheduler`` and ``dask worker``, dask-jobqueue,
Kubernetes), found by its scheduler's address. Dask decides where each item runs, retries the
items of a worker it loses, and spreads the work over every worker thread; this module only
submits items with a bounded window and hands the replies back in input order, as
``workers.WorkerPool`` does for local processes.

Each Dask task runs its item in a supervised ``provenance.worker`` process that the Dask worker
keeps (one per worker thread, started on first use): a decoder that crashes or hangs costs that
item an error reply, exactly as on one machine, and the Dask worker never decodes untrusted
bytes itself. What reaches the client is the JSON the supervised process wrote, parsed and
checked by our code on the Dask worker. A task whose Dask worker dies under it (the machine lost,
the kernel's OOM killer) is retried by Dask on another worker; one that has killed workers as many
times as the scheduler allows (``distributed.scheduler.allowed-failures``) becomes an error reply.

The workers must see the files at the paths the client names (shared storage) or through the
fsspec URLs given (``s3://…``); see docs/scale.md.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .defaults import DEFAULT_TIMEOUT
from .errors import ClusterError, WorkerCrashed

#: how long to wait for the scheduler before calling it unreachable
CONNECT_TIMEOUT = 10.0
#: items in flight per worker thread of the cluster (at least MIN_WINDOW in all)
WINDOW_PER_THREAD = 4
MIN_WINDOW = 8

_FAILURE = "_provenance_failure"

#: a scheduler address, or a ``distributed.Client`` the caller already holds
Scheduler = Any


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ClusterError("--scheduler needs Dask distributed: pip install 'provenance[dask]'") from exc
    return distributed


def connect(scheduler: Scheduler) -> tuple[Any, bool]:
    """A ``distributed.Client`` for ``scheduler`` and whether we opened it (and so must close it)."""
    distributed = _distributed()
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    address = str(scheduler)
    try:
        distributed.comm.get_address_host_port(address)
    except ValueError as exc:
        raise ClusterError(f"{address!r} is not a Dask scheduler address (tcp://HOST:PORT): {exc}") from exc
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    return client, True


class DaskPool:
    """``workers.WorkerPool``'s interface on a Dask cluster: ``map`` streams replies back in input order."""

    def __init__(
        self,
        task: str,
        config: dict[str, Any],
        scheduler: Scheduler,
        *,
        failed: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        debug: bool = False,
        worker_command: Sequence[str] | None = None,
    ) -> None:
        self.task = task
        self.config = config
        self.failed = failed
        self.timeout = timeout
        self.debug = debug
        #: None: each Dask worker runs its own ``python -m provenance.worker`` (tests stand a misbehaving one in)
        self.worker_command = None if worker_command is None else list(worker_command)
        self.client, self._owned = connect(scheduler)
        self.futures: deque[tuple[dict[str, Any], Any]] = deque()

    def __enter__(self) -> DaskPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancel what is still queued (Ctrl-C, an error downstream) and let the client go."""
        pending = [future for _, future in self.futures if not future.done()]
        self.futures.clear()
        if pending:
            try:
                self.client.cancel(pending)
            except Exception:  # noqa: BLE001 - the cluster may be gone already; nothing left to cancel
                pass
        if self._owned:
            self.client.close()

    def _window(self) -> int:
        try:
            threads = sum(self.client.nthreads().values())
        except Exception:  # noqa: BLE001 - a scheduler that cannot say: a small window still works
            threads = 0
        return max(MIN_WINDOW, WINDOW_PER_THREAD * threads)

    def map(self, payloads: Iterable[Any]) -> Iterator[dict[str, Any]]:
        """One reply per payload, in input order (``workers.Ready`` items are answered here)."""
        from .workers import Ready

        distributed = _distributed()
        window = self._window()
        source = iter(payloads)
        exhausted = False
        spec = {
            "task": self.task,
            "config": self.config,
            "timeout": self.timeout,
            "debug": self.debug,
            "command": self.worker_command,
        }
        while True:
            while not exhausted and len(self.futures) < window:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                if isinstance(item, Ready):
                    self.futures.append((item.reply, None))
                else:
                    try:
                        future = self.client.submit(run_item, spec, item, pure=False)
                    except Exception as exc:
                        raise ClusterError(f"lost the Dask scheduler: {exc}") from exc
                    self.futures.append((item, future))
            if not self.futures:
                return
            payload, future = self.futures.popleft()
            if future is None:
                yield payload
                continue
            yield self._reply(payload, future, distributed)

    def _reply(self, payload: dict[str, Any], future: Any, distributed: Any) -> dict[str, Any]:
        try:
            reply = future.result()
        except distributed.KilledWorker as exc:
            tries = exc.allowed_failures + 1
            last = getattr(exc.last_worker, "address", exc.last_worker)
            return self.failed(
                payload,
                WorkerCrashed.error_type,
                f"the Dask worker running it died, {tries} times on different workers (last {last}); Dask gave up",
            )
        except Exception as exc:
            if _cluster_lost(exc, future, distributed):
                # not the item's fault: no error record (an index would keep it and not retry the file)
                raise ClusterError(f"lost the Dask scheduler: {type(exc).__name__}: {exc}") from exc
            return self.failed(
                payload, "InternalError", f"{type(exc).__name__}: {exc}"
            )  # a bug of ours, this item only
        if not isinstance(reply, dict):
            return self.failed(payload, "InternalError", "the Dask task answered something that is not a reply")
        failure = reply.get(_FAILURE)
        if failure is not None:
            return self.failed(payload, str(failure[0]), str(failure[1]))
        return reply


def _cluster_lost(exc: Exception, future: Any, distributed: Any) -> bool:
    """Whether a task's failure is the cluster's (the scheduler gone, the task cancelled), not the item's."""
    from concurrent.futures import CancelledError

    lost = (OSError, CancelledError, distributed.comm.CommClosedError, distributed.client.ClosedClientError)
    return isinstance(exc, lost) or future.cancelled()


# -- on the Dask worker ----------------------------------------------------------------------------

_local = threading.local()


def run_item(spec: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The Dask task: one item through this worker thread's supervised ``provenance.worker`` process.

    The process is kept for the next item of the same task and settings, so a match worker opens
    the index and builds its search once per thread, not once per query.
    """
    from .workers import WORKER_COMMAND, WorkerPool

    key = json.dumps(spec, sort_keys=True, default=str)
    pool: WorkerPool | None = getattr(_local, "pool", None)
    if pool is None or getattr(_local, "key", None) != key:
        if pool is not None:
            pool.close()
        pool = WorkerPool(
            spec["task"],
            spec["config"],
            1,
            failed=lambda _payload, error_type, message: {_FAILURE: [error_type, message]},
            timeout=spec["timeout"],
            worker_command=spec.get("command") or WORKER_COMMAND,
            debug=spec["debug"],
        )
        _local.pool, _local.key = pool, key
    (reply,) = list(pool.map([payload]))
    return reply
