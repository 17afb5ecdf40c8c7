"""Document formatting, pure: an article's `_source`, its sources entries, quarantine record ids."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from newsetl.tasks.dedupe import ClusterAssignment, ExactGroup
from newsetl.tasks.entities import NAME_GROUPS
from newsetl.tasks.records import Enrichment, EntityCount, Quarantine, SourceRef

PIPELINE_VERSION = "1"
# ISO 639-1 language -> suffix of the title_<suffix>/body_<suffix> fields analysed in that language
# (config/index_template.json); articles in other languages are searched through title/body alone.
LANGUAGE_FIELDS = {
    "fr": "fr", "de": "de", "es": "es", "it": "it", "pt": "pt", "nl": "nl", "zh": "cjk", "ja": "cjk", "ko": "cjk",
}  # fmt: skip
ENTITY_GROUPS = ("persons", "organizations", "locations")


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
        "subjects": list(article.subjects),
        "located": article.located,
        "dateline": article.dateline,
        "published_at": enrichment.published_at,
        "published_at_source": enrichment.published_at_source,
        "published_at_precision": enrichment.published_at_precision,
        "dates_mentioned": [
            {"text": m.text, "date": m.date, "granularity": m.granularity, "start": m.start, "end": m.end}
            for m in enrichment.dates_mentioned
        ],
        "persons": list(enrichment.persons),
        "organizations": list(enrichment.organizations),
        "locations": list(enrichment.locations),
        "other_entities": list(enrichment.other_entities),
        "entities": [{"text": e.text, "label": e.label, "count": e.count} for e in enrichment.entities],
        "aliases": entity_aliases(enrichment.entities),
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
        **language_fields(enrichment.language, article.title, article.body),
    }


def language_fields(language: str | None, title: str, body: str) -> dict[str, str]:
    """The title and body again under the fields analysed in the article's language, if the index has them."""
    suffix = LANGUAGE_FIELDS.get(language or "")
    return {f"title_{suffix}": title, f"body_{suffix}": body} if suffix else {}


def entity_aliases(entities: Sequence[EntityCount]) -> dict[str, list[str]]:
    """Per entity group, the other names the article used for its entities (and persons' surnames).

    A hyphenated name is also there with spaces ("Ocasio Cortez"): the filter forgives the hyphen
    either way, as entity_filter sends both forms.
    """
    groups: dict[str, set[str]] = {group: set() for group in ENTITY_GROUPS}
    for entity in entities:
        group = NAME_GROUPS.get(entity.label)
        if group in groups:
            groups[group].update(entity.aliases)
            groups[group].update(form.replace("-", " ") for form in (entity.text, *entity.aliases) if "-" in form)
    return {group: sorted(names) for group, names in groups.items()}


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def quarantine_id(record: Quarantine) -> str:
    """One document per distinct problem of an input: a rerun overwrites it instead of adding one."""
    key = "\n".join((record.path, record.reason, record.detail))
    return hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()
