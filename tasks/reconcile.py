"""Reconcile a batch of cleaned articles with what the index already holds.

Decides, before any enrichment, which articles are new (to enrich and write), which existing
articles gain or lose a source file, which are left with no source, and how each file of the
batch is counted. Pure: the caller fetches the stored articles and applies the plan.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prefect import task
from prefect.cache_policies import NONE

from newsetl.config.settings import DedupeSettings
from newsetl.tasks.dedupe import (
    BodySketch,
    ClusterAssignment,
    ExactGroup,
    NearDupCandidate,
    candidate_from_article,
    decode_signature,
    group_exact_duplicates,
    lsh_band_keys,
    resolve_clusters,
    sketch_body,
)
from newsetl.tasks.pubdate import resolve_publication_date
from newsetl.tasks.records import (
    DUPLICATE,
    UNCHANGED,
    WRITTEN,
    CleanArticle,
    CleanedBatch,
    RunSummary,
    SourceRef,
    SourceState,
    StoredArticle,
)

if TYPE_CHECKING:
    from newsetl.tasks.store import ArticleStore


@dataclass
class BatchPlan:
    """What to do with a batch: new documents, changed source lists, deletions, per-file outcome."""

    new_groups: list[ExactGroup] = field(default_factory=list)
    source_updates: dict[str, tuple[SourceRef, ...]] = field(default_factory=dict)
    orphaned: list[str] = field(default_factory=list)  # existing articles left with no source
    file_outcomes: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # path -> (status, ids)


def ids_to_fetch(articles: Sequence[CleanArticle], previous: Mapping[str, SourceState]) -> set[str]:
    """Existing articles the batch may touch: its own ids and the ids its files held last time."""
    ids = {article.id for article in articles}
    for state in previous.values():
        ids.update(state.article_ids)
    return ids


def reconcile_batch(
    articles: Sequence[CleanArticle],
    read_paths: Sequence[str],
    previous: Mapping[str, SourceState],
    stored: Mapping[str, StoredArticle],
) -> BatchPlan:
    """Plan for a batch whose files (read_paths) yielded `articles`; order of inputs does not matter.

    A file's sources are replaced wholesale: every article it held last time loses it unless the
    file still holds that article. Counting: a file is `written` when it is the first copy of a new
    article, `duplicate` when its articles already existed (or another file of the batch is the
    first copy), `unchanged` when its articles already listed it.
    """
    plan = BatchPlan()
    batch_paths = set(read_paths)
    groups = {group.id: group for group in group_exact_duplicates(articles)}

    touched = set(groups)
    for path in batch_paths:
        state = previous.get(path)
        if state is not None:
            touched.update(state.article_ids)

    for article_id in sorted(touched):
        kept = (
            tuple(ref for ref in stored[article_id].sources if ref.path not in batch_paths)
            if article_id in stored
            else ()
        )
        added = groups[article_id].sources if article_id in groups else ()
        final = tuple(sorted({_key(ref): ref for ref in (*kept, *added)}.values(), key=_key))
        if article_id not in stored or (article_id in groups and _rewritten(groups[article_id], stored[article_id])):
            if article_id in groups:
                plan.new_groups.append(groups[article_id])  # new, or its files' text changed: written whole
        elif not final:
            plan.orphaned.append(article_id)
        elif _keys(final) != _keys(stored[article_id].sources):
            plan.source_updates[article_id] = final

    new_ids = {group.id for group in plan.new_groups}
    first_copy = {group.representative.source.path for group in plan.new_groups}
    ids_by_path: dict[str, list[str]] = defaultdict(list)
    for article in articles:
        ids_by_path[article.source.path].append(article.id)
    for path in read_paths:
        ids = tuple(sorted(set(ids_by_path.get(path, ()))))
        if not ids:
            continue  # the caller counts files that yielded no article (quarantined)
        if any(article_id in new_ids for article_id in ids) and path in first_copy:
            status = WRITTEN
        elif all(
            article_id in stored and path in {ref.path for ref in stored[article_id].sources} for article_id in ids
        ):
            status = UNCHANGED
        else:
            status = DUPLICATE
        plan.file_outcomes[path] = (status, ids)
    return plan


def _rewritten(group: ExactGroup, stored: StoredArticle) -> bool:
    text_hash = group.representative.text_hash
    return bool(text_hash) and text_hash != stored.text_key


def document_ids(
    articles: Sequence[CleanArticle],
    read_paths: Sequence[str],
    previous: Mapping[str, SourceState],
    by_text: Mapping[str, StoredArticle],
    stored: Mapping[str, StoredArticle],
) -> dict[str, str]:
    """The document id of each cleaned text of a batch (by text hash): ids stay while files exist.

    A text already in the index keeps its article's id. A new text takes the id of the article
    its files held before when that article would otherwise lose its last file (its text changed
    because cleaning learned more, or the file was edited): the document is updated in place.
    Otherwise a new article's id is its text hash.
    """
    batch_paths = set(read_paths)
    claimed = {by_text[h].id for h in {a.text_hash for a in articles} if h in by_text}
    keys_by_text: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for article in articles:
        keys_by_text[article.text_hash].add(_key(article.source))
    ids: dict[str, str] = {}
    for text_hash in sorted(keys_by_text):
        if text_hash in by_text:
            ids[text_hash] = by_text[text_hash].id
            continue
        ids[text_hash] = text_hash
        held_before = sorted(
            {i for path, _ in keys_by_text[text_hash] if path in previous for i in previous[path].article_ids}
        )
        for old_id in held_before:
            old = stored.get(old_id)
            if old is None or old_id in claimed:
                continue
            # Only an article left with no other file: one still held elsewhere keeps its text there.
            if all(ref.path in batch_paths for ref in old.sources) and keys_by_text[text_hash] & {
                _key(r) for r in old.sources
            }:
                ids[text_hash] = old_id
                claimed.add(old_id)
                break
    return ids


def remove_sources(paths: set[str], stored: Mapping[str, StoredArticle]) -> BatchPlan:
    """Plan for source files that were deleted: their articles lose them, orphans are listed."""
    plan = BatchPlan()
    for article_id, article in sorted(stored.items()):
        final = tuple(ref for ref in article.sources if ref.path not in paths)
        if not final:
            plan.orphaned.append(article_id)
        elif len(final) != len(article.sources):
            plan.source_updates[article_id] = final
    return plan


def _key(ref: SourceRef) -> tuple[str, str]:
    return (ref.path, ref.record or "")


def _keys(refs: Sequence[SourceRef]) -> list[tuple[str, str, str]]:
    return sorted((ref.path, ref.record or "", ref.sha256) for ref in refs)


# --- The deduplication step of a batch ------------------------------------------------------------


@dataclass(frozen=True)
class DedupedBatch:
    """A batch after deduplication: what is new (to enrich), what changes, how clusters move."""

    cleaned: CleanedBatch
    plan: BatchPlan
    stored: Mapping[str, StoredArticle]
    sketches: Mapping[str, BodySketch]  # of the new articles
    assignments: Mapping[str, ClusterAssignment]  # new articles, and existing ones whose cluster changed


def deduplicate_batch(
    cleaned: CleanedBatch, known: Mapping[str, SourceState], store: ArticleStore, settings: DedupeSettings
) -> DedupedBatch:
    """Exact duplicates against the batch and the index, then near-duplicate clusters of the new articles."""
    # A file quarantined now that held articles last time holds them no longer: reconciled as a
    # file read with no article, its articles lose it (and go when it was their last source).
    released = {q.path for q in cleaned.quarantined if q.path in known and known[q.path].article_ids}
    read_paths = sorted({*cleaned.read, *released})
    previous = {path: known[path] for path in read_paths if path in known}
    by_text = store.articles_with_text({article.text_hash for article in cleaned.articles})
    held = store.stored_articles({i for state in previous.values() for i in state.article_ids})
    ids = document_ids(cleaned.articles, read_paths, previous, by_text, held)
    articles = [dataclasses.replace(a, id=ids[a.text_hash]) for a in cleaned.articles]
    cleaned = dataclasses.replace(cleaned, articles=tuple(articles))
    stored = store.stored_articles(ids_to_fetch(cleaned.articles, previous))
    plan = reconcile_batch(cleaned.articles, read_paths, previous, stored)
    # Sketched where the batch was cleaned (a worker), or here.
    sketches = {
        group.id: cleaned.sketches.get(group.representative.text_hash)
        or sketch_body(group.representative.body, settings)
        for group in plan.new_groups
    }
    # The date clustering orders by must be the one the document will hold (the mtime fallback included).
    new = [
        dataclasses.replace(
            candidate_from_article(group.representative, sketches[group.id]),
            published_at=resolve_publication_date(group.representative)[0],
        )
        for group in plan.new_groups
    ]
    # An article written again under its id (its text changed) leaves its cluster and joins anew.
    removed = [stored[article_id] for article_id in plan.orphaned] + [
        stored[g.id] for g in plan.new_groups if g.id in stored
    ]
    recovered = [stored[article_id] for article_id in interrupted_articles(cleaned.articles, previous, stored)]
    assignments = cluster_changes(new, sketches.values(), removed, store, settings, recovered)
    return DedupedBatch(cleaned, plan, stored, sketches, assignments)


def interrupted_articles(
    articles: Sequence[CleanArticle], previous: Mapping[str, SourceState], stored: Mapping[str, StoredArticle]
) -> list[str]:
    """Stored articles listing a file whose recorded state does not list them: a run died after writing them.

    Articles are written before the updates of the older articles they move out of canonical
    and before the file states, so their clusters must be resolved again to heal.
    """
    ids = set()
    for article in articles:
        held = stored.get(article.id)
        path = article.source.path
        state = previous.get(path)
        recorded = state is not None and article.id in state.article_ids
        if held is not None and not recorded and any(ref.path == path for ref in held.sources):
            ids.add(article.id)
    return sorted(ids)


def cluster_changes(
    new: Sequence[NearDupCandidate],
    sketches: Iterable[BodySketch],
    removed: Sequence[StoredArticle],
    store: ArticleStore,
    settings: DedupeSettings,
    recovered: Sequence[StoredArticle] = (),
) -> dict[str, ClusterAssignment]:
    """Assignments of the new articles, and of stored ones whose cluster or canonical flag changes.

    Stored neighbours (sharing a band key with a new article) keep their clusters; clusters that
    lose a removed article are re-derived from their members' signatures, since the removed one
    may have been the canonical or the bridge between them. `recovered` stored articles are
    clustered again as if new (see interrupted_articles).
    """
    again = [candidate(article, keep_cluster=False) for article in recovered]
    keys = {key for sketch in sketches for key in sketch.band_keys}
    keys.update(key for c in again if c.signature is not None for key in lsh_band_keys(c.signature, settings))
    removed_ids = {article.id for article in removed}
    again_ids = {article.id for article in recovered}
    dirty = {article.cluster_id for article in removed}
    hits = store.near_candidates(keys) if keys else []
    clusters = {hit.cluster_id for hit in hits} | dirty | {article.cluster_id for article in recovered}
    members = store.cluster_members(clusters) if clusters else []
    neighbours = {a.id: a for a in (*hits, *members) if a.id not in removed_ids and a.id not in again_ids}
    rederived = [candidate(a, keep_cluster=False) for a in neighbours.values() if a.cluster_id in dirty]
    kept = [candidate(a, keep_cluster=True) for a in neighbours.values() if a.cluster_id not in dirty]
    assignments = resolve_clusters([*new, *again, *rederived], kept, settings)
    before = {**neighbours, **{article.id: article for article in recovered}}
    return {
        article_id: assignment
        for article_id, assignment in assignments.items()
        if article_id not in before
        or (before[article_id].cluster_id, before[article_id].is_canonical)
        != (assignment.cluster_id, assignment.is_canonical)
    }


def candidate(article: StoredArticle, keep_cluster: bool) -> NearDupCandidate:
    """A stored article as clustering sees it (no signature when it was too short to compare)."""
    return NearDupCandidate(
        id=article.id,
        signature=decode_signature(article.minhash) if article.minhash else None,
        published_at=article.published_at,
        word_count=article.word_count,
        cluster_id=article.cluster_id if keep_cluster else None,
    )


@task(name="deduplicate", cache_policy=NONE)
def dedupe_batch_task(
    cleaned: CleanedBatch,
    known: Mapping[str, SourceState],
    store: ArticleStore,
    settings: DedupeSettings,
    summary: RunSummary,
) -> DedupedBatch:
    """Exact and near duplicates of a batch, against itself and the index."""
    with summary.timed("deduplicate"):
        deduped = deduplicate_batch(cleaned, known, store, settings)
    return deduped
