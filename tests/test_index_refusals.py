"""Only a document's own faults quarantine its file; a cluster's refusals fail the run or count `failed` (issue 13)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace

import pytest

from tests.conftest import REPO, SAMPLES, delete_indices


def newsetl(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsetl.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


# --- Pure: which failures quarantine, which are retried, which stop the run ------------------------


def test_failures_are_classified_by_who_caused_them():
    from newsetl.tasks.records import WriteFailure

    mapping = WriteFailure(
        "a", 400, "400 document_parsing_exception: failed to parse field [published_at]", "document_parsing_exception"
    )
    blocked = WriteFailure("a", 403, "403 cluster_block_exception: index [x] blocked", "cluster_block_exception")
    disk = WriteFailure("a", 429, "429 cluster_block_exception: flood-stage watermark", "cluster_block_exception")
    busy = WriteFailure("a", 429, "429 es_rejected_execution_exception", "es_rejected_execution_exception")
    down = WriteFailure("a", 503, "503 unavailable_shards_exception", "unavailable_shards_exception")
    denied = WriteFailure("a", 401, "401 security_exception", "security_exception")
    term = WriteFailure(
        "a",
        400,
        '400 illegal_argument_exception: Document contains at least one immense term in field="body"',
        "illegal_argument_exception",
    )
    alias = WriteFailure(
        "a",
        400,
        "400 illegal_argument_exception: no write index is defined for alias [articles]",
        "illegal_argument_exception",
    )
    assert mapping.by_document and not mapping.blocks_writes
    assert term.by_document and not alias.by_document
    assert [f.blocks_writes for f in (blocked, disk, denied)] == [True, True, True]
    assert not any(f.by_document for f in (blocked, disk, busy, down, denied))
    assert not busy.blocks_writes and not down.blocks_writes


def one_file_batch(tmp_path):
    from newsetl.config.settings import DedupeSettings
    from newsetl.tasks.dedupe import ClusterAssignment, ExactGroup, sketch_body
    from newsetl.tasks.reconcile import BatchPlan, DedupedBatch
    from newsetl.tasks.records import CleanArticle, CleanedBatch, FileRead, SourceFile, SourceRef

    path = str(tmp_path / "a.txt")
    source = SourceFile(path, str(tmp_path), 10, 1.0)
    ref = SourceRef(path, "abc", "text", 10, "2024-01-01T00:00:00Z")
    article = CleanArticle("f" * 32, "Title", "A body of text about the harbour and its ferries.", ref, "g")
    plan = BatchPlan(
        new_groups=[ExactGroup(article.id, article, (ref,))], file_outcomes={path: ("written", (article.id,))}
    )
    cleaned = CleanedBatch((source,), {path: FileRead(source, "abc")}, (article,))
    sketches = {article.id: sketch_body(article.body, DedupeSettings())}
    return DedupedBatch(cleaned, plan, {}, sketches, {article.id: ClusterAssignment(article.id, True)}), path


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [
        (("document_parsing_exception", 400), "quarantined"),
        (("es_rejected_execution_exception", 429), "failed"),
        (("unavailable_shards_exception", 503), "failed"),
        (("version_conflict_engine_exception", 409), "failed"),
    ],
)
def test_state_writes_quarantine_only_what_the_document_caused(tmp_path, failure, outcome):
    from newsetl.tasks.index import state_writes
    from newsetl.tasks.records import RunSummary, WriteFailure

    deduped, path = one_file_batch(tmp_path)
    error_type, status = failure
    summary = RunSummary(files_seen=1)
    writes = state_writes(deduped, [WriteFailure("f" * 32, status, f"{status} {error_type}: x", error_type)], summary)
    assert summary.is_balanced() and getattr(summary, outcome) == 1
    if outcome == "quarantined":
        assert [(s.path, s.status) for s in writes.states] == [(path, "quarantined")] and writes.quarantine[
            0
        ].reason == "index_rejected"
    else:
        assert writes.states == [] and writes.quarantine == []  # no state: the next run reads the file again


def test_a_blocked_cluster_stops_the_batch_before_anything_is_recorded(tmp_path):
    from newsetl.config.settings import ElasticsearchSettings
    from newsetl.tasks.errors import WritesRefused
    from newsetl.tasks.index import index_batch
    from newsetl.tasks.records import Enrichment, RunSummary, WriteFailure
    from newsetl.tasks.store import MemoryStore

    class BlockedStore(MemoryStore):
        def write_articles(self, writes):
            return [
                WriteFailure(
                    i,
                    403,
                    "403 cluster_block_exception: index [x] blocked by: [FORBIDDEN/8/index write (api)];",
                    "cluster_block_exception",
                )
                for i in writes.documents
            ]

    deduped, _ = one_file_batch(tmp_path)
    store = BlockedStore()
    with pytest.raises(WritesRefused, match="refused to write to 'articles': 403 cluster_block_exception"):
        index_batch(deduped, {"f" * 32: Enrichment("en")}, store, ElasticsearchSettings(), RunSummary(files_seen=1))
    assert store.states == {} and store.quarantine == {}


def test_a_request_error_in_a_read_is_not_retried():
    from newsetl.config.settings import ElasticsearchSettings
    from newsetl.tasks.errors import ConfigurationError
    from newsetl.tasks.es.client import complete, with_retries

    es = ElasticsearchSettings(max_retries=5, retry_backoff_seconds=5)
    answer = {
        "docs": [
            {"_id": "a", "error": {"type": "illegal_argument_exception", "reason": "alias [x] has more than one index"}}
        ]
    }
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="illegal_argument_exception: alias .x. has more than one index"):
        with_retries(lambda: complete(answer, "get articles"), es, "get articles")
    assert time.monotonic() - started < 1


# --- The real node ------------------------------------------------------------------------------


@pytest.mark.elasticsearch
@pytest.mark.prefect
@pytest.mark.slow
def test_a_write_block_fails_the_run_and_a_plain_rerun_writes_everything(es_settings, prefect_api, tmp_path):
    from newsetl.flows.ingest import ingest
    from newsetl.tasks.es.client import connect

    folder = tmp_path / "articles"
    shutil.copytree(SAMPLES / "wire", folder / "wire")
    assert ingest(folders=[str(folder)])["written"] >= 1
    shutil.copytree(SAMPLES / "regional", folder / "regional")
    new_files = sum(1 for p in (folder / "regional").rglob("*") if p.is_file())
    client = connect(es_settings.es)
    index = es_settings.es.versioned_index()
    client.indices.put_settings(index=index, settings={"index.blocks.write": True})
    try:
        blocked = newsetl("run", str(folder), "--json")
    finally:
        client.indices.put_settings(index=index, settings={"index.blocks.write": False})
    assert blocked.returncode == 1
    assert (
        blocked.stderr.strip()
        .splitlines()[-1]
        .startswith(f"newsetl: Elasticsearch refused to write to '{es_settings.es.index}': 403 cluster_block_exception")
    )
    assert "Traceback" not in blocked.stderr
    client.indices.refresh(index=es_settings.es.quarantine_index)
    rejected = client.count(index=es_settings.es.quarantine_index, query={"term": {"reason": "index_rejected"}})[
        "count"
    ]
    assert rejected == 0  # the cluster's refusal is no fault of the files

    summary = ingest(folders=[str(folder)])  # a plain run, as the next nightly one
    assert summary["written"] + summary["duplicates"] == new_files and summary["quarantined"] == 0
    assert summary["files_seen"] == summary["written"] + summary["unchanged"] + summary["duplicates"]
    client.indices.refresh(index=es_settings.es.index)
    paths = {
        s["path"]
        for hit in client.search(index=es_settings.es.index, size=100)["hits"]["hits"]
        for s in hit["_source"]["sources"]
    }
    client.close()
    assert paths == {str(p) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.elasticsearch
def test_an_alias_on_two_indices_is_one_line_at_once(es_settings):
    from newsetl.tasks.errors import ConfigurationError
    from newsetl.tasks.es.client import connect
    from newsetl.tasks.es.store import ElasticsearchStore

    es = replace(es_settings.es, max_retries=5, retry_backoff_seconds=2)
    client = connect(es)
    for version in (1, 2):
        client.indices.create(index=es.versioned_index(version), aliases={es.index: {}})
    client.close()
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as error:
        ElasticsearchStore.open(es)
    assert time.monotonic() - started < 5  # no retries with backoff
    message = str(error.value)
    assert "\n" not in message and f"alias '{es.index}' points at 2 indices ({es.index}-v1, {es.index}-v2)" in message


@pytest.mark.elasticsearch
def test_first_runs_racing_on_a_new_alias_all_succeed(es_node):
    from newsetl.tasks.es.admin import alias_target, ensure_indices
    from newsetl.tasks.es.client import connect

    alias = f"test-race-{uuid.uuid4().hex[:8]}"
    es = replace(es_node.es, index=alias)
    clients = [connect(es) for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    results: list[object] = []

    def first_run(client) -> None:
        barrier.wait()
        try:
            results.append(ensure_indices(client, es))
        except Exception as error:  # noqa: BLE001 - the assertion below shows it
            results.append(error)

    threads = [threading.Thread(target=first_run, args=(client,)) for client in clients]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert results == [f"{alias}-v1"] * 4
        assert alias_target(clients[0], es) == f"{alias}-v1"
        assert clients[0].indices.exists(index=[es.sources_index, es.quarantine_index]).body
    finally:
        for client in clients:
            client.close()
        delete_indices(es_node, alias)
