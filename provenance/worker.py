"""A worker process: one JSON payload per line in, one JSON reply per line out, for one kind of task.

Run by ``provenance.workers`` as ``python -m provenance.worker`` with its task and settings in
the environment (``PROVENANCE_WORKER_TASK``); not a user command. A task module is imported
only by the workers that run it: a fingerprinting worker never loads OpenCV or FAISS.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from .fingerprint import FingerprintOptions, fingerprint

#: a payload → its reply
Handler = Callable[[dict[str, Any]], dict[str, Any]]


def fingerprint_task(config: dict[str, Any]) -> Handler:
    """Fingerprint the file at ``payload["path"]``; with ``config["keys"]``, also make its keypoint
    search keys from the same read (base64 in the reply's ``keys``)."""
    options = FingerprintOptions.from_dict(config.get("options") or {})
    if config.get("keys"):
        import base64

        from .keypoints import fingerprint_with_keys  # OpenCV: only in the workers that need it

        def with_keys(payload: dict[str, Any]) -> dict[str, Any]:
            record, keys = fingerprint_with_keys(payload["path"], options)
            return {"record": record.to_dict(), "keys": None if keys is None else base64.b64encode(keys).decode()}

        return with_keys

    def handle(payload: dict[str, Any]) -> dict[str, Any]:
        # a global, looked up at call time: a test can stand a misbehaving fingerprint in
        return {"record": fingerprint(payload["path"], options=options).to_dict()}

    return handle


def match_task(config: dict[str, Any]) -> Handler:
    """Match the query ``payload["query"]`` against the index named in ``config`` (``matching.worker``)."""
    from .matching.worker import query_handler

    return query_handler(config)


def thumbnail_task(config: dict[str, Any]) -> Handler:
    """Make the report thumbnail of the picture at ``payload["path"]`` (``report.thumbs``)."""
    from .report.thumbs import thumbnail_task as task

    return task(config)


#: task name → its handler factory (given the task's settings once, at start)
TASKS: dict[str, Callable[[dict[str, Any]], Handler]] = {
    "fingerprint": fingerprint_task,
    "match": match_task,
    "thumbnail": thumbnail_task,
}


def main() -> None:
    # The protocol gets its own copy of stdout; fd 1 itself goes to /dev/null, because
    # some C decoders print to it and would corrupt the replies.
    protocol = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = sys.stderr
    spec = json.loads(os.environ.get("PROVENANCE_WORKER_TASK") or '{"task": "fingerprint", "config": {}}')
    handle = TASKS[spec["task"]](spec.get("config") or {})
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        message = json.loads(line.decode("utf-8", errors="surrogatepass"))
        try:
            answer: dict[str, Any] = {"index": message["index"], "reply": handle(message["payload"])}
        except Exception as exc:  # noqa: BLE001 - a bug of ours costs this item, not the worker
            answer = {"index": message["index"], "failure": f"{type(exc).__name__}: {exc}"}
        text = json.dumps(answer, default=str, ensure_ascii=True)
        protocol.write(text.encode("ascii") + b"\n")
        protocol.flush()


if __name__ == "__main__":
    main()
