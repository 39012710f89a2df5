import os

from provenance.files import WalkError, WalkStats, iter_files


def make_tree(root):
    for rel in ["b/2.jpg", "b/1.jpg", "a.jpg", "c/d/e.png", ".hidden/x.jpg", "b/.DS_Store", "Z.jpg"]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode())
    return root


def rel(root, items):
    return [os.path.relpath(p, root) for p in items]


def test_walk_is_recursive_sorted_and_skips_hidden(tmp_path):
    root = make_tree(tmp_path)
    stats = WalkStats()
    assert rel(root, iter_files([root], stats=stats)) == ["Z.jpg", "a.jpg", "b/1.jpg", "b/2.jpg", "c/d/e.png"]
    assert stats.skipped_hidden == 2 and stats.files == 5


def test_all_includes_hidden(tmp_path):
    root = make_tree(tmp_path)
    assert ".hidden/x.jpg" in rel(root, iter_files([root], include_hidden=True))
    assert "b/.DS_Store" in rel(root, iter_files([root], include_hidden=True))


def test_inputs_keep_their_order_and_files_are_taken_as_given(tmp_path):
    root = make_tree(tmp_path)
    assert rel(root, iter_files([root / "c", root / "a.jpg", root / "b/.DS_Store"])) == [
        "c/d/e.png",
        "a.jpg",
        "b/.DS_Store",
    ]


def test_symlinks_are_skipped_unless_followed_and_loops_end(tmp_path):
    root = make_tree(tmp_path / "leak")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.jpg").write_bytes(b"o")
    (root / "link.jpg").symlink_to(root / "a.jpg")
    (root / "linkdir").symlink_to(outside)
    (root / "c" / "loop").symlink_to(root)
    stats = WalkStats()
    assert rel(root, iter_files([root], stats=stats)) == ["Z.jpg", "a.jpg", "b/1.jpg", "b/2.jpg", "c/d/e.png"]
    assert stats.skipped_symlinks == 3
    followed = rel(root, iter_files([root], follow_symlinks=True))
    assert "link.jpg" in followed and "linkdir/o.jpg" in followed
    assert len(followed) == 7  # the loop back to the root is not walked again


def test_unlistable_directory_becomes_an_error_item(tmp_path, monkeypatch):
    root = make_tree(tmp_path)
    real_scandir = os.scandir

    def scandir(path):
        if os.path.basename(path) == "c":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr("provenance.files.os.scandir", scandir)
    items = list(iter_files([root]))
    errors = [i for i in items if isinstance(i, WalkError)]
    assert [os.path.relpath(e.path, root) for e in errors] == ["c"]
    assert "Permission denied" in errors[0].message
    assert "b/2.jpg" in rel(root, [i for i in items if not isinstance(i, WalkError)])
