"""The indexing step: Elasticsearch connection, indices behind the alias, bulk writes, the store.

Plumbing (connect, retries, bulk) apart from names and mappings (config/*.json) apart from
document formatting (`article_document`, pure).
"""

from __future__ import annotations

import hashlib
import json
import logging
import ssl
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

from elasticsearch import ApiError, ConnectionError as EsConnectionError, ConnectionTimeout, Elasticsearch, TransportError
from elasticsearch import helpers
from prefect import task
from prefect.cache_policies import NONE

from config.settings import CONFIG_DIR, INDEX_TEMPLATE_FILE, ElasticsearchSettings, Settings
from tasks.dedupe import ClusterAssignment, ExactGroup, encode_signature
from tasks.errors import ConfigurationError, ElasticsearchUnavailable, NewsetlError, TransientError
from tasks.reconcile import DedupedBatch, StoredArticle, cluster_changes, remove_sources
from tasks.records import INDEX_REJECTED, CleanedBatch, Enrichment, Quarantine, RunSummary, SourceRef
from tasks.source_state import DUPLICATE, QUARANTINED, WRITTEN, SourceState, quarantined_state, refused_states, state_id
from tasks.store import ArticleWrites, StateWrites, WriteFailure, state_from_dict, state_to_dict, stored_from_document

PIPELINE_VERSION = "1"
SOURCES_INDEX_FILE = CONFIG_DIR / "sources_index.json"
QUARANTINE_INDEX_FILE = CONFIG_DIR / "quarantine_index.json"
TRANSIENT_STATUS = {429, 502, 503, 504}
STORED_FIELDS = ["id", "sources", "cluster_id", "is_canonical", "minhash", "published_at", "word_count"]
PAGE_SIZE = 5000

log = logging.getLogger("newsetl.index")

if TYPE_CHECKING:
    from tasks.enrich import EnrichedBatch
    from tasks.store import ArticleStore
T = TypeVar("T")


# --- Connection and retries ---------------------------------------------------------------------


def connect(es: ElasticsearchSettings) -> Elasticsearch:
    """A client for the configured cluster; credentials only from settings (environment)."""
    options: dict[str, Any] = {
        "request_timeout": es.request_timeout,
        # Our own retry loop (with backoff) handles outages; the client's is immediate.
        "max_retries": 0,
        "retry_on_timeout": False,
    }
    if es.api_key:
        options["api_key"] = es.api_key
    elif es.username:
        options["basic_auth"] = (es.username, es.password)
    if es.url.startswith("https"):
        options["verify_certs"] = es.verify_certs
        if es.ca_certs:
            if not Path(es.ca_certs).is_file():
                raise ConfigurationError(f"NEWSETL_ES_CA_CERTS: no such file {es.ca_certs}")
            options["ca_certs"] = es.ca_certs
    return Elasticsearch(es.url, **options)


class IncompleteResponse(TransientError):
    """Elasticsearch answered without some shards or documents (e.g. while a restarted node recovers)."""


def complete(response: T, what: str) -> T:
    """The response, unless some shards or documents are missing from it: a partial answer would
    make existing articles look new and clusters look smaller."""
    body = getattr(response, "body", response)
    shards = body.get("_shards", {})
    if body.get("timed_out") or shards.get("failed"):
        raise IncompleteResponse(f"{what}: {shards.get('failed', 0)} of {shards.get('total', '?')} shards failed")
    errors = [doc["error"] for doc in body.get("docs", ()) if "error" in doc]
    if errors:
        first = errors[0].get("type", "") if isinstance(errors[0], dict) else str(errors[0])
        raise IncompleteResponse(f"{what}: {len(errors)} documents could not be read ({first})")
    return response


def is_transient(error: Exception) -> bool:
    if isinstance(error, IncompleteResponse):
        return True
    if isinstance(error, (EsConnectionError, ConnectionTimeout)):
        return True
    if isinstance(error, ApiError):
        return error.meta.status in TRANSIENT_STATUS
    return isinstance(error, TransportError)


