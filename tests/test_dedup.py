"""Deduplication: exact, metadata-only and near clusters; no chaining; look-alikes kept apart; the likely original."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from provenance import DedupOptions, dedup, fingerprint, fingerprint_many
from provenance.files import iter_files
from provenance.testing.files import strip_metadata as strip_jpeg_metadata

from conftest import FIXTURES, LEAK_FILES, corpus_path

CAMERA_PHOTO = FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg"


def jpeg(image: Image.Image, quality: int = 80) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def clusters_by_path(result) -> list[set[str]]:
    return [{m.path for m in c.members} for c in result.clusters]


def test_exact_metadata_only_and_near_copies_of_one_photo(tmp_path):
    original = CAMERA_PHOTO.read_bytes()
    (tmp_path / "original.jpg").write_bytes(original)
    (tmp_path / "same-bytes.jpg").write_bytes(original)
    (tmp_path / "exif-stripped.jpg").write_bytes(strip_jpeg_metadata(original))
    with Image.open(CAMERA_PHOTO) as im:
        (tmp_path / "resized-960.jpg").write_bytes(jpeg(im.resize((480, 360)), quality=70))
    result = dedup(fingerprint_many(iter_files([tmp_path]), jobs=0))

    [cluster] = result.clusters
    assert cluster.relation == "near-duplicate"
    original_member, *copies = cluster.members
    # the camera file with its EXIF wins over its byte-identical twin only by path order; both beat the copies
    assert original_member.path in {str(tmp_path / "original.jpg"), str(tmp_path / "same-bytes.jpg")}
    relations = {m.path.rsplit("/", 1)[1]: m.relation for m in copies}
    assert relations["exif-stripped.jpg"] == "metadata-only"
    assert relations["resized-960.jpg"] == "near-duplicate"
    assert sorted(relations.values()).count("exact") == 1
    assert any("largest pixel count" in r for r in cluster.reasons)
    assert any("camera metadata" in r for r in cluster.reasons)


def test_unrelated_fixture_photos_do_not_cluster():
    result = dedup(fingerprint(p) for p in LEAK_FILES)
    assert result.clusters == []
    assert len(result.unique) == len(LEAK_FILES)


def mugshot(subject: Image.Image) -> Image.Image:
    """The same backdrop (a wall with height lines) and a different subject in front, as in a detention photo set."""
    backdrop = Image.new("RGB", (600, 800), (200, 202, 198))
    draw = ImageDraw.Draw(backdrop)
    for y in range(40, 800, 50):
        draw.line([(0, y), (600, y)], fill=(120, 120, 120), width=2)
    w, h = 300, 440
    sw, sh = subject.size
    scale = max(w / sw, h / sh)
    subject = subject.resize((int(sw * scale) + 1, int(sh * scale) + 1)).crop((0, 0, w, h))
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse([0, 0, w, int(h * 1.4)], fill=255)
    backdrop.paste(subject, ((600 - w) // 2, 800 - h), mask)
    return backdrop


def test_look_alikes_on_one_backdrop_stay_apart_while_their_copies_join(tmp_path):
    photos = [p for p in LEAK_FILES if p.suffix == ".jpg"]
    for n, path in enumerate(photos):
        with Image.open(path) as im:
            shot = mugshot(im.convert("RGB"))
        (tmp_path / f"detainee-{n}.jpg").write_bytes(jpeg(shot, 92))
        (tmp_path / f"detainee-{n}-republished.jpg").write_bytes(jpeg(shot.resize((300, 400)), 65))
    result = dedup(fingerprint_many(iter_files([tmp_path]), jobs=0))
    expected = [
        {str(tmp_path / f"detainee-{n}.jpg"), str(tmp_path / f"detainee-{n}-republished.jpg")}
        for n in range(len(photos))
    ]
    assert sorted(clusters_by_path(result), key=sorted) == sorted(expected, key=sorted)
    for cluster in result.clusters:
        assert "republished" not in cluster.members[0].path  # the larger, better file is the original


def synthetic(path: str, phash: int, pdq: int, quality: int = 100) -> dict:
    return {
        "path": path,
        "sha256": f"{hash(path) & (2**64 - 1):064x}",
        "kind": "image",
        "width": 100,
        "height": 100,
        "hashes": {"phash": f"{phash:016x}", "dhash": f"{phash:016x}", "pdq": f"{pdq:064x}", "pdq_quality": quality},
        "error": None,
    }


def test_a_chain_does_not_make_a_cluster():
    """A~B and B~C (8 bits each) with A and C 16 bits apart: B joins one of them, never both."""
    a = synthetic("a", 0, 0)
    b = synthetic("b", 0xFF, 0xFF)
    c = synthetic("c", 0xFFFF, 0xFFFF)
    result = dedup([a, b, c], DedupOptions(phash_distance=10, pdq_distance=10))
    groups = clusters_by_path(result)
    assert len(groups) == 1 and len(groups[0]) == 2 and "b" in groups[0]


def test_complete_link_keeps_a_tight_group_whole():
    members = [synthetic(f"m{n}", 1 << n, 1 << n) for n in range(5)]  # all pairwise 2 bits apart
    result = dedup(members, DedupOptions(phash_distance=2, pdq_distance=2))
    assert clusters_by_path(result) == [{f"m{n}" for n in range(5)}]


def test_pdq_must_agree_with_phash():
    a = synthetic("a", 0, 0)
    b = synthetic("b", 0b111, (1 << 60) - 1)  # pHash 3 bits apart, PDQ 60 bits apart
    assert dedup([a, b]).clusters == []


def test_low_information_images_never_join_on_hashes(tmp_path):
    for n, grey in enumerate((128, 129, 131)):
        Image.new("RGB", (200, 150), (grey, grey, grey)).save(tmp_path / f"blank-{n}.png")
    result = dedup(fingerprint_many(iter_files([tmp_path]), jobs=0))
    assert result.clusters == []
    assert len(result.low_information) == 3


def test_failed_files_are_reported_not_fatal(tmp_path):
    (tmp_path / "ok.jpg").write_bytes(CAMERA_PHOTO.read_bytes())
    (tmp_path / "ok-copy.jpg").write_bytes(CAMERA_PHOTO.read_bytes())
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    result = dedup(fingerprint_many(iter_files([tmp_path]), jobs=0))
    assert [e["path"] for e in result.errors] == [str(tmp_path / "broken.png")]
    assert clusters_by_path(result) == [{str(tmp_path / "ok.jpg"), str(tmp_path / "ok-copy.jpg")}]
    assert result.to_dict()["summary"]["files"] == 3


def test_dedup_json_validates_against_its_schema(tmp_path):
    from conftest import report_validator

    (tmp_path / "a.jpg").write_bytes(CAMERA_PHOTO.read_bytes())
    (tmp_path / "b.jpg").write_bytes(strip_jpeg_metadata(CAMERA_PHOTO.read_bytes()))
    (tmp_path / "c.txt").write_text("x")
    report = dedup(fingerprint_many(iter_files([tmp_path]), jobs=0)).to_dict()
    report_validator("dedup").validate(report)
    assert report["summary"]["clusters_by_relation"]["metadata-only"] == 1
    inputs = {Path(i["path"]).name: i["sha256"] for i in report["run"]["inputs"]}
    assert inputs == {
        name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in ("a.jpg", "b.jpg", "c.txt")
    }
    assert report["run"]["index"] is None
    # a.jpg and b.jpg have the same pixels: both decoded at reduced scale or both in full, as Pillow's draft says
    with Image.open(tmp_path / "a.jpg") as image:
        size = image.size
        image.draft(None, (256, 256))
        reduced = image.size != size
    counts = {"full": 0, "reduced": 2} if reduced else {"full": 2, "reduced": 0}
    assert report["run"]["hash_input"] == {"exact_hashes": None, **counts}


# groups made by other people ----------------------------------------------------------------

TRAPS = [
    ("exif-samples/jpg/Canon_40D.jpg", "exif-samples/jpg/Canon_40D_photoshop_import.jpg"),
    ("pillow-images/hopper.jpg", "packaged-photos/matplotlib/grace_hopper.jpg"),
]


@pytest.mark.corpus
def test_corpus_groups_precision_and_recall():
    """Pairwise precision and recall against neardup-groups.csv, made by other people; both traps stay apart."""
    table = corpus_path("neardup-groups.csv")
    members: dict[str, set[str]] = defaultdict(set)
    for row in csv.DictReader(table.open()):
        members[row["group"]].add(row["path"])
    truth: dict[str, str] = {}  # path -> picture; groups that share a file (hopper.jpg is in two) are one picture
    for group, paths in members.items():
        shared = {truth[p] for p in paths if p in truth}
        for path, picture in list(truth.items()):
            if picture in shared:
                truth[path] = group
        truth.update({p: group for p in paths})
    paths = sorted(set(truth) | {p for pair in TRAPS for p in pair})
    corpus = corpus_path()
    result = dedup(fingerprint_many([str(corpus / p) for p in paths], jobs=2))
    cluster_of = {m.path[len(str(corpus)) + 1 :]: c.id for c in result.clusters for m in c.members}

    tp = fp = fn = 0
    missed = defaultdict(int)
    for a, b in itertools.combinations(sorted(truth), 2):
        same = truth[a] == truth[b]
        together = a in cluster_of and cluster_of.get(a) == cluster_of.get(b)
        tp += same and together
        fp += together and not same
        fn += same and not together
        if same and not together:
            missed[a] += 1
            missed[b] += 1
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(
        f"\nneardup-groups pairs: {tp} found, {fp} wrong, {fn} missed; precision {precision:.3f}, recall {recall:.3f}"
    )
    print(
        "files behind the misses:", ", ".join(f"{p} ({n})" for p, n in sorted(missed.items(), key=lambda x: -x[1])[:12])
    )
    for a, b in TRAPS:
        assert not (a in cluster_of and cluster_of.get(a) == cluster_of.get(b)), f"trap merged: {a} ~ {b}"
    assert precision >= 0.99
    assert recall >= 0.80


def test_without_pdq_phash_and_dhash_must_both_be_close():
    def plain(path: str, phash: int, dhash: int) -> dict:
        record = synthetic(path, phash, 0)
        record["hashes"] = {"phash": f"{phash:016x}", "dhash": f"{dhash:016x}"}
        return record

    close = [plain("a", 0, 0xF0F0), plain("b", 0b111, 0xF0F1)]  # pHash 3, dHash 1
    assert clusters_by_path(dedup(close)) == [{"a", "b"}]
    far_dhash = [plain("a", 0, 0xF0F0), plain("b", 0b111, 0xF0F0 ^ 0x1FF00000)]  # pHash 3, dHash 9
    assert dedup(far_dhash).clusters == []
    far_phash = [plain("a", 0, 0xF0F0), plain("b", 0x1FF, 0xF0F0)]  # pHash 9 > 8 without PDQ
    assert dedup(far_phash).clusters == []


def reference_complete_link(count, links):
    """The plain-Python complete-link merge (the compiled one's oracle): closest link first."""
    linked = defaultdict(set)
    for a, b in links:
        linked[a].add(b)
        linked[b].add(a)
    members = {n: [n] for n in range(count)}
    cluster_of = list(range(count))
    for a, b in links:
        ca, cb = cluster_of[a], cluster_of[b]
        if ca != cb and all(y in linked[x] for x in members[ca] for y in members[cb]):
            if len(members[ca]) < len(members[cb]):
                ca, cb = cb, ca
            for n in members[cb]:
                cluster_of[n] = ca
            members[ca].extend(members.pop(cb))
    return sorted(sorted(m) for m in members.values())


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 40).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=120))
    )
)
def test_compiled_complete_link_agrees_with_plain_python(case):
    import numpy as np

    from provenance.compiled import complete_link

    count, raw = case
    links = list(dict.fromkeys((min(a, b), max(a, b)) for a, b in raw if a != b))
    label = complete_link(count, np.array([a for a, _ in links], np.int64), np.array([b for _, b in links], np.int64))
    groups = defaultdict(list)
    for item, lab in enumerate(label.tolist()):
        groups[lab].append(item)
    assert sorted(sorted(g) for g in groups.values()) == reference_complete_link(count, links)


