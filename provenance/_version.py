"""The version of provenance, in one place that imports nothing (so every module may read it)."""

__version__ = "0.1.0"
