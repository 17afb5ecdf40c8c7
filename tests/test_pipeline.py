"""The ingest flow end to end against the real local Elasticsearch and a real Prefect API."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, corpus, delete_indices

pytestmark = [pytest.mark.elasticsearch, pytest.mark.prefect]


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    shutil.copytree(SAMPLES, folder)
    return folder


def client_for(settings):
    from newsetl.tasks.es.client import connect

    return connect(settings.es)


def all_documents(settings) -> dict[str, dict]:
    client = client_for(settings)
    try:
        client.indices.refresh(index=settings.es.index)
        hits = client.search(index=settings.es.index, size=1000, query={"match_all": {}})["hits"]["hits"]
        return {hit["_id"]: hit["_source"] for hit in hits}
    finally:
        client.close()


def balanced(summary: dict) -> bool:
    parts = ("written", "unchanged", "duplicates", "quarantined", "failed")
    return summary["files_seen"] == sum(summary[part] for part in parts)


def test_second_run_over_an_unchanged_folder_writes_nothing(es_settings, prefect_api, articles):
    from newsetl.flows.ingest import ingest

    first = ingest(folders=[str(articles)])
    documents = all_documents(es_settings)
    second = ingest(folders=[str(articles)])
    assert balanced(first) and balanced(second)
    assert first["written"] > 0 and first["files_seen"] == len(list(articles.rglob("*.*")))
    assert second["unchanged"] == second["files_seen"] and second["written"] == 0
    assert all_documents(es_settings) == documents
    assert second["seconds"] < first["seconds"] / 3


def test_copies_become_one_article_and_near_duplicates_one_canonical(es_settings, prefect_api, articles):
    from newsetl.flows.ingest import ingest

    shutil.copy(articles / "regional" / "school-meals.txt", articles / "wire" / "school-meals-copy.txt")
    summary = ingest(folders=[str(articles)])
    documents = all_documents(es_settings).values()
    meals = [d for d in documents if d["title"].startswith("Free school meals")]
    assert len(meals) == 1 and len(meals[0]["sources"]) == 2
    assert summary["duplicates"] == 1
    bank = [d for d in documents if "Northland Reserve Bank" in d["organizations"]]
    assert len(bank) == 3 and len({d["cluster_id"] for d in bank}) == 1
    assert sum(d["is_canonical"] for d in bank) == 1
    assert summary["near_duplicates"] == 3  # each of the three shares its cluster with another


def test_moved_file_keeps_its_article_and_deleted_file_leaves_the_index(es_settings, prefect_api, articles):
    from newsetl.flows.ingest import ingest

    ingest(folders=[str(articles)])
    before = all_documents(es_settings)
    moved = articles / "archive" / "bridge.txt"
    moved.parent.mkdir()
    (articles / "regional" / "harbour-bridge-reopens.txt").rename(moved)
    (articles / "web" / "marathon.html").unlink()
    summary = ingest(folders=[str(articles)])
    after = all_documents(es_settings)
    bridge = [d for d in after.values() if d["title"].startswith("Harbour bridge")]
    assert len(bridge) == 1 and [s["path"] for s in bridge[0]["sources"]] == [str(moved)]
    assert bridge[0]["id"] in before
    assert not any(d["title"].startswith("Teacher wins") for d in after.values())
    assert len(after) == len(before) - 1
    assert summary["deleted_sources"] == 2 and summary["articles_deleted"] == 1


def test_changed_file_updates_its_article(es_settings, prefect_api, articles):
    from newsetl.flows.ingest import ingest

    ingest(folders=[str(articles)])
    path = articles / "regional" / "library-archive.txt"
    path.write_text(path.read_text().replace("forty volunteers", "fifty volunteers"))
    summary = ingest(folders=[str(articles)])
    library = [d for d in all_documents(es_settings).values() if d["title"].startswith("City library")]
    assert summary["written"] == 1 and summary["unchanged"] == summary["files_seen"] - 1
    assert len(library) == 1 and "fifty volunteers" in library[0]["body"]


def test_two_halves_give_the_same_clusters_as_the_whole(es_settings, prefect_api, articles, tmp_path):
    from newsetl.flows.ingest import ingest

    ingest(folders=[str(articles)])
    whole = {d["id"]: (d["cluster_id"], d["is_canonical"]) for d in all_documents(es_settings).values()}

    delete_indices(es_settings, es_settings.es.index)
    first_half = [articles / "feeds", articles / "regional"]
    ingest(folders=[str(p) for p in first_half])
    ingest(folders=[str(articles / "wire"), str(articles / "web")])
    halves = {d["id"]: (d["cluster_id"], d["is_canonical"]) for d in all_documents(es_settings).values()}
    assert halves == whole


def test_search_finds_the_seed_by_sanctions_with_a_highlight_and_filters_by_person(es_settings, prefect_api, tmp_path):
    seed = corpus("seed")
    folder = tmp_path / "seed"
    folder.mkdir()
    shutil.copy(next(seed.glob("*.txt")), folder / "putin-kim.txt")
    run = newsetl("run", str(folder), "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["written"] == 1 and balanced(summary)

    found = json.loads(newsetl("search", "sanctions", "--json").stdout.strip().splitlines()[-1])
    assert found["total"] == 1
    assert any("<em>sanction" in snippet.lower() for snippet in found["hits"][0]["snippets"])
    kim = json.loads(newsetl("search", "--person", "Kim Jong-un", "--json").stdout.strip().splitlines()[-1])
    nobody = json.loads(newsetl("search", "--person", "Nobody Atall", "--json").stdout.strip().splitlines()[-1])
    assert kim["total"] == 1 and nobody["total"] == 0
    assert ("Kim Jong-un", 1) in [(f["key"], f["count"]) for f in kim["facets"]["persons"]]


def test_a_document_the_mapping_rejects_ends_in_the_quarantine_index(es_settings, prefect_api, articles):
    from newsetl.tasks.dedupe import ClusterAssignment, ExactGroup, sketch_body
    from newsetl.tasks.es.store import ElasticsearchStore
    from newsetl.tasks.index import index_batch
    from newsetl.tasks.reconcile import BatchPlan, DedupedBatch
    from newsetl.tasks.records import (
        CleanArticle,
        CleanedBatch,
        Enrichment,
        FileRead,
        RunSummary,
        SourceFile,
        SourceRef,
    )

    store = ElasticsearchStore.open(es_settings.es)
    path = str(articles / "bad-date.txt")
    source = SourceFile(path, str(articles), 10, 1.0)
    ref = SourceRef(path, "abc", "text", 10, "2024-01-01T00:00:00Z")
    article = CleanArticle("f" * 32, "Title", "A body of text about nothing much at all.", ref, "g")
    group = ExactGroup(article.id, article, (ref,))
    plan = BatchPlan(new_groups=[group], file_outcomes={path: ("written", (article.id,))})
    cleaned = CleanedBatch((source,), {path: FileRead(source, "abc")}, (article,))
    deduped = DedupedBatch(
        cleaned,
        plan,
        {},
        {article.id: sketch_body(article.body, es_settings.dedupe)},
        {article.id: ClusterAssignment(article.id, True)},
    )
    # An impossible date: the index's `date` mapping refuses it, as it would a corrupt input.
    enrichment = Enrichment("en", published_at="2024-13-45", published_at_source="json")
    summary = RunSummary(files_seen=1)
    index_batch(deduped, {article.id: enrichment}, store, es_settings.es, summary)
    store.client.indices.refresh(index=es_settings.es.quarantine_index)
    hits = store.client.search(index=es_settings.es.quarantine_index, query={"term": {"path": path}})["hits"]["hits"]
    store.close()
    assert summary.quarantined == 1 and summary.quarantine_reasons == {"index_rejected": 1} and summary.is_balanced()
    assert hits and hits[0]["_source"]["reason"] == "index_rejected"
    assert "published_at" in hits[0]["_source"]["detail"]


def newsetl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newsetl.cli", *args], capture_output=True, text=True, timeout=300)


def test_run_with_elasticsearch_down_exits_non_zero_with_one_line(tmp_path, prefect_api, monkeypatch, articles):
    monkeypatch.setenv("NEWSETL_ES_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NEWSETL_ES_MAX_RETRIES", "1")
    monkeypatch.setenv("NEWSETL_ES_RETRY_BACKOFF_SECONDS", "0.1")
    result = newsetl("run", str(articles))
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("newsetl: Elasticsearch at http://127.0.0.1:9 unavailable")
    assert "Traceback" not in result.stderr
