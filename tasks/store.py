"""Where a run keeps articles and file states: the interface, its write batch, and an in-memory store.

`newsetl run` uses the Elasticsearch store (tasks/es/store.py); `newsetl process` the in-memory one,
written out as JSON lines at the end. Both serve the same pipeline.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from prefect import task
from prefect.cache_policies import NONE

from newsetl.tasks.output import json_text
from newsetl.tasks.records import Quarantine, SourceRef, SourceState, StoredArticle, WriteFailure


@dataclass
class ArticleWrites:
    """What a batch changes in the article index: new documents, partial updates, deletions."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    deletes: set[str] = field(default_factory=set)

    def update(self, article_id: str, **fields: Any) -> None:
        if article_id in self.documents:
            self.documents[article_id].update(fields)
        elif article_id not in self.deletes:
            self.updates.setdefault(article_id, {}).update(fields)

    def delete(self, article_id: str) -> None:
        self.deletes.add(article_id)
        self.updates.pop(article_id, None)
        self.documents.pop(article_id, None)

    def __bool__(self) -> bool:
        return bool(self.documents or self.updates or self.deletes)


@dataclass
class StateWrites:
    """What a batch records of its files, written after the articles (a crash in between re-reads them)."""

    states: list[SourceState] = field(default_factory=list)
    removed_states: list[str] = field(default_factory=list)  # paths whose files are gone
    quarantine: list[Quarantine] = field(default_factory=list)
    cleared_quarantine: list[str] = field(default_factory=list)  # paths read fine this time


class ArticleStore(Protocol):
    def source_states(self, roots: Sequence[str]) -> dict[str, SourceState]: ...

    def stored_articles(self, ids: Iterable[str]) -> dict[str, StoredArticle]: ...

    def articles_with_text(self, text_hashes: Iterable[str]) -> dict[str, StoredArticle]: ...

    def near_candidates(self, band_keys: Iterable[str]) -> list[StoredArticle]: ...

    def cluster_members(self, cluster_ids: Iterable[str]) -> list[StoredArticle]: ...

    def block_counts(
        self, groups: Iterable[str], fingerprints: Iterable[str]
    ) -> tuple[dict[str, int], dict[str, int]]: ...

    def write_articles(self, writes: ArticleWrites) -> list[WriteFailure]: ...

    def write_states(self, writes: StateWrites) -> None: ...

    def close(self) -> None: ...


def stored_from_document(document: dict[str, Any]) -> StoredArticle:
    """The fields of a stored document that reconciliation and clustering use."""
    return StoredArticle(
        id=document["id"],
        sources=tuple(source_ref_from_dict(source) for source in document.get("sources", ())),
        cluster_id=document.get("cluster_id") or document["id"],
        is_canonical=bool(document.get("is_canonical", True)),
        minhash=document.get("minhash") or "",
        published_at=document.get("published_at"),
        word_count=int(document.get("word_count") or 0),
        text_hash=document.get("text_hash") or "",
    )


def source_ref_from_dict(source: dict[str, Any]) -> SourceRef:
    return SourceRef(
        path=source["path"],
        sha256=source.get("sha256", ""),
        format=source.get("format", ""),
        size=int(source.get("size") or 0),
        modified=source.get("modified", ""),
        record=source.get("record"),
    )


def state_from_dict(document: dict[str, Any]) -> SourceState:
    return SourceState(
        path=document["path"],
        size=int(document.get("size") or 0),
        mtime=float(document.get("mtime") or 0.0),
        sha256=document.get("sha256", ""),
        status=document.get("status", ""),
        article_ids=tuple(document.get("article_ids", ())),
        reason=document.get("reason", ""),
        groups=tuple(document.get("groups", ())),
        block_fingerprints=tuple(document.get("block_fingerprints", ())),
    )


def state_to_dict(state: SourceState, folder: str, updated_at: str) -> dict[str, Any]:
    document = dataclasses.asdict(state)
    document["article_ids"] = list(state.article_ids)
    document["groups"] = list(state.groups)
    document["block_fingerprints"] = list(state.block_fingerprints)
    document.update(folder=folder, updated_at=updated_at)
    return document


