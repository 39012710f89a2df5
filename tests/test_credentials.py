"""Content Credentials: the record's ``forensics.c2pa`` block against c2pa-python's own reading of its
test files (fixtures/c2pa, from c2pa-python's test fixtures), offline, with and without trust anchors,
and on manifests broken on purpose."""

from __future__ import annotations

import hashlib
import io
import json
import sys

import pytest

from provenance import Index, fingerprint
from provenance.credentials import UNTRUSTED, read_credentials

from conftest import FIXTURES, corpus_path, run_cli

C2PA = FIXTURES / "c2pa"
ANCHORS = (C2PA / "test-trust-anchors.pem").read_text()
OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}


def c2pa_reading(path, anchors: str = "") -> tuple[str, list[str]]:
    """c2pa-python's own state and validation codes for a file (the oracle)."""
    import c2pa

    settings = dict(OFFLINE, **({"trust": {"trust_anchors": anchors}} if anchors else {}))
    with (
        open(path, "rb") as stream,
        c2pa.Reader("image/jpeg", stream, context=c2pa.Context(c2pa.Settings.from_dict(settings))) as reader,
    ):
        store = json.loads(reader.json())
        return reader.get_validation_state().lower(), [s["code"] for s in store.get("validation_status") or []]


def block(path, anchors: str = "") -> dict:
    return fingerprint(str(path), c2pa_trust=anchors).to_dict()["forensics"]["c2pa"]


@pytest.mark.parametrize("name", ["C.jpg", "CA.jpg", "XCA.jpg"])
@pytest.mark.parametrize("anchors", ["", ANCHORS], ids=["no-anchors", "test-anchors"])
def test_the_state_and_failures_are_c2pa_pythons(name, anchors):
    state, codes = c2pa_reading(C2PA / name, anchors)
    got = block(C2PA / name, anchors)
    assert got["state"] == state
    expected = [c for c in codes if c != UNTRUSTED or anchors]
    assert [f["code"] for f in got["failures"]] == expected
    assert all(f["explanation"] for f in got["failures"])


def test_without_trust_anchors_a_good_manifest_is_valid_never_trusted_and_not_a_failure():
    got = block(C2PA / "C.jpg")
    assert got["state"] == "valid"
    assert got["failures"] == []  # signingCredential.untrusted means "not checked" here
    assert got["trust"]["anchors"] == 0 and "not checked" in got["trust"]["note"]
    with_anchors = block(C2PA / "C.jpg", ANCHORS)
    assert with_anchors["state"] == "trusted"
    assert with_anchors["trust"]["anchors"] == ANCHORS.count("BEGIN CERTIFICATE")


def test_anchors_that_did_not_issue_the_signer_leave_it_valid_with_the_untrusted_code():
    first = ANCHORS.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    state, codes = c2pa_reading(C2PA / "C.jpg", first)
    got = block(C2PA / "C.jpg", first)
    assert got["state"] == state
    if state == "valid":  # the first test root is not the signer's: c2pa-python says untrusted
        assert UNTRUSTED in [f["code"] for f in got["failures"]]


def test_the_manifest_says_who_signed_what_was_done_and_from_what():
    got = block(C2PA / "CA.jpg")
    import c2pa

    with open(C2PA / "CA.jpg", "rb") as stream, c2pa.Reader("image/jpeg", stream) as reader:
        manifest = json.loads(reader.json())
    active = manifest["manifests"][manifest["active_manifest"]]
    assert got["signer"]["issuer"] == active["signature_info"]["issuer"]
    assert got["signer"]["common_name"] == active["signature_info"]["common_name"]
    assert got["signing_time"] == active["signature_info"]["time"]
    assert got["claim_generator"] == active["claim_generator"]
    assert [a["action"] for a in got["actions"]] == ["c2pa.opened", "c2pa.color_adjustments"]
    assert [i["title"] for i in got["ingredients"]] == ["A.jpg"]
    cited = active["assertions"][1]["data"]["actions"][0]["parameters"]["ingredient"]["hash"]
    assert got["ingredients"][0]["hash"] == cited and got["ingredients"][0]["relationship"] == "parentOf"


def test_changed_pixels_are_c2pa_invalid_with_the_failing_hash():
    record = fingerprint(str(C2PA / "XCA.jpg")).to_dict()
    found = {f["code"]: f for f in record["forensics"]["findings"]}
    assert record["forensics"]["c2pa"]["state"] == "invalid"
    assert found["c2pa-invalid"]["severity"] == "warning"
    assert "assertion.dataHash.mismatch" in found["c2pa-invalid"]["message"]
    assert "c2pa-invalid" not in {f["code"] for f in fingerprint(str(C2PA / "CA.jpg")).forensics["findings"]}


def test_a_remote_manifest_is_unreadable_and_not_fetched():
    got = block(C2PA / "cloud.jpg")
    assert got["state"] == "unreadable"
    assert "https://cai-manifests.adobe.com/" in got["reason"] and "does not fetch" in got["reason"]
    assert "no remote manifest fetched" in got["offline"]