def with_retries(call: Callable[[], T], es: ElasticsearchSettings, what: str) -> T:
    """Run one Elasticsearch call, retrying connection errors, 429 and 5xx with exponential backoff."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - classified right below
            refused = certificate_error(error)
            if refused is not None:
                # NOTE: the client reports a certificate it does not trust as a connection error;
                # no retry can make it trusted.
                raise ConfigurationError(
                    f"TLS to Elasticsearch at {es.url} failed ({what}): {refused} "
                    "(set NEWSETL_ES_CA_CERTS to the cluster's CA certificate)"
                ) from error
            if not is_transient(error):
                if isinstance(error, ApiError) and error.meta.status in {401, 403}:
                    raise ConfigurationError(f"Elasticsearch refused {what}: {_reason(error)} (check credentials)") from error
                raise
            if attempt >= es.max_retries:
                raise ElasticsearchUnavailable(
                    f"Elasticsearch at {es.url} unavailable ({what}) after {attempt + 1} attempts: {_reason(error)}"
                ) from error
            delay = es.retry_backoff_seconds * (2**attempt)
            log.warning("Elasticsearch %s failed (%s); retry %d/%d in %.1fs", what, _reason(error), attempt + 1, es.max_retries, delay)
            time.sleep(delay)
            attempt += 1


def certificate_error(error: BaseException) -> str | None:
    """Why the server's TLS certificate was not trusted, when that is what this error is."""
    cause: BaseException | None = error
    for _ in range(8):  # a chain of causes can loop back on itself
        if cause is None:
            break
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {cause.verify_message or cause.reason}"
        cause = cause.__cause__ or cause.__context__
    return None


def _reason(error: Exception) -> str:
    if isinstance(error, ApiError):
        info = error.info if isinstance(error.info, dict) else {}
        cause = info.get("error", {})
        if isinstance(cause, dict):
            return f"{error.meta.status} {cause.get('type', '')}: {cause.get('reason', '')}".strip()
        return f"{error.meta.status} {error.message}"
    return f"{type(error).__name__}: {str(error)[:200]}"


# --- Indices and alias --------------------------------------------------------------------------


def load_json(path: Path) -> dict[str, Any]:
    body = json.loads(path.read_text(encoding="utf-8"))
    body.pop("_comment", None)
    return body


def index_template(es: ElasticsearchSettings) -> dict[str, Any]:
    """The article index template of config/index_template.json for this alias."""
    template = load_json(INDEX_TEMPLATE_FILE)
    template["index_patterns"] = [f"{es.index}-v*"]
    return template


def ensure_indices(client: Elasticsearch, es: ElasticsearchSettings) -> str:
    """Template, versioned article index behind the alias, sources and quarantine indices; safe to rerun.

    Returns the index the alias points to.
    """
    template = index_template(es)
    with_retries(lambda: client.indices.put_index_template(name=es.index, **template), es, "put index template")
    current = alias_target(client, es)
    if current is None:
        name = es.versioned_index()
        if with_retries(lambda: client.indices.exists(index=name), es, "check index").body:
            with_retries(lambda: client.indices.put_alias(index=name, name=es.index), es, "put alias")
        else:
            with_retries(lambda: client.indices.create(index=name, aliases={es.index: {}}), es, "create index")
        current = name
    for name, path in ((es.sources_index, SOURCES_INDEX_FILE), (es.quarantine_index, QUARANTINE_INDEX_FILE)):
        if not with_retries(lambda: client.indices.exists(index=name), es, "check index").body:
            body = load_json(path)
            try:
                with_retries(lambda: client.indices.create(index=name, **body), es, f"create {name}")
            except ApiError as error:
                if error.meta.status != 400 or "already_exists" not in str(error.info):
                    raise
    return current


def alias_target(client: Elasticsearch, es: ElasticsearchSettings) -> str | None:
    """The index behind the alias, or None; a concrete index of the alias's name is an error."""
    if with_retries(lambda: client.indices.exists_alias(name=es.index), es, "check alias").body:
        targets = sorted(with_retries(lambda: client.indices.get_alias(name=es.index), es, "get alias").body)
        return targets[-1]
    if with_retries(lambda: client.indices.exists(index=es.index), es, "check index").body:
        raise ConfigurationError(f"'{es.index}' is an index, not an alias; newsetl needs the name free for its alias")
    return None


# --- Documents ----------------------------------------------------------------------------------


def source_document(ref: SourceRef) -> dict[str, Any]:
    return {
        "path": ref.path,
        "folder": ref.path.rsplit("/", 1)[0] or "/",
        "sha256": ref.sha256,
        "format": ref.format,
        "size": ref.size,
        "modified": ref.modified,
        "record": ref.record,
    }


