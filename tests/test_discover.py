"""Tests of tasks/discover.py: what is found, what is skipped, what is quarantined, and that nothing is read."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from newsetl.config.settings import DiscoverSettings
from newsetl.tasks.discover import discover_files, file_format, glob_to_regex
from newsetl.tasks.records import OUTSIDE_ROOT, SYMLINK_LOOP, TOO_LARGE, UNREADABLE

SETTINGS = DiscoverSettings()


def make_tree(root: Path, files: list[str]) -> None:
    for relative in files:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")


def found(result, root: Path) -> list[str]:
    return [os.path.relpath(source.path, root) for source in result.files]


def reasons(result) -> dict[str, str]:
    return {os.path.basename(q.path): q.reason for q in result.quarantined}


def test_walks_folders_recursively_for_known_extensions_and_their_gzip(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        ["a.txt", "b/c.HTML", "b/d/e.jsonl.gz", "b/d/f.warc.gz", "g.md", "h.json"]
        + ["notes.pdf", "image.png", "bare.gz", "x.xml", "tool.exe"],
    )
    result = discover_files([tmp_path], SETTINGS)
    assert found(result, tmp_path) == [
        "a.txt", "b/c.HTML", "b/d/e.jsonl.gz", "b/d/f.warc.gz", "bare.gz", "g.md", "h.json", "notes.pdf", "x.xml",
    ]  # fmt: skip
    # Nothing is silent: files of no article format are counted by type.
    skipped = [(os.path.basename(path), kind) for path, kind in result.skipped]
    assert skipped == [("image.png", ".png"), ("tool.exe", ".exe")]
    assert result.quarantined == () and result.missing_roots == ()
    source = result.files[0]
    assert os.path.isabs(source.path) and source.root == str(tmp_path) and source.size == 1 and source.mtime > 0
    assert result.files[1].relative_path == "b/c.HTML"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("story.txt", ("text", False)),
        ("story.MD", ("text", False)),
        ("page.htm", ("html", False)),
        ("page.xhtml.gz", ("html", True)),
        ("feed.json", ("json", False)),
        ("dump.jsonl.gz", ("jsonl", True)),
        ("crawl.warc.gz", ("warc", True)),
        ("archive.tar.gz", ("", True)),
        ("scan.PDF", ("pdf", False)),
        ("wire.xml", ("xml", False)),
        ("letter.docx", ("docx", False)),
        ("page.shtml", ("", False)),  # the content decides
        ("README", ("", False)),
    ],
)
def test_file_format_from_name(name: str, expected: tuple[str, bool]) -> None:
    assert file_format(f"/data/{name}") == expected


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    make_tree(tmp_path, ["seen.txt", ".hidden.txt", ".cache/inside.txt", "sub/.git/HEAD.txt", "sub/ok.txt"])
    assert found(discover_files([tmp_path], SETTINGS), tmp_path) == ["seen.txt", "sub/ok.txt"]


def test_a_file_named_as_root_is_taken_even_when_hidden(tmp_path: Path) -> None:
    make_tree(tmp_path, [".draft.txt", "photo.png"])
    result = discover_files([tmp_path / ".draft.txt", tmp_path / "photo.png", tmp_path / "absent"], SETTINGS)
    assert [Path(f.path).name for f in result.files] == [".draft.txt"]
    assert result.files[0].relative_path == ".draft.txt"
    assert result.skipped == ((str(tmp_path / "photo.png"), ".png"),) and reasons(result) == {}
    assert result.missing_roots == (str(tmp_path / "absent"),)


def test_include_and_exclude_patterns(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        ["top.html", "news/2023/a.html", "news/2023/a.txt", "news/drafts/b.html", "archive/old/c.html", "d.txt"],
    )
    only_html = DiscoverSettings(include=("**/*.html",))
    assert found(discover_files([tmp_path], only_html), tmp_path) == [
        "archive/old/c.html",
        "news/2023/a.html",
        "news/drafts/b.html",
        "top.html",
    ]
    # A pattern without "/" matches the file name (at any depth) or any folder name on the way.
    bare = DiscoverSettings(include=("*.txt",), exclude=("drafts",))
    assert found(discover_files([tmp_path], bare), tmp_path) == ["d.txt", "news/2023/a.txt"]
    anchored = DiscoverSettings(exclude=("archive/**", "news/*/a.txt"))
    assert found(discover_files([tmp_path], anchored), tmp_path) == [
        "d.txt",
        "news/2023/a.html",
        "news/drafts/b.html",
        "top.html",
    ]


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*.html", "a.html", True),  # "**/" may match no folder at all
        ("**/*.html", "x/y/a.html", True),
        ("news/**", "news/a/b.txt", True),
        ("news/*.txt", "news/a/b.txt", False),  # "*" stays inside one folder
        ("a?.txt", "ab.txt", True),
        ("a?.txt", "a/.txt", False),
        ("[!x]*.md", "readme.md", True),
        ("[!x]*.md", "x.md", False),
        ("2023-0[1-3]/*", "2023-02/a.txt", True),
        ("2023-0[1-3]/*", "2023-05/a.txt", False),
    ],
)
def test_glob_to_regex(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_to_regex(pattern).match(path)) is matches


def test_too_large_files_are_quarantined_without_being_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "huge.html"
    with big.open("wb") as stream:
        stream.truncate(100 * 1024 * 1024)  # a sparse 100 MB file: instant and takes no disk
    (tmp_path / "small.txt").write_text("fine", encoding="utf-8")
    monkeypatch.setattr("builtins.open", _refuse_reading)
    monkeypatch.setattr(os, "open", _refuse_reading)
    result = discover_files([tmp_path], DiscoverSettings(max_file_bytes=50_000_000))
    assert found(result, tmp_path) == ["small.txt"]
    assert result.quarantined[0].reason == TOO_LARGE
    assert "104857600 bytes" in result.quarantined[0].detail


def _refuse_reading(*args: object, **kwargs: object) -> None:
    raise AssertionError("discovery must not open files")


def test_symlink_to_a_file_inside_the_root_is_kept_once_under_the_real_path(tmp_path: Path) -> None:
    make_tree(tmp_path, ["real/story.txt"])
    (tmp_path / "alias.txt").symlink_to(tmp_path / "real" / "story.txt")
    (tmp_path / "linked_folder").symlink_to(tmp_path / "real", target_is_directory=True)
    result = discover_files([tmp_path], SETTINGS)
    assert found(result, tmp_path) == ["real/story.txt"]
    assert result.quarantined == ()


def test_symlinked_folder_reaching_a_hidden_folder_inside_the_root_is_followed(tmp_path: Path) -> None:
    make_tree(tmp_path, [".store/kept.txt"])
    (tmp_path / "public").symlink_to(tmp_path / ".store", target_is_directory=True)
    result = discover_files([tmp_path], SETTINGS)
    # The path is the one found under the root (the link), not the link's target.
    assert found(result, tmp_path) == ["public/kept.txt"]


def test_symlinks_out_of_the_roots_are_quarantined(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    make_tree(outside, ["secret.txt", "folder/other.txt"])
    make_tree(root, ["own.txt"])
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    (root / "leak_folder").symlink_to(outside / "folder", target_is_directory=True)
    (root / "leak.png").symlink_to(outside / "secret.txt")  # not an input by its name: ignored
    result = discover_files([root], SETTINGS)
    assert found(result, root) == ["own.txt"]
    assert reasons(result) == {"leak.txt": OUTSIDE_ROOT, "leak_folder": OUTSIDE_ROOT}
    # The same link is fine when its target is inside another given root.
    both = discover_files([root, outside / "folder"], SETTINGS)
    assert reasons(both) == {"leak.txt": OUTSIDE_ROOT}
    assert sorted(Path(f.path).name for f in both.files) == ["other.txt", "own.txt"]


def test_symlink_loops_are_quarantined_and_the_walk_ends(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a/b/story.txt"])
    (tmp_path / "a" / "b" / "up").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "self.txt").symlink_to(tmp_path / "self.txt")
    (tmp_path / "ping.txt").symlink_to(tmp_path / "pong.txt")
    (tmp_path / "pong.txt").symlink_to(tmp_path / "ping.txt")
    result = discover_files([tmp_path], SETTINGS)
    assert found(result, tmp_path) == ["a/b/story.txt"]
    assert reasons(result) == dict.fromkeys(["up", "self.txt", "ping.txt", "pong.txt"], SYMLINK_LOOP)


def test_dangling_symlink_with_an_input_name_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").symlink_to(tmp_path / "never-existed.txt")
    (tmp_path / "gone.png").symlink_to(tmp_path / "never-existed.png")
    assert reasons(discover_files([tmp_path], SETTINGS)) == {"gone.txt": UNREADABLE}


def test_a_fifo_with_a_text_name_is_unreadable_and_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    result = discover_files([tmp_path], SETTINGS)
    assert result.files == ()
    assert result.quarantined[0].reason == UNREADABLE and result.quarantined[0].detail == "not a regular file"


def test_permission_denied_file_and_folder_are_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # NOTE: the tests run as root, which reads any file whatever its mode; the refusal is simulated.
    make_tree(tmp_path, ["locked.txt", "open.txt", "closed/inner.txt"])
    real_access, real_scandir = os.access, os.scandir
    monkeypatch.setattr(
        os, "access", lambda path, mode: not str(path).endswith("locked.txt") and real_access(path, mode)
    )

    def scandir(path):
        if str(path).endswith("closed"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = discover_files([tmp_path], SETTINGS)
    assert found(result, tmp_path) == ["open.txt"]
    assert reasons(result) == {"locked.txt": UNREADABLE, "closed": UNREADABLE}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_real_permission_denied_is_unreadable(tmp_path: Path) -> None:
    make_tree(tmp_path, ["locked.txt"])
    (tmp_path / "locked.txt").chmod(0)
    try:
        assert reasons(discover_files([tmp_path], SETTINGS)) == {"locked.txt": UNREADABLE}
    finally:
        (tmp_path / "locked.txt").chmod(0o644)


def test_overlapping_roots_list_each_file_once(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a/one.txt", "a/b/two.txt"])
    result = discover_files([tmp_path / "a" / "b", tmp_path, tmp_path / "a" / "b" / "two.txt"], SETTINGS)
    assert found(result, tmp_path) == ["a/b/two.txt", "a/one.txt"]
    assert result.files[0].root == str(tmp_path / "a" / "b")


def test_result_is_deterministic_and_sorted(tmp_path: Path) -> None:
    make_tree(tmp_path, [f"d{i % 7}/f{i}.txt" for i in range(60)])
    first, second = discover_files([tmp_path], SETTINGS), discover_files([str(tmp_path)], SETTINGS)
    assert first == second
    assert [f.path for f in first.files] == sorted(f.path for f in first.files)


@pytest.mark.slow
def test_discovery_is_stat_only_and_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 20,000 files: creating 100,000 costs a minute of disk I/O on a busy machine, while
    # discovering them takes 1-3 s (see the report); the bound here scales that down.
    root = tmp_path / "many"
    for folder in range(20):
        base = root / f"site{folder % 5}" / f"{folder:03d}"
        base.mkdir(parents=True)
        for index in range(1000):
            os.mknod(base / f"a{index}.{'html' if index % 2 else 'txt'}")  # one syscall per empty file
    try:
        with monkeypatch.context() as patched:
            patched.setattr("builtins.open", _refuse_reading)
            patched.setattr(os, "open", _refuse_reading)
            started = time.perf_counter()
            result = discover_files([root], SETTINGS)
            seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(root)  # pytest keeps recent tmp folders; do not leave 20,000 files behind
    assert len(result.files) == 20_000
    assert seconds < 3, f"discovery of 20,000 files took {seconds:.1f} s"
