"""Support shared by the tests and the benchmarks: what newsrooms do to photos (``transforms``),
look-alikes a matcher must keep apart (``images``), and byte-level file helpers (``files``).

Part of the package so that neither tests nor benchmarks edit ``sys.path``; nothing here is
used by provenance itself.
"""
