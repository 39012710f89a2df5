"""A fingerprinting worker process: one JSON task per line in, one JSON record per line out.

Run by ``provenance.pool`` as ``python -m provenance.worker``; not a user command.
"""

from __future__ import annotations

import json
import os
import sys

from .fingerprint import FingerprintOptions, fingerprint


def main() -> None:
    # The protocol gets its own copy of stdout; fd 1 itself goes to /dev/null, because
    # some C decoders print to it and would corrupt the records.
    protocol = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = sys.stderr
    options = FingerprintOptions.from_dict(json.loads(os.environ.get("PROVENANCE_WORKER_OPTIONS", "{}")))
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        task = json.loads(line)
        record = fingerprint(task["path"], options=options).to_dict()
        reply = json.dumps({"index": task["index"], "record": record}, default=str)
        protocol.write(reply.encode("ascii") + b"\n")
        protocol.flush()


if __name__ == "__main__":
    main()
