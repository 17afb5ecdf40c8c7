"""The enrichment step: language, named entities, dates mentioned and publication date of a batch's new articles.

The work is in tasks/ner.py (NER execution), tasks/entities.py, tasks/dates.py and tasks/language.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prefect import task
from prefect.cache_policies import NONE

from newsetl.config.settings import EnrichSettings
from newsetl.tasks.ner import NerSession
from newsetl.tasks.reconcile import DedupedBatch
from newsetl.tasks.records import CleanedBatch, Enrichment, RunSummary, SourceState


@task(name="start-ner", cache_policy=NONE)
def start_ner_task(
    cleaned: CleanedBatch, known: Mapping[str, SourceState], ner: NerSession, summary: RunSummary
) -> int:
    """Start the enrichment of a batch's articles on the workers, before the batches ahead of it are indexed."""
    with summary.timed("enrich"):
        queued = ner.start(cleaned, known)
    return queued


@dataclass(frozen=True)
class EnrichedBatch:
    """A batch after enrichment: entities, dates and language of each new article."""

    deduped: DedupedBatch
    enrichments: dict[str, Enrichment]


def enrich_batch(deduped: DedupedBatch, ner: NerSession, settings: EnrichSettings) -> EnrichedBatch:
    """Enrich only the new articles: duplicates cost no NER time."""
    articles = [group.representative for group in deduped.plan.new_groups]
    enrichments = ner.enrich(articles)  # also with none: the session counts batches
    return EnrichedBatch(deduped, {article.id: e for article, e in zip(articles, enrichments, strict=True)})


@task(name="enrich", cache_policy=NONE)
def enrich_batch_task(
    deduped: DedupedBatch, ner: NerSession, settings: EnrichSettings, summary: RunSummary
) -> EnrichedBatch:
    """Named entities, publication date, dates mentioned and language of a batch's new articles."""
    with summary.timed("enrich"):
        enriched = enrich_batch(deduped, ner, settings)
    for enrichment in enriched.enrichments.values():
        if not enrichment.ner_applied and enrichment.language:
            counts = summary.languages_without_ner
            counts[enrichment.language] = counts.get(enrichment.language, 0) + 1
    return enriched
