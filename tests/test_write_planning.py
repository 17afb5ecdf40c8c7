"""Write planning of the indexing step, pure: what a batch writes to the articles and what it records of its files."""

from __future__ import annotations

from dataclasses import replace

import pytest

from newsetl.config.settings import DedupeSettings, ElasticsearchSettings
from newsetl.tasks.dedupe import ClusterAssignment, sketch_body
from newsetl.tasks.index import article_writes, state_writes
from newsetl.tasks.reconcile import DedupedBatch, reconcile_batch
from newsetl.tasks.records import (
    CleanArticle,
    CleanedBatch,
    Enrichment,
    FileRead,
    Quarantine,
    RunSummary,
    SourceFile,
    SourceRef,
    SourceState,
    StoredArticle,
)
from newsetl.tasks.store import ArticleWrites, MemoryStore

BODY = (
    "The harbour authority approved a plan on Tuesday to dredge the eastern channel before the autumn storms. "
    "Fishing crews said the silt had grounded three trawlers since spring."
)
OTHER = "Volunteers repainted the lighthouse at the end of the north pier over two weekends in June with council paint."
NOW = "2026-12-02T00:00:00Z"


def source(name: str) -> SourceFile:
    return SourceFile(f"/r/{name}", "/r", 100, 1.0)


def ref(name: str, sha: str = "s") -> SourceRef:
    return SourceRef(f"/r/{name}", sha, "text", 100, "2026-01-01T00:00:00Z")


def article(article_id: str, name: str, body: str = BODY) -> CleanArticle:
    return CleanArticle(article_id, "Harbour", body, ref(name), "/r")


def batch(
    articles: list[CleanArticle], stored: dict[str, StoredArticle] | None = None, quarantined=(), failed=None
) -> DedupedBatch:
    stored = stored or {}
    names = sorted(
        {a.source.path.rsplit("/", 1)[1] for a in articles} | {q.path.rsplit("/", 1)[1] for q in quarantined}
    )
    files = tuple(source(n) for n in names)
    read = {f.path: FileRead(f, "s", ("/r",), ("k:fp",)) for f in files if f.path not in {q.path for q in quarantined}}
    cleaned = CleanedBatch(files, read, tuple(articles), tuple(quarantined), (), dict(failed or {}))
    # What earlier runs recorded: each stored article's files held it.
    previous = {
        r.path: SourceState(r.path, 100, 1.0, "s", "written", (a.id,)) for a in stored.values() for r in a.sources
    }
    plan = reconcile_batch(articles, sorted(read), {p: s for p, s in previous.items() if p in read}, stored)
    sketches = {g.id: sketch_body(g.representative.body, DedupeSettings()) for g in plan.new_groups}
    assignments = {g.id: ClusterAssignment(g.id, True) for g in plan.new_groups}
    return DedupedBatch(cleaned, plan, stored, sketches, assignments)


def enrichments(deduped: DedupedBatch) -> dict[str, Enrichment]:
    return {g.id: Enrichment("en", persons=("Ann Lee",)) for g in deduped.plan.new_groups}


def test_new_articles_become_whole_documents_with_every_source():
    deduped = batch([article("a1", "a.txt"), article("a1", "copy.txt"), article("b2", "b.txt", OTHER)])
    writes = article_writes(deduped, enrichments(deduped), ElasticsearchSettings(), NOW)
    assert sorted(writes.documents) == ["a1", "b2"] and not writes.updates and not writes.deletes
    document = writes.documents["a1"]
    assert [s["path"] for s in document["sources"]] == ["/r/a.txt", "/r/copy.txt"] and document["source_count"] == 2
    assert (document["cluster_id"], document["is_canonical"], document["persons"], document["ingested_at"]) == (
        "a1",
        True,
        ["Ann Lee"],
        NOW,
    )
    assert document["minhash"] and document["lsh_bands"]


def test_known_articles_get_partial_updates_and_orphans_go():
    stored = {
        "a1": StoredArticle("a1", (ref("a.txt"), ref("gone.txt")), "a1", True, "", None, 20),
        "z9": StoredArticle("z9", (ref("b.txt"),), "z9", True, "", None, 20),
    }
    # b.txt now holds a1's text: a1 gains it, z9 loses its only source.
    deduped = batch([article("a1", "a.txt"), article("a1", "b.txt")], stored)
    writes = article_writes(deduped, {}, ElasticsearchSettings(), NOW)
    assert not writes.documents and writes.deletes == {"z9"}
    assert [s["path"] for s in writes.updates["a1"]["sources"]] == ["/r/a.txt", "/r/b.txt", "/r/gone.txt"]
    kept = article_writes(deduped, {}, replace(ElasticsearchSettings(), delete_orphans=False), NOW)
    assert not kept.deletes and kept.updates["z9"] == {"sources": [], "source_count": 0}


