"""Incremental planning: unchanged files are not read, changed and failed ones are, gone ones are deleted."""

from __future__ import annotations

from newsetl.tasks.records import FAILED, QUARANTINED, SourceFile, SourceState
from newsetl.tasks.source_state import parse_since, plan_changes


def source(path: str, size: int = 10, mtime: float = 100.0) -> SourceFile:
    return SourceFile(path=path, root="/r", size=size, mtime=mtime)


def test_same_size_and_mtime_is_unchanged_and_not_read():
    plan = plan_changes([source("/r/a.txt")], {"/r/a.txt": SourceState("/r/a.txt", 10, 100.0)}, ["/r"])
    assert [f.path for f in plan.unchanged] == ["/r/a.txt"] and plan.to_read == ()


def test_changed_mtime_new_file_and_failed_file_are_read():
    states = {
        "/r/a.txt": SourceState("/r/a.txt", 10, 99.0),
        "/r/c.txt": SourceState("/r/c.txt", 10, 100.0, status=FAILED),
    }
    plan = plan_changes([source("/r/a.txt"), source("/r/b.txt"), source("/r/c.txt")], states, ["/r"])
    assert [f.path for f in plan.to_read] == ["/r/a.txt", "/r/b.txt", "/r/c.txt"]


def test_quarantined_file_is_retried_only_when_it_changed():
    states = {"/r/bad.txt": SourceState("/r/bad.txt", 10, 100.0, status=QUARANTINED, reason="binary")}
    assert plan_changes([source("/r/bad.txt")], states, ["/r"]).to_read == ()
    assert len(plan_changes([source("/r/bad.txt", size=11)], states, ["/r"]).to_read) == 1


def test_force_reads_everything():
    plan = plan_changes([source("/r/a.txt")], {"/r/a.txt": SourceState("/r/a.txt", 10, 100.0)}, ["/r"], force=True)
    assert len(plan.to_read) == 1


def test_known_file_missing_under_the_roots_is_deleted_but_not_outside_them(tmp_path):
    root = str(tmp_path)
    states = {
        f"{root}/gone.txt": SourceState(f"{root}/gone.txt", 1, 1.0),
        "/elsewhere/other.txt": SourceState("/elsewhere/other.txt", 1, 1.0),
    }
    plan = plan_changes([], states, [root])
    assert [s.path for s in plan.deleted] == [f"{root}/gone.txt"]


def test_a_file_that_exists_but_was_not_discovered_is_not_deleted(tmp_path):
    kept = tmp_path / "excluded.txt"
    kept.write_text("still here")
    plan = plan_changes([], {str(kept): SourceState(str(kept), 1, 1.0)}, [str(tmp_path)])
    assert plan.deleted == ()


def test_since_skips_old_known_files_but_reads_old_new_files():
    since = parse_since("2024-01-01")
    states = {"/r/old.txt": SourceState("/r/old.txt", 10, 50.0)}
    plan = plan_changes(
        [source("/r/old.txt", mtime=60.0), source("/r/never-seen.txt", mtime=60.0)], states, ["/r"], since=since
    )
    assert [f.path for f in plan.unchanged] == ["/r/old.txt"]
    assert [f.path for f in plan.to_read] == ["/r/never-seen.txt"]