def test_a_file_without_c2pa_bytes_is_absent_without_loading_c2pa(monkeypatch):
    monkeypatch.setitem(sys.modules, "c2pa", None)  # an import would raise
    data = (FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg").read_bytes()
    assert read_credentials(data, "JPEG") == {"state": "absent", "reason": None}


def test_without_c2pa_python_a_manifest_is_unreadable_and_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "c2pa", None)
    got = read_credentials((C2PA / "C.jpg").read_bytes(), "JPEG")
    assert got["state"] == "unreadable" and "pip install" in got["reason"]


def _app11_span(data: bytes) -> tuple[int, int]:
    """Where the first APP11 (JUMBF) segment's payload is."""
    at = data.index(b"\xff\xeb")
    length = int.from_bytes(data[at + 2 : at + 4], "big")
    return at + 4, at + 2 + length


def oracle_state(data: bytes) -> str | None:
    """c2pa-python's state for in-memory bytes; None when it refuses to read them."""
    import c2pa

    try:
        with c2pa.Reader(
            "image/jpeg", io.BytesIO(data), context=c2pa.Context(c2pa.Settings.from_dict(OFFLINE))
        ) as reader:
            return reader.get_validation_state().lower()
    except Exception:
        return None


@pytest.mark.parametrize("damage", ["garbage", "zeros", "box-length", "cut-file"])
def test_a_broken_manifest_is_a_state_and_a_finding_never_a_crash(damage):
    data = bytearray((C2PA / "CA.jpg").read_bytes())
    start, end = _app11_span(bytes(data))
    if damage == "garbage":
        data[start + 40 : end] = bytes((i * 131 + 7) % 256 for i in range(end - start - 40))
    elif damage == "zeros":
        data[start + 8 : start + 200] = bytes(192)
    elif damage == "box-length":
        data[start + 48 : start + 52] = (0xFFFFFF00).to_bytes(4, "big")  # an inner box longer than the segment
    else:
        data = data[: start + (end - start) // 2]
    record = fingerprint(bytes(data), name="broken.jpg").to_dict()
    got = record["forensics"]["c2pa"]
    expected = oracle_state(bytes(data))
    assert got["state"] == (expected or "unreadable")
    assert got["state"] != "valid" or damage == "box-length"  # c2pa-python may not read that length
    codes = {f["code"] for f in record["forensics"]["findings"]}
    if got["state"] == "unreadable":
        assert got["reason"] and "c2pa-unreadable" in codes
    if got["state"] == "invalid":
        assert "c2pa-invalid" in codes


def test_records_with_credentials_follow_the_schema(schema_validator):
    for path in sorted(C2PA.glob("*.jpg")):
        for anchors in ("", ANCHORS):
            schema_validator.validate(fingerprint(str(path), c2pa_trust=anchors).to_dict())


def test_a_trust_file_without_certificates_is_refused_before_any_work(tmp_path):
    bad = tmp_path / "anchors.pem"
    bad.write_text("not a certificate\n")
    out = tmp_path / "records.jsonl"
    result = run_cli("fingerprint", str(C2PA / "C.jpg"), "--c2pa-trust", str(bad), "-o", str(out))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "no PEM certificates" in errors[0] and "anchors.pem" in errors[0]
    assert not out.exists()


def test_fingerprint_with_trust_anchors_records_trusted(tmp_path):
    out = tmp_path / "records.jsonl"
    result = run_cli(
        "fingerprint", str(C2PA / "C.jpg"), "--c2pa-trust", str(C2PA / "test-trust-anchors.pem"), "-o", str(out)
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text().splitlines()[0])
    assert record["forensics"]["c2pa"]["state"] == "trusted"


@pytest.mark.corpus
def test_the_corpus_files_read_as_its_source_says():
    """corpus/c2pa/SOURCE.md: what c2pa-python reads from each file, offline."""
    folder = corpus_path("c2pa")
    assert block(folder / "A.jpg")["state"] == "absent"
    signature = block(folder / "E-sig-CA.jpg")
    assert signature["state"] == "invalid"
    assert "claimSignature.mismatch" in [f["code"] for f in signature["failures"]]
    prerelease = block(folder / "prerelease.jpg")
    assert prerelease["state"] == "unreadable" and "pre-release" in prerelease["reason"]


def test_a_manifest_in_memory_and_on_disk_read_the_same(tmp_path):
    data = (C2PA / "CA.jpg").read_bytes()
    from_path = read_credentials(str(C2PA / "CA.jpg"), "JPEG")
    assert read_credentials(data, "JPEG") == from_path
    other = read_credentials(data, "BMP")  # a format c2pa-python does not read, with C2PA bytes in it
    assert other["state"] == "unreadable" and "does not read BMP" in other["reason"]


def test_an_index_keeps_the_state_its_run_read_with_the_anchors_digest(tmp_path):
    db = tmp_path / "c2pa.db"
    anchors = C2PA / "test-trust-anchors.pem"
    result = run_cli("index", str(C2PA), "--db", str(db), "-j", "1", "-q", "--c2pa-trust", str(anchors))
    assert result.returncode == 0, result.stderr
    with Index(db, create=False, writable=False) as index:
        states = {r.path.rsplit("/", 1)[-1]: r.forensics["c2pa"] for r in index.records() if r.forensics}
    assert states["C.jpg"]["state"] == "trusted" and states["XCA.jpg"]["state"] == "invalid"
    assert states["C.jpg"]["trust"]["sha256"] == hashlib.sha256(anchors.read_bytes()).hexdigest()