def article_document(
    group: ExactGroup,
    enrichment: Enrichment,
    assignment: ClusterAssignment,
    minhash: str,
    band_keys: Sequence[str],
    ingested_at: str,
) -> dict[str, Any]:
    """The `_source` of an article (CONTRACT.md), from its exact-duplicate group and enrichment."""
    article = group.representative
    return {
        "id": article.id,
        "title": article.title,
        "body": article.body,
        "language": enrichment.language,
        "url": article.url,
        "author": article.author,
        "site_name": article.site_name,
        "published_at": enrichment.published_at,
        "published_at_source": enrichment.published_at_source,
        "dates_mentioned": [
            {"text": m.text, "date": m.date, "start": m.start, "end": m.end} for m in enrichment.dates_mentioned
        ],
        "persons": list(enrichment.persons),
        "organizations": list(enrichment.organizations),
        "locations": list(enrichment.locations),
        "other_entities": list(enrichment.other_entities),
        "entities": [{"text": e.text, "label": e.label, "count": e.count} for e in enrichment.entities],
        "sources": [source_document(ref) for ref in group.sources],
        "source_count": len(group.sources),
        "group": article.group,
        "cluster_id": assignment.cluster_id,
        "is_canonical": assignment.is_canonical,
        "lsh_bands": list(band_keys),
        "minhash": minhash,
        "word_count": article.word_count,
        "ner_applied": enrichment.ner_applied,
        "ingested_at": ingested_at,
        "pipeline_version": PIPELINE_VERSION,
    }


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def quarantine_id(record: Quarantine) -> str:
    """One document per distinct problem of an input: a rerun overwrites it instead of adding one."""
    key = "\n".join((record.path, record.reason, record.detail))
    return hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()


# --- The Elasticsearch store --------------------------------------------------------------------


