"""The Elasticsearch store: an ArticleStore over the alias, `<alias>-sources` and `<alias>-quarantine`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from elasticsearch import Elasticsearch

from newsetl.config.settings import ElasticsearchSettings
from newsetl.tasks.errors import NewsetlError
from newsetl.tasks.es.admin import ensure_indices
from newsetl.tasks.es.client import PAGE_SIZE, bulk_write, complete, connect, scan_documents, with_retries
from newsetl.tasks.es.documents import quarantine_id, utc_now
from newsetl.tasks.records import Quarantine, SourceState, StoredArticle, WriteFailure
from newsetl.tasks.source_state import state_id
from newsetl.tasks.store import (
    ArticleStore,
    ArticleWrites,
    StateWrites,
    state_from_dict,
    state_to_dict,
    stored_from_document,
)

STORED_FIELDS = ["id", "sources", "cluster_id", "is_canonical", "minhash", "published_at", "word_count", "text_hash"]


class ElasticsearchStore:
    """An ArticleStore over the alias, `<alias>-sources` and `<alias>-quarantine`."""

    def __init__(
        self, client: Elasticsearch, es: ElasticsearchSettings, run_id: str = "", articles_index: str = ""
    ) -> None:
        self.client = client
        self.es = es
        self.run_id = run_id
        # The alias, or a new index version being built before the alias moves to it.
        self.articles = articles_index or es.index

    @classmethod
    def open(cls, es: ElasticsearchSettings, run_id: str = "") -> ElasticsearchStore:
        client = connect(es)
        ensure_indices(client, es)
        return cls(client, es, run_id)

    # Reads

    def source_states(self, roots: Sequence[str]) -> dict[str, SourceState]:
        prefixes = [root.rstrip("/") for root in roots]
        query = {"bool": {"should": [{"prefix": {"path": p}} for p in prefixes], "minimum_should_match": 1}}
        # Groups and block fingerprints too: a run takes off the counts of the files it reads again (RunStore).
        fields = ["path", "size", "mtime", "sha256", "status", "article_ids", "reason", "groups", "block_fingerprints"]
        return {
            hit["path"]: state_from_dict(hit)
            for hit in self.scan(self.es.sources_index, query, fields, sort_field="path")
        }

    def stored_articles(self, ids: Iterable[str]) -> dict[str, StoredArticle]:
        ids = sorted(set(ids))
        found: dict[str, StoredArticle] = {}
        for start in range(0, len(ids), PAGE_SIZE):
            chunk = ids[start : start + PAGE_SIZE]
            response = with_retries(
                lambda chunk=chunk: complete(
                    self.client.mget(index=self.articles, ids=chunk, source_includes=STORED_FIELDS), "get articles"
                ),
                self.es,
                "get articles",
            )
            for doc in response["docs"]:
                if doc.get("found"):
                    found[doc["_id"]] = stored_from_document(doc["_source"])
        return found

    def articles_with_text(self, text_hashes: Iterable[str]) -> dict[str, StoredArticle]:
        hashes = sorted(set(text_hashes))
        found: dict[str, StoredArticle] = {}
        for start in range(0, len(hashes), PAGE_SIZE):
            chunk = hashes[start : start + PAGE_SIZE]
            # Articles written before text hashes were stored have theirs as their id.
            query = {
                "bool": {
                    "should": [{"terms": {"text_hash": chunk}}, {"ids": {"values": chunk}}],
                    "minimum_should_match": 1,
                }
            }
            for source in self.scan(self.articles, query, STORED_FIELDS, sort_field="id"):
                article = stored_from_document(source)
                found.setdefault(article.text_key, article)
        return found

    def near_candidates(self, band_keys: Iterable[str]) -> list[StoredArticle]:
        keys = sorted(set(band_keys))
        if not keys:
            return []
        hits: dict[str, StoredArticle] = {}
        for start in range(0, len(keys), PAGE_SIZE):
            query = {"terms": {"lsh_bands": keys[start : start + PAGE_SIZE]}}
            for source in self.scan(self.articles, query, STORED_FIELDS, sort_field="id"):
                hits[source["id"]] = stored_from_document(source)
        return list(hits.values())

    def cluster_members(self, cluster_ids: Iterable[str]) -> list[StoredArticle]:
        ids = sorted(set(cluster_ids))
        members: dict[str, StoredArticle] = {}
        for start in range(0, len(ids), PAGE_SIZE):
            query = {"terms": {"cluster_id": ids[start : start + PAGE_SIZE]}}
            for source in self.scan(self.articles, query, STORED_FIELDS, sort_field="id"):
                members[source["id"]] = stored_from_document(source)
        return list(members.values())

    def block_counts(self, groups: Iterable[str], fingerprints: Iterable[str]) -> tuple[dict[str, int], dict[str, int]]:
        groups, fingerprints = sorted(set(groups)), sorted(set(fingerprints))
        if not groups:
            return {}, {}
        aggs: dict[str, Any] = {"groups": {"terms": {"field": "groups", "include": groups, "size": len(groups)}}}
        for start in range(0, len(fingerprints), PAGE_SIZE):
            chunk = fingerprints[start : start + PAGE_SIZE]
            aggs[f"blocks{start}"] = {"terms": {"field": "block_fingerprints", "include": chunk, "size": len(chunk)}}
        response = with_retries(
            lambda: complete(
                self.client.search(index=self.es.sources_index, size=0, aggs=aggs, query={"terms": {"groups": groups}}),
                "count boilerplate blocks",
            ),
            self.es,
            "count boilerplate blocks",
        )
        counts = {
            name: {b["key"]: b["doc_count"] for b in agg["buckets"]} for name, agg in response["aggregations"].items()
        }
        group_files = counts.pop("groups")
        block_files = {key: n for agg in counts.values() for key, n in agg.items()}
        return group_files, block_files

    # Writes

    def write_articles(self, writes: ArticleWrites) -> list[WriteFailure]:
        """Bulk-write article changes, then refresh so the next batch's look-ups see them."""
        actions: list[dict[str, Any]] = []
        actions += [
            {"_op_type": "index", "_index": self.articles, "_id": i, "_source": d} for i, d in writes.documents.items()
        ]
        actions += [
            {"_op_type": "update", "_index": self.articles, "_id": i, "doc": d} for i, d in writes.updates.items()
        ]
        actions += [{"_op_type": "delete", "_index": self.articles, "_id": i} for i in sorted(writes.deletes)]
        failures = self.bulk(actions)
        if actions:
            with_retries(lambda: self.client.indices.refresh(index=self.articles), self.es, "refresh")
        return failures

    def write_states(self, writes: StateWrites) -> None:
        """File states and quarantine records of a batch."""
        now = utc_now()
        actions = [
            {
                "_op_type": "index",
                "_index": self.es.sources_index,
                "_id": state_id(state.path),
                "_source": state_to_dict(state, state.path.rsplit("/", 1)[0], now),
            }
            for state in writes.states
        ]
        actions += [
            {"_op_type": "delete", "_index": self.es.sources_index, "_id": state_id(p)} for p in writes.removed_states
        ]
        actions += self._quarantine_actions(writes, now)
        failures = self.bulk(actions)
        if failures:
            raise NewsetlError(f"could not record file states: {failures[0].reason}")
        if actions:
            with_retries(
                lambda: self.client.indices.refresh(index=[self.es.sources_index, self.es.quarantine_index]),
                self.es,
                "refresh",
            )

    def _quarantine_actions(self, batch: StateWrites, now: str) -> list[dict[str, Any]]:
        """Replace the quarantine records of every path the batch read (no delete-by-query here)."""
        paths = sorted({*batch.cleared_quarantine, *(record.path for record in batch.quarantine)})
        new = {quarantine_id(record): record for record in batch.quarantine}
        actions: list[dict[str, Any]] = []
        for start in range(0, len(paths), PAGE_SIZE):
            query = {"terms": {"path": paths[start : start + PAGE_SIZE]}}
            for hit in self.scan(self.es.quarantine_index, query, ["path", "reason", "detail"], sort_field="path"):
                old_id = quarantine_id(Quarantine(hit["path"], hit["reason"], hit.get("detail", "")))
                if old_id not in new:
                    actions.append({"_op_type": "delete", "_index": self.es.quarantine_index, "_id": old_id})
        for record_id, record in new.items():
            source = {
                "path": record.path,
                "folder": record.path.rsplit("/", 1)[0],
                "reason": record.reason,
                "detail": record.detail,
                "run_id": self.run_id,
                "quarantined_at": now,
            }
            actions.append(
                {"_op_type": "index", "_index": self.es.quarantine_index, "_id": record_id, "_source": source}
            )
        return actions

    def scan(self, index: str, query: dict[str, Any], fields: list[str], sort_field: str) -> Iterator[dict[str, Any]]:
        """Every matching document's _source (see scan_documents)."""
        return scan_documents(self.client, self.es, index, query, fields, sort_field)

    def bulk(self, actions: list[dict[str, Any]]) -> list[WriteFailure]:
        """Bulk-write actions; the items Elasticsearch refused (see bulk_write)."""
        return bulk_write(self.client, self.es, actions)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ElasticsearchStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class DryRunStore:
    """Reads from the index, writes nothing: a dry run counts what a real run would do."""

    def __init__(self, store: ArticleStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def write_articles(self, writes: ArticleWrites) -> list[WriteFailure]:
        return []

    def write_states(self, writes: StateWrites) -> None:
        return None

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> DryRunStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