def test_article_writes_merge_updates_and_deletions():
    writes = ArticleWrites()
    writes.documents["n"] = {"id": "n"}
    writes.update("n", cluster_id="c")
    writes.update("old", is_canonical=False)
    writes.update("old", cluster_id="c")
    writes.delete("gone")
    writes.update("gone", cluster_id="c")
    assert writes.documents["n"] == {"id": "n", "cluster_id": "c"}
    assert writes.updates == {"old": {"is_canonical": False, "cluster_id": "c"}} and writes.deletes == {"gone"}
    assert not ArticleWrites()


def test_each_file_is_counted_once_and_recorded():
    stored = {"u1": StoredArticle("u1", (ref("u.txt"),), "u1", True, "", None, 20)}
    problem = Quarantine("/r/empty.txt", "empty", "")
    deduped = batch(
        [article("a1", "a.txt"), article("a1", "copy.txt"), article("u1", "u.txt", OTHER)],
        stored, quarantined=[problem], failed={"/r/busy.txt": "OSError: busy"},
    )  # fmt: skip
    summary = RunSummary(files_seen=5)
    writes = state_writes(deduped, [], summary)
    assert (summary.written, summary.duplicates, summary.unchanged, summary.quarantined, summary.failed) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert summary.is_balanced()
    states = {s.path: s for s in writes.states}
    assert {p: s.status for p, s in states.items()} == {
        "/r/a.txt": "written", "/r/copy.txt": "duplicate", "/r/u.txt": "unchanged", "/r/empty.txt": "quarantined",
    }  # fmt: skip
    assert "/r/busy.txt" not in states  # failed: read again by the next run
    assert states["/r/a.txt"].block_fingerprints == ("k:fp",) and states["/r/a.txt"].groups == ("/r",)
    assert writes.quarantine == [problem] and set(writes.cleared_quarantine) == {"/r/a.txt", "/r/copy.txt", "/r/u.txt"}


def test_states_record_the_blocks_cleaning_counted_and_near_duplicates_are_counted():
    deduped = batch([article("a1", "a.txt"), article("b2", "b.txt", BODY + " Updated.")])
    # Cleaning counted a.txt's blocks; b.txt is a later version of the same story (none counted).
    read = dict(deduped.cleaned.read)
    read["/r/b.txt"] = replace(read["/r/b.txt"], groups=(), block_fingerprints=())
    near = replace(
        deduped,
        cleaned=replace(deduped.cleaned, read=read),
        assignments={"a1": ClusterAssignment("a1", True), "b2": ClusterAssignment("a1", False)},
    )
    summary = RunSummary(files_seen=2)
    states = {s.path: s for s in state_writes(near, [], summary).states}
    assert summary.written == 2 and summary.near_duplicates == 2
    assert states["/r/a.txt"].block_fingerprints == ("k:fp",) and states["/r/b.txt"].block_fingerprints == ()


def test_the_memory_store_applies_writes_like_the_index():
    from newsetl.tasks.index import index_batch

    store = MemoryStore()
    deduped = batch([article("a1", "a.txt"), article("b2", "b.txt", OTHER)])
    summary = RunSummary(files_seen=2)
    index_batch(deduped, enrichments(deduped), store, ElasticsearchSettings(), summary)
    assert sorted(store.documents) == ["a1", "b2"] and sorted(store.states) == ["/r/a.txt", "/r/b.txt"]
    assert store.stored_articles(["a1", "nope"])["a1"].sources == (ref("a.txt"),)
    assert summary.is_balanced() and summary.written == 2


@pytest.mark.parametrize("delete_orphans", [True, False])
def test_deleted_files_leave_their_articles(delete_orphans):
    from newsetl.config.settings import Settings
    from newsetl.tasks.index import remove_deleted

    store = MemoryStore()
    deduped = batch([article("a1", "a.txt"), article("a1", "copy.txt"), article("b2", "b.txt", OTHER)])
    settings = Settings()
    settings = replace(settings, es=replace(settings.es, delete_orphans=delete_orphans))
    from newsetl.tasks.index import index_batch

    index_batch(deduped, enrichments(deduped), store, settings.es, RunSummary(files_seen=3))
    summary = RunSummary()
    gone = [
        SourceState("/r/copy.txt", 100, 1.0, article_ids=("a1",)),
        SourceState("/r/b.txt", 100, 1.0, article_ids=("b2",)),
    ]
    remove_deleted(gone, store, settings, summary)
    assert [s["path"] for s in store.documents["a1"]["sources"]] == ["/r/a.txt"]
    assert ("b2" in store.documents) is (not delete_orphans)
    assert (summary.deleted_sources, summary.articles_deleted) == (2, 1 if delete_orphans else 0)
    assert sorted(store.states) == ["/r/a.txt"]
