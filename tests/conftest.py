"""Shared test fixtures: the bundled fixtures/ folder and, when present, ../shared/corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CORPUS = Path(os.environ.get("PROVENANCE_CORPUS", ROOT.parent / "shared" / "corpus"))
SCHEMA_PATH = ROOT / "docs" / "schema" / "fingerprint.schema.json"

LEAK_FILES = sorted((FIXTURES / "leak").iterdir())
ARTICLE_FILES = sorted((FIXTURES / "article").iterdir())
METADATA_FILES = sorted((FIXTURES / "metadata").iterdir())
IMAGE_FIXTURES = [p for p in LEAK_FILES + ARTICLE_FILES + METADATA_FILES if p.suffix != ".txt"]

#: the leak file whose name is its original's MD5 but whose EXIF was removed
MISNAMED = FIXTURES / "leak" / "0adc4258c90cff58c2909ce560d637fe.jpg"


def corpus_path(*parts: str) -> Path:
    """A path in ../shared/corpus; skips the test (with the reason) when the corpus is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"../shared/corpus not found at {CORPUS} (set PROVENANCE_CORPUS to run corpus checks)")
    return CORPUS.joinpath(*parts)


def report_validator(name: str):
    """A validator of docs/schema/NAME.schema.json that resolves its references to the other schemas there."""
    import jsonschema
    from referencing import Registry, Resource

    schemas = [json.loads(p.read_text()) for p in (ROOT / "docs" / "schema").glob("*.schema.json")]
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)
    return jsonschema.Draft202012Validator(
        json.loads((ROOT / "docs" / "schema" / f"{name}.schema.json").read_text()),
        registry=registry,
        format_checker=jsonschema.FormatChecker(),
    )


@pytest.fixture(scope="session")
def schema_validator():
    return report_validator("fingerprint")


@pytest.fixture(scope="session")
def fixture_oracle() -> dict:
    """ExifTool's readings of the fixture copies, keyed by path relative to fixtures/."""
    return json.loads((FIXTURES / "exiftool-oracle.json").read_text())


def ids(paths):
    return [p.name for p in paths]


def _has_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" in (text or "")


@pytest.fixture(autouse=True)
def no_traceback_for_user_errors(monkeypatch):
    """A guard over every command-line run of the suite through click's runner: an error is one line
    on stderr, never a traceback (unless the test asked for one with --debug)."""
    from click.testing import CliRunner

    real = CliRunner.invoke

    def invoke(self, cli, args=None, *rest, **options):
        result = real(self, cli, args, *rest, **options)
        if "--debug" not in [str(a) for a in args or []]:
            for text in (result.stdout, getattr(result, "stderr", "")):
                assert not _has_traceback(text), f"provenance {args} printed a traceback:\n{text}"
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise AssertionError(f"provenance {args} raised {result.exception!r}") from result.exception
        return result

    monkeypatch.setattr(CliRunner, "invoke", invoke)


def run_cli(*args, cwd=None, env=None, input=None, timeout=600, user=None):
    """``python -m provenance ARGS`` in a real process; fails the test on a traceback (without --debug)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "provenance", *map(str, args)],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        user=user,
    )
    if "--debug" not in map(str, args):
        assert not _has_traceback(done.stderr), f"provenance {args} printed a traceback:\n{done.stderr}"
    return done
