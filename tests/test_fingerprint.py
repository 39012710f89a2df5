import hashlib
import json
import os

import pytest

from provenance import SCHEMA, Fingerprint, fingerprint

from conftest import ARTICLE_FILES, FIXTURES, LEAK_FILES, METADATA_FILES, MISNAMED, corpus_path, ids

ALL = LEAK_FILES + ARTICLE_FILES + METADATA_FILES


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_every_fixture_record_is_valid_and_complete(path, schema_validator):
    record = fingerprint(path).to_dict()
    schema_validator.validate(record)
    json.dumps(record, allow_nan=False)
    data = path.read_bytes()
    assert record["schema"] == SCHEMA
    assert record["path"] == str(path)
    assert record["size"] == len(data) == os.stat(path).st_size
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    if path.suffix == ".txt":
        assert record["kind"] == "other" and record["hashes"] == {} and record["error"] is None
    else:
        assert record["kind"] == "image" and record["error"] is None
        assert set(record["hashes"]) >= {"phash", "dhash", "ahash", "whash", "colorhash"}


def test_record_round_trips_through_a_dict():
    record = fingerprint(FIXTURES / "leak" / "97fdc6ae077d8165f3cb4aa494ddb7d4.jpg")
    assert Fingerprint.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_bytes_and_path_give_the_same_fingerprint():
    path = FIXTURES / "leak" / "406958840ad1665ffcd1be9c29d515b9.jpg"
    from_path = fingerprint(path).to_dict()
    from_bytes = fingerprint(path.read_bytes(), name=str(path)).to_dict()
    from_path.pop("mtime"), from_bytes.pop("mtime")
    assert from_bytes == from_path


def test_misnamed_leak_file_stands_out_and_has_no_metadata():
    stripped = fingerprint(MISNAMED)
    assert stripped.name_digest == {"algorithm": "md5", "matches": False}
    assert stripped.metadata == {} and stripped.thumbnail is None and stripped.error is None


@pytest.mark.corpus
def test_metadata_stripped_copy_shares_image_data_but_not_bytes():
    """The misnamed leak file is the corpus's DSCN0021 with its EXIF cut out byte for byte."""
    stripped = fingerprint(MISNAMED)
    original = fingerprint(corpus_path("exif-samples", "jpg", "gps", "DSCN0021.jpg"))
    assert original.md5 == MISNAMED.stem  # the name is the original's digest
    assert original.sha256 != stripped.sha256
    assert original.image_data_sha256 == stripped.image_data_sha256
    assert original.hashes == stripped.hashes


def test_article_copy_is_a_different_encoding_of_a_leak_photo():
    from provenance.hashes import distance

    leak = fingerprint(FIXTURES / "leak" / "35b833f721ed391380a8ddf159852b50.jpg")
    article = fingerprint(FIXTURES / "article" / "officials-tour-facility-960x640-1.jpg")
    assert article.name_digest is None and article.metadata == {}
    assert (article.width, article.height) == (960, 640)
    assert article.image_data_sha256 != leak.image_data_sha256
    assert leak.metadata["make"] == "NIKON" and leak.metadata["gps_latitude"]
    assert distance(article.hashes["dhash"], leak.hashes["dhash"]) <= 10


def test_missing_file_is_an_error_record_not_an_exception(tmp_path):
    record = fingerprint(tmp_path / "gone.jpg")
    assert record.error["type"] == "UnreadableFile" and "vanished" in record.error["message"]
    assert record.sha256 is None and record.kind == "other"


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    record = fingerprint(fifo)
    assert record.error["type"] == "UnreadableFile" and "not a regular file" in record.error["message"]


def test_symlink_refused_when_not_following(tmp_path):
    target = FIXTURES / "leak" / "406958840ad1665ffcd1be9c29d515b9.jpg"
    link = tmp_path / "link.jpg"
    link.symlink_to(target)
    assert fingerprint(link).sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
    assert fingerprint(link, follow_symlinks=False).error["type"] == "UnreadableFile"


def test_large_files_are_streamed_with_the_same_results():
    path = FIXTURES / "leak" / "23b313574a1e61545db171a23edd73b3.jpg"
    in_memory = fingerprint(path)
    streamed = fingerprint(path, max_in_memory=1000)
    assert (streamed.md5, streamed.sha1, streamed.sha256) == (in_memory.md5, in_memory.sha1, in_memory.sha256)
    assert streamed.hashes == in_memory.hashes and streamed.metadata == in_memory.metadata
    assert streamed.image_data_sha256 is None and any(w["stage"] == "image_data" for w in streamed.warnings)


def test_hostile_text_is_kept_as_text():
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = '<img src=x onerror=alert(1)>"; DROP TABLE'
    exif[0x010E] = '=HYPERLINK("http://evil")'
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(out, "JPEG", exif=exif.tobytes())
    record = fingerprint(out.getvalue(), name='"quoted" <name>.jpg')
    assert record.metadata["make"] == '<img src=x onerror=alert(1)>"; DROP TABLE'
    assert record.metadata["image_description"] == '=HYPERLINK("http://evil")'
    assert record.path == '"quoted" <name>.jpg'