class ElasticsearchStore:
    """An ArticleStore over the alias, `<alias>-sources` and `<alias>-quarantine`."""

    def __init__(self, client: Elasticsearch, es: ElasticsearchSettings, run_id: str = "", articles_index: str = "") -> None:
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
        fields = ["path", "size", "mtime", "sha256", "status", "article_ids", "reason"]
        return {
            hit["path"]: state_from_dict(hit)
            for hit in self._scan(self.es.sources_index, query, fields, sort_field="path")
        }

    def stored_articles(self, ids: Iterable[str]) -> dict[str, StoredArticle]:
        ids = sorted(set(ids))
        found: dict[str, StoredArticle] = {}
        for start in range(0, len(ids), PAGE_SIZE):
            chunk = ids[start : start + PAGE_SIZE]
            response = with_retries(
                lambda: complete(self.client.mget(index=self.articles, ids=chunk, source_includes=STORED_FIELDS), "get articles"),
                self.es,
                "get articles",
            )
            for doc in response["docs"]:
                if doc.get("found"):
                    found[doc["_id"]] = stored_from_document(doc["_source"])
        return found

    def near_candidates(self, band_keys: Iterable[str]) -> list[StoredArticle]:
        keys = sorted(set(band_keys))
        if not keys:
            return []
        hits: dict[str, StoredArticle] = {}
        for start in range(0, len(keys), PAGE_SIZE):
            query = {"terms": {"lsh_bands": keys[start : start + PAGE_SIZE]}}
            for source in self._scan(self.articles, query, STORED_FIELDS, sort_field="id"):
                hits[source["id"]] = stored_from_document(source)
        return list(hits.values())

    def cluster_members(self, cluster_ids: Iterable[str]) -> list[StoredArticle]:
        ids = sorted(set(cluster_ids))
        members: dict[str, StoredArticle] = {}
        for start in range(0, len(ids), PAGE_SIZE):
            query = {"terms": {"cluster_id": ids[start : start + PAGE_SIZE]}}
            for source in self._scan(self.articles, query, STORED_FIELDS, sort_field="id"):
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
        counts = {name: {b["key"]: b["doc_count"] for b in agg["buckets"]} for name, agg in response["aggregations"].items()}
        group_files = counts.pop("groups")
        block_files = {key: n for agg in counts.values() for key, n in agg.items()}
        return group_files, block_files

    def _scan(self, index: str, query: dict[str, Any], fields: list[str], sort_field: str) -> Iterator[dict[str, Any]]:
        """Every matching document's _source, paged with search_after (no scroll context to leak)."""
        after: list[Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"index": index, "query": query, "size": PAGE_SIZE, "sort": [{sort_field: "asc"}]}
            if fields:
                kwargs["source_includes"] = fields
            if after is not None:
                kwargs["search_after"] = after
            hits = with_retries(lambda: complete(self.client.search(**kwargs), f"read {index}"), self.es, f"read {index}")["hits"]["hits"]
            for hit in hits:
                yield hit["_source"]
            if len(hits) < PAGE_SIZE:
                return
            after = hits[-1]["sort"]

    # Writes

    def write_articles(self, writes: ArticleWrites) -> list[WriteFailure]:
        """Bulk-write article changes, then refresh so the next batch's look-ups see them."""
        actions: list[dict[str, Any]] = []
        actions += [{"_op_type": "index", "_index": self.articles, "_id": i, "_source": d} for i, d in writes.documents.items()]
        actions += [{"_op_type": "update", "_index": self.articles, "_id": i, "doc": d} for i, d in writes.updates.items()]
        actions += [{"_op_type": "delete", "_index": self.articles, "_id": i} for i in sorted(writes.deletes)]
        failures = self._bulk(actions)
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
        actions += [{"_op_type": "delete", "_index": self.es.sources_index, "_id": state_id(p)} for p in writes.removed_states]
        actions += self._quarantine_actions(writes, now)
        failures = self._bulk(actions)
        if failures:
            raise NewsetlError(f"could not record file states: {failures[0].reason}")
        if actions:
            with_retries(
                lambda: self.client.indices.refresh(index=[self.es.sources_index, self.es.quarantine_index]), self.es, "refresh"
            )

    def _quarantine_actions(self, batch: StateWrites, now: str) -> list[dict[str, Any]]:
        """Replace the quarantine records of every path the batch read (no delete-by-query here)."""
        paths = sorted({*batch.cleared_quarantine, *(record.path for record in batch.quarantine)})
        new = {quarantine_id(record): record for record in batch.quarantine}
        actions: list[dict[str, Any]] = []
        for start in range(0, len(paths), PAGE_SIZE):
            query = {"terms": {"path": paths[start : start + PAGE_SIZE]}}
            for hit in self._scan(self.es.quarantine_index, query, ["path", "reason", "detail"], sort_field="path"):
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
            actions.append({"_op_type": "index", "_index": self.es.quarantine_index, "_id": record_id, "_source": source})
        return actions

    def _bulk(self, actions: list[dict[str, Any]]) -> list[WriteFailure]:
        if not actions:
            return []

        def send() -> list[WriteFailure]:
            failures = []
            for ok, item in helpers.streaming_bulk(
                self.client,
                actions,
                chunk_size=self.es.bulk_chunk_size,
                max_chunk_bytes=self.es.bulk_max_bytes,
                raise_on_error=False,
                raise_on_exception=True,
                max_retries=self.es.max_retries,
                initial_backoff=self.es.retry_backoff_seconds,
                yield_ok=False,
            ):
                operation, result = next(iter(item.items()))
                status = int(result.get("status", 0))
                if operation == "delete" and status == 404:
                    continue  # already gone: what we wanted
                if operation == "update" and status == 404:
                    continue  # deleted meanwhile; nothing to update
                error = result.get("error", {})
                reason = f"{error.get('type', '')}: {error.get('reason', '')}" if isinstance(error, dict) else str(error)
                failures.append(WriteFailure(result.get("_id", ""), status, reason[:500], status in TRANSIENT_STATUS))
            return failures

        return with_retries(send, self.es, "bulk write")

    def close(self) -> None:
        self.client.close()


def check_reachable(es: ElasticsearchSettings) -> None:
    """Raise a one-line error when Elasticsearch does not answer (after retries)."""
    client = connect(es)
    try:
        with_retries(lambda: client.cluster.health(), es, "cluster health")
    except NewsetlError:
        raise
    finally:
        client.close()


# --- The indexing step of a batch ---------------------------------------------------------------


def article_writes(deduped: DedupedBatch, enrichments: Mapping[str, Enrichment], es: ElasticsearchSettings, now: str) -> ArticleWrites:
    """New documents, source-list and cluster updates, deletions of articles left with no source."""
    plan = deduped.plan
    writes = ArticleWrites()
    for group in plan.new_groups:
        sketch = deduped.sketches[group.id]
        writes.documents[group.id] = article_document(
            group,
            enrichments[group.id],
            deduped.assignments[group.id],
            encode_signature(sketch.signature) if sketch.comparable else "",
            sketch.band_keys,
            now,
        )
    for article_id, sources in plan.source_updates.items():
        writes.update(article_id, sources=[source_document(ref) for ref in sources], source_count=len(sources))
    for article_id in plan.orphaned:
        if es.delete_orphans:
            writes.delete(article_id)
        else:
            writes.update(article_id, sources=[], source_count=0)
    for article_id, assignment in deduped.assignments.items():
        if article_id not in writes.documents:
            writes.update(article_id, cluster_id=assignment.cluster_id, is_canonical=assignment.is_canonical)
    return writes


