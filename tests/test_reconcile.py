"""Reconciling a batch with the index: new articles, merged duplicates, moved, changed and deleted files."""

from __future__ import annotations

import hashlib

from newsetl.tasks.reconcile import reconcile_batch, remove_sources
from newsetl.tasks.records import DUPLICATE, UNCHANGED, WRITTEN, CleanArticle, SourceRef, SourceState, StoredArticle


def ref(path: str, sha: str = "s") -> SourceRef:
    return SourceRef(path=path, sha256=sha, format="text", size=1, modified="2024-01-01T00:00:00Z")


def article(path: str, body: str) -> CleanArticle:
    article_id = hashlib.sha256(body.encode()).hexdigest()[:32]
    return CleanArticle(id=article_id, title="T", body=body, source=ref(path), group="g")


def stored(a: CleanArticle, *paths: str) -> StoredArticle:
    return StoredArticle(a.id, tuple(ref(p) for p in paths), a.id, True, "", None, 3)


def test_two_copies_in_one_batch_make_one_new_article_with_both_sources():
    a, b = article("/r/b.txt", "same text"), article("/r/a.txt", "same text")
    plan = reconcile_batch([a, b], ["/r/a.txt", "/r/b.txt"], {}, {})
    assert len(plan.new_groups) == 1
    assert [s.path for s in plan.new_groups[0].sources] == ["/r/a.txt", "/r/b.txt"]
    assert plan.file_outcomes["/r/a.txt"][0] == WRITTEN and plan.file_outcomes["/r/b.txt"][0] == DUPLICATE


def test_copy_of_an_indexed_article_is_a_duplicate_added_to_its_sources():
    old = article("/r/old.txt", "story")
    copy = article("/r/copy.txt", "story")
    plan = reconcile_batch([copy], ["/r/copy.txt"], {}, {old.id: stored(old, "/r/old.txt")})
    assert plan.new_groups == []
    assert [s.path for s in plan.source_updates[old.id]] == ["/r/copy.txt", "/r/old.txt"]
    assert plan.file_outcomes["/r/copy.txt"][0] == DUPLICATE


def test_reread_of_an_unchanged_text_is_unchanged_and_writes_nothing():
    a = article("/r/a.txt", "story")
    plan = reconcile_batch(
        [a],
        ["/r/a.txt"],
        {"/r/a.txt": SourceState("/r/a.txt", 1, 1.0, "s", WRITTEN, (a.id,))},
        {a.id: stored(a, "/r/a.txt")},
    )
    assert plan.file_outcomes["/r/a.txt"][0] == UNCHANGED
    assert plan.new_groups == [] and plan.source_updates == {} and plan.orphaned == []


def test_edited_file_leaves_its_old_article_orphaned():
    old, new = article("/r/a.txt", "first version"), article("/r/a.txt", "second version")
    previous = {"/r/a.txt": SourceState("/r/a.txt", 1, 1.0, "s", WRITTEN, (old.id,))}
    plan = reconcile_batch([new], ["/r/a.txt"], previous, {old.id: stored(old, "/r/a.txt")})
    assert [g.id for g in plan.new_groups] == [new.id]
    assert plan.orphaned == [old.id]


def test_edited_file_whose_old_article_has_other_copies_only_loses_this_source():
    old, new = article("/r/a.txt", "first version"), article("/r/a.txt", "second version")
    previous = {"/r/a.txt": SourceState("/r/a.txt", 1, 1.0, "s", WRITTEN, (old.id,))}
    plan = reconcile_batch([new], ["/r/a.txt"], previous, {old.id: stored(old, "/r/a.txt", "/r/b.txt")})
    assert [s.path for s in plan.source_updates[old.id]] == ["/r/b.txt"]


def test_batch_order_does_not_change_the_plan():
    articles = [article(f"/r/{n}.txt", "x" if n % 2 else "y") for n in range(6)]
    paths = [a.source.path for a in articles]
    first = reconcile_batch(articles, paths, {}, {})
    second = reconcile_batch(list(reversed(articles)), list(reversed(paths)), {}, {})
    assert [(g.id, g.sources) for g in first.new_groups] == [(g.id, g.sources) for g in second.new_groups]
    assert first.file_outcomes == second.file_outcomes


def test_deleted_files_are_removed_from_sources_and_last_source_orphans():
    a, b = article("/r/a.txt", "one"), article("/r/b.txt", "two")
    plan = remove_sources(
        {"/r/a.txt", "/r/b.txt"}, {a.id: stored(a, "/r/a.txt", "/r/keep.txt"), b.id: stored(b, "/r/b.txt")}
    )
    assert [s.path for s in plan.source_updates[a.id]] == ["/r/keep.txt"]
    assert plan.orphaned == [b.id]
