"""A provenance worker that crashes or hangs on request, to test the pool's supervision.

Paths containing ``crash-me`` kill the worker with SIGSEGV, as a decoder bug would;
paths containing ``hang-me`` make it sleep forever; everything else is fingerprinted normally.
"""

import os
import signal
import sys
import time

from provenance import worker
from provenance.fingerprint import fingerprint as real_fingerprint


def fingerprint(path, **kwargs):
    if "crash-me" in str(path):
        os.kill(os.getpid(), signal.SIGSEGV)
    if "hang-me" in str(path):
        while True:
            time.sleep(60)
    return real_fingerprint(path, **kwargs)


worker.fingerprint = fingerprint
sys.exit(worker.main())
