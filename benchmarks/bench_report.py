"""The HTML report at scale: file size, time to write and time for Chromium to load it, by query count.

    python benchmarks/bench_report.py [--sizes 100 500 2000]

Load time is Chromium's start, load, script and first paint (a screenshot); it includes a
fixed start-up cost, so its ratio per card falls as the report grows. A real match report of
the article fixtures against the leak fixtures is repeated to each size; every card gets its
own query and reference path (hard links, so each thumbnail is really made). Figures are printed
as ratios per card to the smallest size in the same run:
a ratio near 1 means the report grows linearly.
"""

from __future__ import annotations

import argparse
import copy
import io
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from provenance import Index, MatchOptions, match
from provenance.captions import from_name
from provenance.report import write_report

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("PROVENANCE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def base_report(scratch: Path) -> dict:
    with Index(scratch / "leak.db") as index:
        index.add([str(ROOT / "fixtures" / "leak")], jobs=1)
        queries = [from_name(str(p)) for p in sorted((ROOT / "fixtures" / "article").iterdir())]
        return match(queries, index, MatchOptions()).to_dict()


def scaled(report: dict, size: int, scratch: Path) -> dict:
    """``report`` with ``size`` results, each pointing at files of its own (hard links)."""
    folder = scratch / f"files-{size}"
    folder.mkdir()
    results = []
    for n in range(size):
        result = copy.deepcopy(report["results"][n % len(report["results"])])
        for holder in [result["query"]] + [m["reference"] for m in result["matches"]]:
            source = holder["path"]
            link = folder / f"{n}-{os.path.basename(source)}"
            if not link.exists():
                os.link(source, link)
            holder["path"] = str(link)
        results.append(result)
    return {**report, "results": results}


def load_seconds(page: Path, scratch: Path) -> float | None:
    """Seconds for headless Chromium to start, load the page, run its script and paint a screenshot."""
    if CHROMIUM is None:
        return None
    shot = scratch / f"{page.stem}.png"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1600",
        f"--screenshot={shot}",
        f"--user-data-dir={scratch / ('profile-' + page.stem)}",
    ]
    started = time.perf_counter()
    result = subprocess.run([CHROMIUM, *flags, page.as_uri()], capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    if not shot.exists():
        raise RuntimeError(f"Chromium made no screenshot: {result.stderr[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as folder:
        scratch = Path(folder)
        report = base_report(scratch)
        print(
            f"{'queries':>8} {'MB':>7} {'KB/card':>8} {'ratio':>6} {'write s':>8} {'ms/card':>8} {'ratio':>6} "
            f"{'load s':>7} {'ms/card':>8} {'ratio':>6}"
        )
        base: dict[str, float] = {}
        for size in args.sizes:
            data = scaled(report, size, scratch)
            stream = io.StringIO()
            started = time.perf_counter()
            write_report("match", "html", data, stream)
            write = time.perf_counter() - started
            page = scratch / f"report-{size}.html"
            page.write_text(stream.getvalue(), encoding="utf-8")
            per_card = {"kb": page.stat().st_size / 1024 / size, "write": write * 1000 / size}
            load = load_seconds(page, scratch)
            if load is not None:
                per_card["load"] = load * 1000 / size
            base = base or per_card
            load_text = (
                f"{load:7.2f} {per_card['load']:8.2f} {per_card['load'] / base['load']:6.2f}"
                if load is not None
                else f"{'(no Chromium)':>23}"
            )
            print(
                f"{size:8d} {page.stat().st_size / 1e6:7.1f} {per_card['kb']:8.1f} {per_card['kb'] / base['kb']:6.2f} "
                f"{write:8.2f} {per_card['write']:8.2f} {per_card['write'] / base['write']:6.2f} {load_text}"
            )


if __name__ == "__main__":
    main()
