"""Document formatting, pure: an article's `_source`, its sources entries, quarantine record ids."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from newsetl.tasks.dedupe import ClusterAssignment, ExactGroup
from newsetl.tasks.records import Enrichment, Quarantine, SourceRef

PIPELINE_VERSION = "1"


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
    """The `_source` of an article (README, "Article documents"), from its exact-duplicate group and enrichment."""
    article = group.representative
    return {
        "id": article.id,
        "text_hash": article.text_hash or article.id,
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
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def quarantine_id(record: Quarantine) -> str:
    """One document per distinct problem of an input: a rerun overwrites it instead of adding one."""
    key = "\n".join((record.path, record.reason, record.detail))
    return hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()
