"""What a command imports before it has work: start-up time is mostly imports (docs/limits.md).

Each check runs in a fresh interpreter and reads ``sys.modules`` afterwards, so a module-level import
added anywhere on the way shows up here, whatever the machine's speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import FIXTURES

#: libraries no command needs before it has a file, a query or a page to work on
HEAVY = ("numpy", "PIL", "cv2", "faiss", "numba", "jinja2", "scipy", "pillow_heif", "imagehash", "exifread", "pdqhash")


def _loaded_after(code: str) -> list[str]:
    """The HEAVY top-level modules loaded once ``code`` has run in a new interpreter."""
    script = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({list(HEAVY)!r}))))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cli(*args: str) -> str:
    return textwrap.dedent(
        f"""
        from provenance.cli import main
        try:
            main({list(args)!r}, standalone_mode=False)
        except SystemExit:
            pass
        """
    )


@pytest.mark.parametrize(
    "args",
    [
        ("--version",),
        ("--help",),
        ("fingerprint", "--help"),
        ("match", "--help"),
        ("dedup", "--help"),
        ("check", "--help"),
    ],
    ids=" ".join,
)
def test_parsing_options_loads_no_heavy_library(args):
    assert _loaded_after(_cli(*args)) == []


def test_fingerprinting_an_empty_folder_loads_no_heavy_library(tmp_path):
    assert _loaded_after(_cli("fingerprint", str(tmp_path), "--quiet")) == []


def test_the_package_and_its_options_load_no_heavy_library():
    code = """
        import provenance
        from provenance.dedup import DedupOptions
        from provenance.fingerprint import Fingerprint, FingerprintOptions
        from provenance.matching import MatchOptions
        from provenance.report import report_formats
        report_formats()
        MatchOptions()
    """
    assert _loaded_after(code) == []


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("0adc4258c90cff58c2909ce560d637fe.jpg", "hashes['phash']"),
        # a camera JPEG with an EXIF thumbnail, whose pHash is compared with the image's
        ("35b833f721ed391380a8ddf159852b50.jpg", "thumbnail['phash']"),
    ],
)
def test_a_jpeg_is_fingerprinted_without_scipy_or_the_heif_plugin(name, check):
    """pHash is computed without SciPy (imagehash_fast), the thumbnail's too (SciPy's import is 0.2 s of
    a worker's start); the HEIF plugin loads for ISO media files only."""
    jpeg = FIXTURES / "leak" / name
    loaded = _loaded_after(f"from provenance import fingerprint\nassert fingerprint({str(jpeg)!r}).{check}\n")
    assert "scipy" not in loaded and "pillow_heif" not in loaded
    assert {"PIL", "numpy", "exifread"} <= set(loaded)  # the check sees real imports


def test_a_heic_file_loads_the_heif_plugin():
    heic = FIXTURES / "leak" / "d5eb6cac1c9f68073dbecc01d154a7ee.heic"
    code = f"from provenance import fingerprint\nassert fingerprint({str(heic)!r}).format == 'HEIF'\n"
    assert "pillow_heif" in _loaded_after(code)