def is_near_duplicate(article_id: str, assignments: Mapping[str, ClusterAssignment]) -> bool:
    """True when a new article shares its cluster with another article."""
    own = assignments[article_id]
    return not own.is_canonical or any(a.cluster_id == article_id for i, a in assignments.items() if i != article_id)


def state_writes(
    deduped: DedupedBatch, failures: Sequence[WriteFailure], summary: RunSummary
) -> StateWrites:
    """File states and quarantine records of a batch, counting each file once in the summary."""
    cleaned = deduped.cleaned
    by_id = {failure.article_id: failure for failure in failures}
    by_path = {source.path: source for source in cleaned.files}
    writes = StateWrites(quarantine=[*cleaned.quarantined, *cleaned.problems])
    for path, (status, ids) in sorted(deduped.plan.file_outcomes.items()):
        read = cleaned.read[path]
        failed = [by_id[i] for i in ids if i in by_id]
        if any(f.transient for f in failed):
            summary.count_failed(path, failed[0].reason)  # no state: the next run reads it again
            continue
        if failed:
            writes.quarantine.append(Quarantine(path, INDEX_REJECTED, failed[0].reason))
            writes.states.append(SourceState(path, read.source.size, read.source.mtime, read.sha256, QUARANTINED, reason=INDEX_REJECTED))
            summary.count_quarantine(INDEX_REJECTED, path)
            continue
        near = status == WRITTEN and any(i in deduped.sketches and is_near_duplicate(i, deduped.assignments) for i in ids)
        # Boilerplate counts are per story: only the first copy of a story that is not a version
        # of another one adds its blocks (see tasks.clean.persisted_counts).
        counted = status == WRITTEN and not near
        writes.states.append(
            SourceState(
                path, read.source.size, read.source.mtime, read.sha256, status, ids, "",
                read.groups if counted else (), read.block_fingerprints if counted else (),
            )  # fmt: skip
        )
        writes.cleared_quarantine.append(path)
        if status == WRITTEN:
            summary.written += 1
            summary.near_duplicates += near
        elif status == DUPLICATE:
            summary.duplicates += 1
        else:
            summary.unchanged += 1
    for record in cleaned.quarantined:
        writes.states.append(quarantined_state(record, by_path[record.path]))
        summary.count_quarantine(record.reason, record.path)
    for path, reason in cleaned.failed.items():
        summary.count_failed(path, reason)
    return writes


def index_batch(deduped: DedupedBatch, enrichments: Mapping[str, Enrichment], store: ArticleStore, es: ElasticsearchSettings, summary: RunSummary) -> None:
    """Write a batch's articles, then its file states (a crash in between only makes the next run re-read)."""
    failures = store.write_articles(article_writes(deduped, enrichments, es, utc_now()))
    for failure in failures:
        log.warning("article %s not written (%s): %s", failure.article_id, failure.status, failure.reason)
    store.write_states(state_writes(deduped, failures, summary))


@task(name="index", cache_policy=NONE)
def index_batch_task(enriched: EnrichedBatch, store: ArticleStore, settings: Settings, summary: RunSummary) -> None:
    """Bulk-index a batch behind the alias and record its files."""
    with summary.timed("index"):
        index_batch(enriched.deduped, enriched.enrichments, store, settings.es, summary)


def remove_deleted(deleted: Sequence[SourceState], store: ArticleStore, settings: Settings, summary: RunSummary) -> None:
    """Files gone since the last run: out of their articles' sources; articles with none left deleted."""
    if not deleted:
        return
    paths = {state.path for state in deleted}
    stored = store.stored_articles({i for state in deleted for i in state.article_ids})
    plan = remove_sources(paths, stored)
    removed = [stored[i] for i in plan.orphaned] if settings.es.delete_orphans else []
    assignments = cluster_changes([], [], removed, store, settings.dedupe)
    deduped = DedupedBatch(CleanedBatch((), {}, ()), plan, stored, {}, assignments)
    failures = store.write_articles(article_writes(deduped, {}, settings.es, utc_now()))
    if failures:
        raise NewsetlError(f"could not update articles of deleted files: {failures[0].reason}")
    store.write_states(StateWrites(removed_states=sorted(paths), cleared_quarantine=sorted(paths)))
    summary.deleted_sources += len(paths)
    summary.articles_deleted += len(removed)