class MemoryStore:
    """An ArticleStore in process memory, for `newsetl process` and for tests of the pipeline."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.states: dict[str, SourceState] = {}
        self.quarantine: dict[str, list[Quarantine]] = {}

    def source_states(self, roots: Sequence[str]) -> dict[str, SourceState]:
        return dict(self.states)

    def stored_articles(self, ids: Iterable[str]) -> dict[str, StoredArticle]:
        return {i: stored_from_document(self.documents[i]) for i in ids if i in self.documents}

    def articles_with_text(self, text_hashes: Iterable[str]) -> dict[str, StoredArticle]:
        wanted = set(text_hashes)
        found = (stored_from_document(d) for d in self.documents.values())
        return {article.text_key: article for article in found if article.text_key in wanted}

    def near_candidates(self, band_keys: Iterable[str]) -> list[StoredArticle]:
        keys = set(band_keys)
        return [
            stored_from_document(document)
            for document in self.documents.values()
            if keys.intersection(document.get("lsh_bands", ()))
        ]

    def cluster_members(self, cluster_ids: Iterable[str]) -> list[StoredArticle]:
        wanted = set(cluster_ids)
        return [stored_from_document(d) for d in self.documents.values() if d.get("cluster_id") in wanted]

    def block_counts(self, groups: Iterable[str], fingerprints: Iterable[str]) -> tuple[dict[str, int], dict[str, int]]:
        wanted_groups, wanted_blocks = set(groups), set(fingerprints)
        group_files: Counter[str] = Counter()
        block_files: Counter[str] = Counter()
        for state in self.states.values():
            group_files.update(g for g in set(state.groups) if g in wanted_groups)
            block_files.update(b for b in set(state.block_fingerprints) if b in wanted_blocks)
        return dict(group_files), dict(block_files)

    def write_articles(self, writes: ArticleWrites) -> list[WriteFailure]:
        for article_id, document in writes.documents.items():
            self.documents[article_id] = dict(document)
        for article_id, fields in writes.updates.items():
            if article_id in self.documents:
                self.documents[article_id].update(fields)
        for article_id in writes.deletes:
            self.documents.pop(article_id, None)
        return []

    def write_states(self, batch: StateWrites) -> None:
        for state in batch.states:
            self.states[state.path] = state
        for path in batch.removed_states:
            self.states.pop(path, None)
        for path in {*batch.cleared_quarantine, *(record.path for record in batch.quarantine)}:
            self.quarantine.pop(path, None)
        for record in batch.quarantine:
            self.quarantine.setdefault(record.path, []).append(record)

    def close(self) -> None:
        return None  # holds no connection: `newsetl process` writes it out after the run


# Fields that serve deduplication inside the index; not part of an exported article.
INTERNAL_FIELDS = ("lsh_bands", "minhash")


def write_process_output(store: MemoryStore, output: Path) -> tuple[int, int]:
    """Articles as JSON lines to `output`, quarantine records to `output.quarantine.jsonl`; counts written."""
    output.parent.mkdir(parents=True, exist_ok=True)
    quarantine_path = output.with_name(output.name + ".quarantine.jsonl")
    with open(output, "w", encoding="utf-8") as articles:
        for article_id in sorted(store.documents):
            document = {k: v for k, v in store.documents[article_id].items() if k not in INTERNAL_FIELDS}
            articles.write(json_text(document) + "\n")
    records = sorted((r for rs in store.quarantine.values() for r in rs), key=lambda r: (r.path, r.detail))
    with open(quarantine_path, "w", encoding="utf-8") as quarantine:
        for record in records:
            quarantine.write(json_text(dataclasses.asdict(record)) + "\n")
    return len(store.documents), len(records)


@task(name="write-output", cache_policy=NONE)
def write_process_output_task(store: MemoryStore, output: Path) -> tuple[int, int]:
    """Write the processed articles and quarantine records as JSON lines."""
    return write_process_output(store, output)
