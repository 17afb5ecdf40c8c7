"""Cleaning a batch on a Dask worker; this process keeps only the store's part of it.

The worker holding the batch (it extracted it, or got it once) fingerprints its blocks; this
process asks the store what earlier runs counted of them (the only state cleaning reads besides
the run's boilerplate knowledge, put on the workers once per run); the same worker then
cleans the batch with both, and sketches each article for near-duplicate search. It is
clean_batch's and sketch_body's own code on the same input: the same bodies, the same clusters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from newsetl.config.settings import CleanSettings, DedupeSettings, ExtractSettings
from newsetl.tasks.clean import (
    GroupCounts,
    RunBoilerplate,
    batch_block_fingerprints,
    clean_batch_with_counts,
    counts_in_store,
)
from newsetl.tasks.dedupe import sketch_body
from newsetl.tasks.extract import extract_batch
from newsetl.tasks.ner import NerRunner
from newsetl.tasks.records import CleanedBatch, ExtractedBatch, SourceFile
from newsetl.tasks.store import ArticleStore


@dataclass(frozen=True)
class BatchOnWorkers:
    """A batch extracted on a worker, and its block fingerprints: futures."""

    batch: Any
    fingerprints: Any


@dataclass
class ClusterCleaning:
    """A run's cleaning on the cluster of its NER runner."""

    runner: NerRunner
    settings: CleanSettings
    run: RunBoilerplate | None
    dedupe: DedupeSettings
    _run_on_workers: Any = field(default=None, init=False, repr=False)

    def read(self, files: Sequence[SourceFile], settings: ExtractSettings) -> BatchOnWorkers:
        """The files read and extracted on a worker, their blocks fingerprinted there as soon as they are."""
        batch = self.runner.submit(extract_batch, files, settings)
        return BatchOnWorkers(batch, self.runner.submit(batch_block_fingerprints, batch))

    def clean(self, extraction: ExtractedBatch | BatchOnWorkers, store: ArticleStore) -> CleanedBatch:
        """The batch (extracted here, or on a worker by `read`) cleaned on a worker; the store read here."""
        if self._run_on_workers is None and self.run is not None:
            self._run_on_workers = self.runner.put(self.run)
        if isinstance(extraction, ExtractedBatch):
            batch = self.runner.put(extraction)
            extraction = BatchOnWorkers(batch, self.runner.submit(batch_block_fingerprints, batch))
        batch = extraction.batch
        persisted = counts_in_store(self.runner.result(extraction.fingerprints), store)
        cleaning = self.runner.submit(
            clean_and_sketch, batch, self.settings, self._run_on_workers, persisted, self.dedupe
        )
        return self.runner.result(cleaning)


def clean_and_sketch(
    extracted: ExtractedBatch,
    settings: CleanSettings,
    run: RunBoilerplate | None,
    persisted: dict[str, GroupCounts],
    dedupe: DedupeSettings,
) -> CleanedBatch:
    """The batch cleaned, with each article's near-duplicate sketch (what deduplication would make of it)."""
    cleaned = clean_batch_with_counts(extracted, settings, run, persisted)
    sketches = {article.text_hash: sketch_body(article.body, dedupe) for article in cleaned.articles}
    return dataclasses.replace(cleaned, sketches=sketches)
