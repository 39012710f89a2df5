"""A provenance worker that crashes or hangs on request, to test the pool's supervision.

Paths containing ``crash-me`` kill the worker with SIGSEGV, as a decoder bug would; paths
containing ``hang-me`` make it sleep forever; paths containing ``kill-host`` kill the process that
started this worker (a Dask worker lost mid-task, as when its machine goes), every time, or, for
``kill-host-once``, only while no file ``<path>.killed`` exists; everything else is handled normally. Both tasks
misbehave: fingerprinting a file, and matching a query (whose file is read by the same function).
"""

import os
import signal
import sys
import time

from provenance import worker
from provenance.fingerprint import fingerprint as real_fingerprint
from provenance.fingerprint import fingerprint_file as real_fingerprint_file
from provenance.matching import matcher


def misbehave(path):
    if "crash-me" in str(path):
        os.kill(os.getpid(), signal.SIGSEGV)
    if "kill-host" in str(path):
        marker = f"{path}.killed"
        if "kill-host-once" not in str(path) or not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getppid(), signal.SIGKILL)
            time.sleep(60)
    if "hang-me" in str(path):
        while True:
            time.sleep(60)


def fingerprint(path, **kwargs):
    misbehave(path)
    return real_fingerprint(path, **kwargs)


def fingerprint_file(file, options=None):
    misbehave(file.path)
    return real_fingerprint_file(file, options)


worker.fingerprint = fingerprint
matcher.fingerprint_file = fingerprint_file
sys.exit(worker.main())
