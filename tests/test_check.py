"""``provenance check``: policy files, findings on a drop we build, exit codes, JUnit XML, --update-index."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from click.testing import CliRunner
from junitparser import Error, Failure, JUnitXml, Skipped

from provenance import Index
from provenance.check import check
from provenance.cli import main
from provenance.policy import DEFAULT_FAIL_ON, RULES, PolicyError, load_policy

from conftest import FIXTURES, MISNAMED, report_validator

CANTEEN = FIXTURES / "article" / "canteen-lunch-960x640-1.jpg"
RALLY = FIXTURES / "article" / "rally-car-in-the-snow-960x640-1.jpg"
OFFICIALS = FIXTURES / "article" / "officials-tour-facility-960x640-1.jpg"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "leak.db"
    with Index(path) as index:
        index.add([str(FIXTURES / "leak")], jobs=1)
    return path


def make_drop(folder, *, broken=True):
    """A drop whose every finding we know: a misnamed file, copies, one unknown picture, a broken file."""
    folder.mkdir()
    shutil.copy(MISNAMED, folder / MISNAMED.name)  # its name is not its MD5
    shutil.copy(CANTEEN, folder / "canteen.jpg")  # a near-duplicate of a leak photo
    shutil.copy(CANTEEN, folder / "canteen-again.jpg")  # and a copy of that within the drop
    shutil.copy(RALLY, folder / "rally.jpg")  # in no reference
    (folder / "notes.txt").write_text("ignored by the policy")
    if broken:
        (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    return folder


def test_policy_defaults_and_file(tmp_path):
    assert load_policy().fail_on == list(DEFAULT_FAIL_ON)
    policy_file = tmp_path / "provenance.toml"
    policy_file.write_text(
        'fail_on = ["unknown", "unreadable"]\nignore = ["*.txt"]\n'
        "[thresholds]\nmin_confidence = 0.9\nthumbnail_phash_distance = 20\n"
    )
    policy = load_policy(str(policy_file))
    assert policy.fail_on == ["unknown", "unreadable"] and policy.ignore == ["*.txt"]
    assert policy.min_confidence == 0.9 and policy.thumbnail_phash_distance == 20
    assert load_policy(str(policy_file), fail_on=["duplicate-in-drop"]).fail_on == ["duplicate-in-drop"]


@pytest.mark.parametrize(
    "text, message",
    [
        ('fail_on = ["no-such-rule"]', "unknown rule"),
        ('fail_on = "unknown"', "list of strings"),
        ("speed = 3", "unknown setting"),
        ("[thresholds]\nmin_confidence = 2.0", "between 0 and 1"),
        ("[match]\nmax_candidates = true", "must be a whole number"),
        ("[match]\nmax_candidates = 0", "between 1 and 100"),
        ("[thresholds]\nmax_candidates = 8", r"has moved: write it in the \[match\] table"),
        ("dedup_pdq_distance = 30", r"has moved: write it in the \[dedup\] table as pdq_distance"),
        ("[match]\nspeed = 3", r"unknown setting 'speed'"),
        ("fail_on = [", "not valid TOML"),
    ],
)
def test_bad_policies_are_refused_with_the_reason(tmp_path, text, message):
    policy_file = tmp_path / "p.toml"
    policy_file.write_text(text)
    with pytest.raises(PolicyError, match=message):
        load_policy(str(policy_file))


def test_findings_on_a_drop_we_built(tmp_path, db):
    drop = make_drop(tmp_path / "drop")
    with Index(db) as index:
        report = check(
            [str(drop)],
            index,
            load_policy(fail_on=list(RULES)).__class__(fail_on=list(RULES), ignore=["*.txt"]),
            jobs=1,
        )
    found = {(f.path.rsplit("/", 1)[-1], f.rule) for f in report.findings}
    assert (MISNAMED.name, "name-digest-mismatch") in found
    assert (MISNAMED.name, "duplicate-of-reference") in found
    assert ("canteen.jpg", "duplicate-of-reference") in found
    assert ("rally.jpg", "unknown") in found
    assert ("broken.jpg", "unreadable") in found
    in_drop = [name for name, rule in found if rule == "duplicate-in-drop"]
    assert len(in_drop) == 1 and in_drop[0] in ("canteen.jpg", "canteen-again.jpg")
    assert not [name for name, rule in found if name == "rally.jpg" and rule != "unknown"]
    assert [p.rsplit("/", 1)[-1] for p in report.ignored] == ["notes.txt"]
    data = report.to_dict()
    report_validator("check").validate(json.loads(json.dumps(data)))
    assert data["summary"]["violations"] == len(report.findings) and report.exit_status == 1
    inputs = {i["path"].rsplit("/", 1)[-1]: i["sha256"] for i in data["run"]["inputs"]}
    assert inputs["rally.jpg"] == hashlib.sha256(RALLY.read_bytes()).hexdigest()


def test_exit_status_follows_the_policy(tmp_path, db):
    drop = make_drop(tmp_path / "drop")
    # default policy: the misnamed file fails the run
    result = run("check", drop, "--against", db, "-j", "1", "-q", "-o", tmp_path / "r.json")
    assert result.exit_code == 1
    assert f"{drop / MISNAMED.name}: name-digest-mismatch: named by MD5" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1  # one line per violation, nothing else with --quiet
    # a policy the drop satisfies, with an unreadable file outside the policy: 3
    result = run("check", drop, "--against", db, "-j", "1", "-q", "--fail-on", "thumbnail-mismatch")
    assert result.exit_code == 3, result.stderr
    # ... and 0 once the broken file is gone
    (drop / "broken.jpg").unlink()
    assert run("check", drop, "--against", db, "-j", "1", "-q", "--fail-on", "thumbnail-mismatch").exit_code == 0
    # unreadable in the policy is a violation (1), not 3
    (drop / "broken.jpg").write_bytes(b"garbage")
    assert run("check", drop, "--against", db, "-j", "1", "-q", "--fail-on", "unreadable").exit_code == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--fail-on", "nonsense"],
        ["--policy", "missing.toml"],
        ["-o", "r.txt"],
        ["--junit", "-"],
        ["-o", "-", "-o", "-"],
    ],
)
def test_configuration_errors_exit_2(tmp_path, db, args):
    drop = make_drop(tmp_path / "drop")
    result = run("check", drop, "--against", db, "-q", *args)
    assert result.exit_code == 2, result.stderr


def test_missing_index_is_a_usage_error_unless_updating(tmp_path):
    drop = make_drop(tmp_path / "drop", broken=False)
    result = run("check", drop, "--against", tmp_path / "none.db", "-q")
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_junit_has_a_case_per_file_and_a_failure_per_violation(tmp_path, db):
    drop = make_drop(tmp_path / "drop")
    policy = tmp_path / "provenance.toml"
    policy.write_text('fail_on = ["name-digest-mismatch", "unknown"]\nignore = ["*.txt"]\n')
    result = run(
        "check", drop, "--against", db, "--policy", policy, "--junit", tmp_path / "results.xml", "-j", "1", "-q"
    )
    assert result.exit_code == 1
    xml = JUnitXml.fromfile(str(tmp_path / "results.xml"))
    cases = {case.name.rsplit("/", 1)[-1]: case for suite in xml for case in suite}
    assert set(cases) == {MISNAMED.name, "canteen.jpg", "canteen-again.jpg", "rally.jpg", "broken.jpg", "notes.txt"}

    def outcome(name):
        return {type(r) for r in cases[name].result}

    assert outcome(MISNAMED.name) == {Failure} and outcome("rally.jpg") == {Failure}
    assert outcome("broken.jpg") == {Error}  # unreadable, not in the policy: the test could not run
    assert outcome("notes.txt") == {Skipped}
    assert outcome("canteen.jpg") == set()
    assert "name-digest-mismatch" in cases[MISNAMED.name].result[0].message


def test_junit_survives_hostile_names(tmp_path, db):
    drop = tmp_path / "drop"
    drop.mkdir()
    name = 'a"<b>&\x1b[31m\x07.jpg'
    shutil.copy(RALLY, drop / name)
    result = run("check", drop, "--against", db, "--fail-on", "unknown", "--junit", tmp_path / "r.xml", "-q", "-j", "1")
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\\x1b" in result.stderr
    xml = JUnitXml.fromfile(str(tmp_path / "r.xml"))
    (case,) = [c for s in xml for c in s]
    assert case.name.endswith('a"<b>&\\x1b[31m\\x07.jpg')


def test_update_index_adds_the_drop_only_when_the_policy_holds(tmp_path, db):
    drop = make_drop(tmp_path / "drop", broken=False)
    with Index(db) as index:
        before = len(index)
    result = run("check", drop, "--against", db, "--update-index", "-j", "1", "-q")
    assert result.exit_code == 1  # the misnamed file
    with Index(db) as index:
        assert len(index) == before
    result = run("check", drop, "--against", db, "--update-index", "--fail-on", "unknown", "-j", "1")
    assert result.exit_code == 1
    (drop / "rally.jpg").unlink()
    (drop / "notes.txt").unlink()  # a document no reference has is unknown too
    result = run("check", drop, "--against", db, "--update-index", "--fail-on", "unknown", "-j", "1")
    assert result.exit_code == 0, result.stderr
    with Index(db) as index:
        assert len(index) == before + 3
        assert index.lookup(hashlib.md5(CANTEEN.read_bytes()).hexdigest())
    # a rerun knows those files: they are neither unknown nor duplicates of themselves
    again = run("check", drop, "--against", db, "--fail-on", "unknown", "-j", "1", "-q", "-o", tmp_path / "r.json")
    assert again.exit_code == 0


def test_update_index_is_one_transaction(tmp_path, db, monkeypatch):
    drop = make_drop(tmp_path / "drop", broken=False)
    with Index(db) as index:
        before = len(index)
        calls = []
        real_put = index.store.put

        def failing_put(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise OSError("disk full")
            return real_put(*args, **kwargs)

        monkeypatch.setattr(index.store, "put", failing_put)
        with pytest.raises(OSError):
            check([str(drop)], index, load_policy(fail_on=[]), jobs=1, update_index=True)
    with Index(db) as index:
        assert len(index) == before and index.store.integrity_check() == "ok"


def test_check_report_formats(tmp_path, db):
    from bs4 import BeautifulSoup

    drop = make_drop(tmp_path / "drop")
    result = run(
        "check",
        drop,
        "--against",
        db,
        "-j",
        "1",
        "-q",
        "-o",
        tmp_path / "r.html",
        "-o",
        tmp_path / "r.md",
        "-o",
        tmp_path / "r.csv",
        "-o",
        tmp_path / "r.json",
    )
    assert result.exit_code == 1
    soup = BeautifulSoup((tmp_path / "r.html").read_text(), "html.parser")
    assert "name-digest-mismatch" in soup.select_one(".panel").get_text()
    assert soup.select(".badge.violation")
    assert (tmp_path / "r.md").read_text().startswith("# Check: the policy is violated")
    rerendered = run("report", tmp_path / "r.json", "-f", "md")
    assert rerendered.stdout == (tmp_path / "r.md").read_text()


def test_check_takes_saved_pages_and_manifests(tmp_path, db):
    drop = make_drop(tmp_path / "drop", broken=False)
    (drop / "captions.csv").write_text(f"path,caption\n{MISNAMED.name},A caption from the desk\nrally.jpg,\n")
    (drop / "article.html").write_text(
        '<figure><img src="canteen.jpg"><figcaption>Canteen, from the page</figcaption></figure>'
    )
    out = tmp_path / "r.json"
    result = run(
        "check",
        "--manifest",
        drop / "captions.csv",
        "--html",
        drop / "article.html",
        "--against",
        db,
        "--fail-on",
        "name-digest-mismatch,unknown",
        "-j",
        "1",
        "-q",
        "-o",
        out,
    )
    assert result.exit_code == 1
    report = json.loads(out.read_text())
    queries = {r["query"]["path"].rsplit("/", 1)[-1]: r["query"] for r in report["results"]}
    assert set(queries) == {"canteen.jpg", MISNAMED.name, "rally.jpg"}
    assert queries["canteen.jpg"]["caption_source"] == "html:figcaption"
    assert queries[MISNAMED.name]["caption"] == "A caption from the desk"
    violated = {(v["path"].rsplit("/", 1)[-1], v["rule"]) for v in report["violations"]}
    assert violated == {(MISNAMED.name, "name-digest-mismatch"), ("rally.jpg", "unknown")}
    roles = {i["role"] for i in report["run"]["inputs"]}
    assert roles == {"file", "page", "manifest"}
    report_validator("check").validate(report)


def test_forensics_rules_are_off_by_default_and_fail_the_run_when_named(tmp_path, db):
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(FIXTURES / "c2pa" / "XCA.jpg", drop / "XCA.jpg")  # pixels changed after signing
    padded = (FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg").read_bytes() + b"PK\x03\x04" + bytes(60)
    (drop / "padded.jpg").write_bytes(padded)
    forensics = ["c2pa-invalid", "appended-data", "resaved-by-software", "software-tag", "timestamp-inconsistent"]
    assert not set(forensics) & set(DEFAULT_FAIL_ON)
    assert run("check", drop, "--against", db, "-j", "1", "-q", "-o", tmp_path / "r.json").exit_code == 0
    result = run("check", drop, "--against", db, "-j", "1", "-q", "--fail-on", ",".join(forensics))
    assert result.exit_code == 1, result.stderr
    violations = sorted(line.split(": ", 2)[1] for line in result.stderr.splitlines() if line)
    assert violations == ["appended-data", "c2pa-invalid"]
    assert f"{drop / 'XCA.jpg'}: c2pa-invalid: the Content Credentials do not validate" in result.stderr