def test_a_software_resave_never_outranks_the_camera_file_it_was_made_from(tmp_path):
    original = FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg"  # Nikon COOLPIX P6000
    im = Image.open(original)
    # the same size at a higher quality, the camera's EXIF kept: every other criterion favours it
    im.save(tmp_path / "resaved.jpg", quality=98, exif=im.info["exif"])
    im.resize((im.width // 3, im.height // 3)).save(tmp_path / "small-stripped.jpg", quality=80)
    (tmp_path / "camera.jpg").write_bytes(original.read_bytes())
    records = {p.name: fingerprint(str(p)) for p in tmp_path.iterdir()}
    findings = {n: {f["code"] for f in r.forensics["findings"]} for n, r in records.items()}
    assert "resaved-by-software" in findings["resaved.jpg"] and "resaved-by-software" not in findings["camera.jpg"]
    assert records["resaved.jpg"].jpeg_quality > records["camera.jpg"].jpeg_quality
    [cluster] = dedup(records.values(), DedupOptions()).clusters
    assert Path(cluster.members[0].path).name == "camera.jpg"
    assert any("no resaved-by-software finding" in r for r in cluster.reasons), cluster.reasons
    # without the camera file, the re-save is still preferred to a small copy without camera metadata
    [cluster] = dedup([records["resaved.jpg"], records["small-stripped.jpg"]], DedupOptions()).clusters
    assert Path(cluster.members[0].path).name == "resaved.jpg"
