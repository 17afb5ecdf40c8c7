"""The indexing step: a batch's article and file-state writes, planned purely, then applied to the store.

The Elasticsearch code is in tasks/es/ (client and retries, index admin, documents, the store).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from prefect import task
from prefect.cache_policies import NONE

from newsetl.config.settings import ElasticsearchSettings, Settings
from newsetl.tasks.dedupe import ClusterAssignment, encode_signature
from newsetl.tasks.errors import NewsetlError, WritesRefused
from newsetl.tasks.es.documents import article_document, source_document, utc_now
from newsetl.tasks.es.store import DryRunStore, ElasticsearchStore
from newsetl.tasks.reconcile import DedupedBatch, cluster_changes, remove_sources
from newsetl.tasks.records import (
    DUPLICATE,
    INDEX_REJECTED,
    QUARANTINED,
    WRITTEN,
    CleanedBatch,
    Enrichment,
    Quarantine,
    RunSummary,
    SourceState,
    WriteFailure,
)
from newsetl.tasks.source_state import quarantined_state, refused_states
from newsetl.tasks.store import ArticleStore, ArticleWrites, StateWrites

if TYPE_CHECKING:
    from newsetl.tasks.enrich import EnrichedBatch

log = logging.getLogger("newsetl.index")


# --- The indexing step of a batch ---------------------------------------------------------------


def article_writes(
    deduped: DedupedBatch, enrichments: Mapping[str, Enrichment], es: ElasticsearchSettings, now: str
) -> ArticleWrites:
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
        refused = [f for f in failed if not f.by_document]
        if refused:
            # The cluster's refusal: no state, so the next run reads the file again.
            summary.count_failed(path, refused[0].reason)
            continue
        if failed:
            writes.quarantine.append(Quarantine(path, INDEX_REJECTED, failed[0].reason))
            writes.states.append(
                SourceState(path, read.source.size, read.source.mtime, read.sha256, QUARANTINED, reason=INDEX_REJECTED)
            )
            summary.count_quarantine(INDEX_REJECTED, path)
            continue
        near = status == WRITTEN and any(
            i in deduped.sketches and is_near_duplicate(i, deduped.assignments) for i in ids
        )
        # The blocks recorded are those cleaning counted for the file (a story's first version only,
        # see tasks.clean.RunBoilerplate): what a later run adds to its own counts is exactly what
        # this run counted, so a run cut short and run again cleans like one uninterrupted run.
        writes.states.append(
            SourceState(
                path, read.source.size, read.source.mtime, read.sha256, status, ids, "",
                read.groups, read.block_fingerprints,
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


def index_batch(
    deduped: DedupedBatch,
    enrichments: Mapping[str, Enrichment],
    store: ArticleStore,
    es: ElasticsearchSettings,
    summary: RunSummary,
) -> None:
    """Write a batch's articles, then its file states (a crash in between only makes the next run re-read)."""
    failures = store.write_articles(article_writes(deduped, enrichments, es, utc_now()))
    blocked = [failure for failure in failures if failure.blocks_writes]
    if blocked:
        raise WritesRefused(
            f"Elasticsearch refused to write to '{es.index}': {blocked[0].reason} "
            f"({len(failures)} documents of this batch not written; the next run writes them)"
        )
    for failure in failures:
        log.warning("article %s not written: %s", failure.article_id, failure.reason)
    store.write_states(state_writes(deduped, failures, summary))


@task(name="index", cache_policy=NONE)
def index_batch_task(enriched: EnrichedBatch, store: ArticleStore, settings: Settings, summary: RunSummary) -> None:
    """Bulk-index a batch behind the alias and record its files."""
    with summary.timed("index"):
        index_batch(enriched.deduped, enriched.enrichments, store, settings.es, summary)


def remove_deleted(
    deleted: Sequence[SourceState], store: ArticleStore, settings: Settings, summary: RunSummary
) -> None:
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
def remove_deleted_task(
    deleted: Sequence[SourceState], store: ArticleStore, settings: Settings, summary: RunSummary
) -> None:
    """Take deleted files out of the index."""
    with summary.timed("remove_deleted"):
        remove_deleted(deleted, store, settings, summary)


@task(name="open-index", cache_policy=NONE)
def open_store_task(es: ElasticsearchSettings, run_id: str = "", dry_run: bool = False) -> ArticleStore:
    """Connect, create the template, indices and alias when missing (network: retried with backoff)."""
    store = ElasticsearchStore.open(es, run_id)
    return DryRunStore(store) if dry_run else store


# --- Files refused by discovery ----------------------------------------------------------------


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
