"""JUnit XML of a check report: one test case per file, so CI systems show the findings natively.

A violation is a ``<failure>``; a file that could not be read, when the policy does not fail on
that, is an ``<error>`` (the test could not run); an ignored file is ``<skipped>``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import IO, Any

# characters XML 1.0 cannot carry at all (C0 controls but tab/newline/return, surrogates, U+FFFE/F)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str:
    """Untrusted text made XML-safe: characters XML cannot carry are shown as escapes, not dropped."""
    return _NOT_XML.sub(lambda m: repr(m.group())[1:-1], "" if value is None else str(value))


def write_junit(report: dict[str, Any], stream: IO[str]) -> None:
    """A check report (``CheckReport.to_dict()``) as JUnit XML."""
    findings: dict[str, list[dict[str, Any]]] = {}
    for finding in report["findings"]:
        findings.setdefault(finding["path"], []).append(finding)
    suite = ET.Element("testsuite", name="provenance check")
    failures = errors = skipped = 0
    for result in report["results"]:
        path = result["query"].get("path") or ""
        case = ET.SubElement(suite, "testcase", classname="provenance.check", name=_text(path))
        evidence = result["evidence"] + (result["matches"][0]["evidence"] if result["matches"] else [])
        violated = [f for f in findings.get(path, []) if f["violation"]]
        for finding in violated:
            failure = ET.SubElement(
                case, "failure", type=finding["rule"], message=_text(f"{finding['rule']}: {finding['detail']}")
            )
            failure.text = _text("\n".join([f"{path}: {finding['rule']}: {finding['detail']}", *evidence]))
            failures += 1
        unread = [f for f in findings.get(path, []) if f["rule"] == "unreadable" and not f["violation"]]
        if unread and not violated:
            error = ET.SubElement(case, "error", type="unreadable", message=_text(unread[0]["detail"]))
            error.text = _text(f"{path}: unreadable: {unread[0]['detail']}")
            errors += 1
        notes = [f"{f['rule']}: {f['detail']}" for f in findings.get(path, []) if not f["violation"]]
        lines = [f"verdict: {result['verdict']} (confidence {result['confidence']:.2f})", *notes, *evidence]
        ET.SubElement(case, "system-out").text = _text("\n".join(lines))
    for path in report.get("ignored") or []:
        case = ET.SubElement(suite, "testcase", classname="provenance.check", name=_text(path))
        ET.SubElement(case, "skipped", message="ignored by the policy")
        skipped += 1
    checked = {r["query"].get("path") or "" for r in report["results"]}
    for finding in report["findings"]:  # folders that could not be listed have no result of their own
        if finding["path"] not in checked:
            case = ET.SubElement(suite, "testcase", classname="provenance.check", name=_text(finding["path"]))
            kind = "failure" if finding["violation"] else "error"
            ET.SubElement(case, kind, type=finding["rule"], message=_text(finding["detail"]))
            failures += kind == "failure"
            errors += kind == "error"
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    if report.get("run", {}).get("started"):
        suite.set("timestamp", report["run"]["started"])
    root = ET.Element(
        "testsuites", name="provenance", tests=str(len(suite)), failures=str(failures), errors=str(errors)
    )
    root.append(suite)
    ET.indent(root)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(root, encoding="unicode"))
    stream.write("\n")
