"""Limits shared by several modules, in a module that imports nothing (the command line reads them
for its help text without loading a decoder)."""

#: default pixel limit: room for 200 MP phone sensors and 100 MP medium format,
#: far below the gigapixel headers of decompression bombs
DEFAULT_MAX_PIXELS = 250_000_000

#: seconds one file or query may take before its worker is killed
DEFAULT_TIMEOUT = 120.0

#: files larger than this are not held in memory: their digests are streamed and the
#: image decoder reads the file again on its own (see docs/limits.md)
DEFAULT_MAX_IN_MEMORY = 512 * 1024 * 1024

#: PDQ's own quality score below which a hash says little about the picture (Meta's guidance)
MIN_PDQ_QUALITY = 50
