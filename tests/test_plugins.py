"""A hash kind from another installed package flows through fingerprint, index, lookup, near search
and dedup with no change to provenance: the plugin in tests/plugins/rowmean, installed in a scratch
folder as an installer would (its package and a dist-info holding its entry points), and the
command line run in a real subprocess with that folder on its path (workers included)."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import report_validator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PLUGIN = Path(__file__).parent / "plugins" / "rowmean"


def install(target: Path, project_dir: Path) -> Path:
    """The package of ``project_dir`` copied into ``target`` with the dist-info an installer writes."""
    project = tomllib.loads((project_dir / "pyproject.toml").read_text())["project"]
    package = next(p for p in project_dir.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    shutil.copytree(package, target / package.name)
    info = target / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items()) + "\n"
            for group, entries in project["entry-points"].items()
        )
    )
    return target


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return install(tmp_path_factory.mktemp("site"), PLUGIN)


@pytest.fixture(scope="module")
def rowmean():
    """The plugin's own function, loaded from its source file: the oracle for what records hold."""
    spec = importlib.util.spec_from_file_location("rowmean_oracle", PLUGIN / "provenance_rowmean" / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.rowmean


def cli(site: Path, *args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "provenance", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> Path:
    """Two generated PNGs small enough that the hashes see them unreduced, and a re-saved copy of one."""
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(11)
    for name in ("first", "second"):
        noise = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
        Image.fromarray(noise).resize((320, 240), Image.Resampling.BICUBIC).save(folder / f"{name}.png")
    with Image.open(folder / "first.png") as im:
        im.point(lambda v: min(255, v + 3)).save(folder / "first-brighter.png")
    return folder


def records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def test_the_plugin_is_named_by_version(site):
    done = cli(site, "--version")
    assert done.returncode == 0 and "hash kinds from plugins: rowmean (64 bits)" in done.stdout


def test_records_carry_the_plugin_hash_from_workers_and_in_process(site, pictures, rowmean, schema_validator):
    for jobs in ("0", "2"):
        done = cli(site, "fingerprint", pictures, "-q", "-j", jobs)
        assert done.returncode == 0, done.stderr
        for record in records(done.stdout):
            with Image.open(record["path"]) as im:
                expected = f"{rowmean(im.convert('RGB')):016x}"
            assert record["hashes"]["rowmean"] == expected
            assert list(record["hashes"])[-1] == "rowmean"  # after the built-in kinds
            schema_validator.validate(record)
    table = list(csv.DictReader(io.StringIO(cli(site, "fingerprint", pictures, "-q", "-f", "csv").stdout)))
    assert all(len(row["rowmean"]) == 16 for row in table)


def test_index_lookup_by_hex_near_search_and_dedup(site, pictures, tmp_path, rowmean):
    db = tmp_path / "plugin.db"
    assert cli(site, "index", pictures, "--db", db, "-q").returncode == 0
    with Image.open(pictures / "second.png") as im:
        value = rowmean(im.convert("RGB"))
    [answer] = json.loads(cli(site, "lookup", f"{value:016x}", "--db", db, "--json").stdout)
    assert "rowmean" in answer["query_type"].split("/")
    assert [(h["field"], h["record"]["path"]) for h in answer["hits"]] == [("rowmean", str(pictures / "second.png"))]
    two_bits_off = value ^ 0b101
    [near] = json.loads(cli(site, "lookup", f"{two_bits_off:016x}", "--db", db, "--json").stdout)
    assert near["hits"] == []
    found = [(m["paths"], m["distances"].get("rowmean"), m["found_by"]) for m in near["near"]]
    assert ([str(pictures / "second.png")], 2, ["rowmean"]) in found
    report = json.loads(cli(site, "dedup", "--db", db, "-q").stdout)
    [cluster] = report["clusters"]
    copy = next(m for m in cluster["members"] if m["role"] == "copy")
    with Image.open(pictures / "first.png") as a, Image.open(pictures / "first-brighter.png") as b:
        expected = (rowmean(a.convert("RGB")) ^ rowmean(b.convert("RGB"))).bit_count()
    assert copy["distance"]["rowmean"] == expected
    report_validator("dedup").validate(report)


def test_a_plugin_that_cannot_load_costs_a_warning_not_the_run(tmp_path, pictures):
    broken = tmp_path / "broken"
    (broken / "provenance_broken").mkdir(parents=True)
    (broken / "provenance_broken" / "__init__.py").write_text("raise RuntimeError('the plugin is broken')\n")
    (broken / "pyproject.toml").write_text(
        '[project]\nname = "provenance-broken"\nversion = "1"\n'
        '[project.entry-points."provenance.hash_kinds"]\n'
        'broken = "provenance_broken:KIND"\n'
    )
    site = install(tmp_path / "site", broken)
    version = cli(site, "--version")
    assert version.returncode == 0 and "warning: hash kind plugin broken" in version.stdout
    done = cli(site, "fingerprint", pictures / "first.png", "-q")
    assert done.returncode == 0 and "rowmean" not in done.stdout and records(done.stdout)[0]["hashes"]["phash"]
