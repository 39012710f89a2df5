"""The documentation's examples are run, so the docs cannot drift from the tool.

For every page (README.md and docs/*.md), in a scratch folder holding a copy of fixtures/:

- ``$ command`` lines (console sessions) are run with bash, in order, each page in one folder
  (so a page's ``index`` feeds its ``lookup``). The output shown below a command must match
  what it prints (stdout and stderr together), where ``...`` stands for any text and a line of
  only ``...`` for any lines; absolute paths into the scratch folder are shown relative. A
  command must exit 0, unless the next line is ``$ echo $?``, whose output is then its status.
- every other ``provenance ...`` line in a shell, console or YAML block (usage sketches with
  placeholders such as ``LEAK_DIR``) must name a real command and only options it has.
- every Python block runs (in the same folder, after the page's sessions).
- every TOML block parses, and every one that is not a ``pyproject.toml`` excerpt is a policy that
  ``load_policy`` accepts.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import click
import pytest

from provenance.cli import main
from provenance.policy import load_policy

from conftest import FIXTURES, ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^(`{3,})(\S*)\s*$")


def blocks(page: Path) -> list[tuple[str, list[str], int]]:
    """(language, lines, first line number) of every fenced block of a page."""
    found, current, fence, language, start = [], None, "", "", 0
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if current is None:
            opened = _FENCE.match(line)
            if opened:
                current, fence, language, start = [], opened.group(1), opened.group(2), number + 1
        elif line.strip() == fence:
            found.append((language, current, start))
            current = None
        else:
            current.append(line)
    return found


def sessions(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(command, the output shown for it) of every ``$ `` line of a block."""
    out: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return out


def shown_matches(shown: list[str], actual: str) -> bool:
    """Whether ``actual`` output fits the output the docs show (``...`` as a wildcard)."""
    pattern = ""
    for line in shown:
        if line.strip() == "...":
            pattern += r"(?:[^\n]*\n)*?"
        else:
            pattern += r"[^\n]*".join(re.escape(part) for part in line.rstrip().split("...")) + r"[ \t]*\n"
    text = "".join(line.rstrip() + "\n" for line in actual.splitlines())
    return re.fullmatch(pattern, text) is not None


def known_options(command: click.Command) -> set[str]:
    names = {"-h", "--help"}
    for param in command.params:
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


def check_sketch(line: str, where: str) -> None:
    """A ``provenance ...`` line names a real command and only its options."""
    text = line.split(" #", 1)[0].strip()
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    words = words[: next((i for i, w in enumerate(words) if w in ("|", ";", "&&", ">", "2>")), len(words))]
    assert words[0] == "provenance", where
    if len(words) == 1 or words[1] in ("-V", "--version", "-h", "--help"):
        return
    assert words[1] in main.commands, f"{where}: no command {words[1]!r}"
    options = known_options(main.commands[words[1]])
    for word in words[2:]:
        if word.startswith("-") and word != "-":
            name = word.split("=", 1)[0]
            assert name in options, f"{where}: provenance {words[1]} has no option {name}"


def _sketch_lines(language: str, lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        text = line.strip()
        if language in ("yaml", "yml"):
            text = re.sub(r"^(-\s+)?(run:\s*\|?)?\s*", "", text)
        if text.startswith("provenance "):
            out.append(text)
    return out


@pytest.fixture()
def scratch():
    """A folder holding a copy of fixtures/, named with no character Markdown escapes (paths shown relative)."""
    folder = Path(tempfile.gettempdir()) / f"provenance-docs-{uuid.uuid4().hex}"
    shutil.copytree(FIXTURES, folder / "fixtures")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_the_examples_of_a_page_run_as_shown(page, scratch, tmp_path):
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "100",
    }
    env.pop("PROVENANCE_DB", None)
    found_any = False
    python_blocks = []
    for language, lines, start in blocks(page):
        where = f"{page.name}:{start}"
        steps = sessions(lines)
        if steps:
            found_any = True
            status = 0
            for n, (command, shown) in enumerate(steps):
                if command.strip() == "echo $?":
                    output = f"{status}\n"
                else:
                    done = subprocess.run(
                        ["bash", "-c", command],
                        cwd=scratch,
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                        timeout=600,
                    )
                    output, status = done.stdout, done.returncode
                    following = steps[n + 1][0].strip() if n + 1 < len(steps) else ""
                    assert status == 0 or following == "echo $?", f"{where}: `{command}` exited {status}:\n{output}"
                    if command.lstrip().startswith("provenance "):
                        check_sketch(command.strip(), where)
                output = output.replace(f"{scratch}/", "").replace(str(scratch), ".")
                assert shown_matches(shown, output), (
                    f"{where}: `{command}` printed:\n{output}\nthe page shows:\n" + "\n".join(shown)
                )
        elif language in ("sh", "console", "yaml", "yml", ""):
            for line in _sketch_lines(language, lines):
                found_any = True
                check_sketch(line, where)
        elif language == "python":
            python_blocks.append(("\n".join(lines), where))
        elif language == "toml":
            document = tomllib.loads("\n".join(lines))  # every TOML block parses
            if "project" not in document:  # and one that is not a pyproject.toml is a policy
                policy = tmp_path / "policy.toml"
                policy.write_text("\n".join(lines) + "\n")
                load_policy(str(policy))
    for code, where in python_blocks:
        found_any = True
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=scratch, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{where}: the Python example failed:\n{done.stderr}"
    if page.name in ("README.md", "usage.md", "index-db.md", "matching.md", "dedup.md", "ci.md", "reports.md"):
        assert found_any, f"{page.name} shows no example"


def test_the_wildcard_rules():
    assert shown_matches(["a ... c"], "a b c\n")
    assert shown_matches(["a", "...", "d"], "a\nb\nc\nd\n")
    assert shown_matches(["a", "...", "d"], "a\nd\n")
    assert not shown_matches(["a", "d"], "a\nb\nd\n")
    assert not shown_matches(["a ... c"], "a b\nc\n")