@task(name="remove-deleted", cache_policy=NONE)
def remove_deleted_task(deleted: Sequence[SourceState], store: ArticleStore, settings: Settings, summary: RunSummary) -> None:
    """Take deleted files out of the index."""
    with summary.timed("remove_deleted"):
        remove_deleted(deleted, store, settings, summary)


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


@task(name="open-index", cache_policy=NONE)
def open_store_task(es: ElasticsearchSettings, run_id: str = "", dry_run: bool = False) -> ArticleStore:
    """Connect, create the template, indices and alias when missing (network: retried with backoff)."""
    store = ElasticsearchStore.open(es, run_id)
    return DryRunStore(store) if dry_run else store


# --- New index versions -------------------------------------------------------------------------


def index_version(name: str, alias: str) -> int:
    """3 for "articles-v3"."""
    suffix = name[len(alias) + 2 :] if name.startswith(f"{alias}-v") else ""
    return int(suffix) if suffix.isdigit() else 0


def create_next_version(client: Elasticsearch, es: ElasticsearchSettings) -> tuple[str | None, str]:
    """(current index behind the alias or None, a new empty index of the next version)."""
    with_retries(lambda: client.indices.put_index_template(name=es.index, **index_template(es)), es, "put index template")
    current = alias_target(client, es)
    existing = with_retries(lambda: client.indices.get(index=f"{es.index}-v*", allow_no_indices=True), es, "list versions")
    version = max([index_version(name, es.index) for name in existing.body] + [0]) + 1
    new = f"{es.index}-v{version}"
    with_retries(lambda: client.indices.create(index=new), es, f"create {new}")
    return current, new


def copy_documents(client: Elasticsearch, es: ElasticsearchSettings, source: str, target: str) -> int:
    """Copy every article client-side (search_after + bulk; the server's _reindex is not needed)."""
    store = ElasticsearchStore(client, es)
    copied = 0
    batch: list[dict[str, Any]] = []
    for document in store._scan(source, {"match_all": {}}, [], sort_field="id"):
        batch.append({"_op_type": "index", "_index": target, "_id": document["id"], "_source": document})
        if len(batch) >= es.bulk_chunk_size:
            copied += _bulk_strict(store, batch)
            batch = []
    copied += _bulk_strict(store, batch)
    with_retries(lambda: client.indices.refresh(index=target), es, "refresh")
    return copied


def _bulk_strict(store: ElasticsearchStore, actions: list[dict[str, Any]]) -> int:
    failures = store._bulk(actions)
    if failures:
        raise NewsetlError(f"copying to the new index failed for {len(failures)} documents, e.g. {failures[0].reason}")
    return len(actions)


def switch_alias(client: Elasticsearch, es: ElasticsearchSettings, old: str | None, new: str) -> None:
    """Point the alias at the new index in one atomic call: searches never see a gap."""
    actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": es.index}}]
    if old:
        actions.insert(0, {"remove": {"index": old, "alias": es.index}})
    with_retries(lambda: client.indices.update_aliases(actions=actions), es, "switch alias")


def record_refusals(
    records: Sequence[Quarantine], known: Mapping[str, SourceState], store: ArticleStore, summary: RunSummary
) -> None:
    """Record the files discovery refused; one refused for the same reason as last time is unchanged.

    `known` is the file states the run's plan already loaded (every path under the roots).
    """
    if not records:
        return
    previous = {record.path: known[record.path] for record in records if record.path in known}
    states, repeated = refused_states(records, previous)
    for record in records:
        if record.path in repeated:
            summary.unchanged += 1
        else:
            summary.count_quarantine(record.reason, record.path)
    # A state per refused path: a later run then sees it deleted (and drops its record) or accepted.
    fresh = [record for record in records if record.path not in repeated]
    if fresh:
        store.write_states(StateWrites(states=[s for s in states if s.path not in repeated], quarantine=fresh))


@task(name="record-quarantine", cache_policy=NONE)
def record_quarantine_task(
    records: Sequence[Quarantine], known: Mapping[str, SourceState], store: ArticleStore, summary: RunSummary
) -> None:
    """Files refused by discovery (too large, links out of the roots or in loops): recorded, counted."""
    record_refusals(records, known, store, summary)
