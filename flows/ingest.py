"""The ingest flow: folders of news articles into the Elasticsearch alias (or a JSON-lines file)."""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from newsetl.config.settings import Settings, load_settings, validate
from newsetl.flows.report import RunProgress, publish_summary
from newsetl.tasks.clean import (
    EvidenceBatch,
    RunBoilerplate,
    RunStore,
    batch_evidence,
    clean_batch_task,
    learn_run_boilerplate_task,
)
from newsetl.tasks.cluster_cleaning import ClusterCleaning
from newsetl.tasks.discover import discover_task
from newsetl.tasks.enrich import enrich_batch_task, start_ner_task
from newsetl.tasks.extract import extract_batch, extract_batch_task
from newsetl.tasks.index import index_batch_task, open_store_task, record_quarantine_task, remove_deleted_task
from newsetl.tasks.ner import NerSession
from newsetl.tasks.reconcile import dedupe_batch_task
from newsetl.tasks.records import CleanedBatch, ExtractedBatch, RunSummary, SourceFile
from newsetl.tasks.source_state import ChangePlan, plan_run_task
from newsetl.tasks.store import ArticleStore, MemoryStore, write_process_output_task


@contextmanager
def _setup_out_of_collections() -> Iterator[None]:
    """The run's garbage collections skip what was there before it: imports, Prefect, the clients.

    NOTE: the full collections walked those hundreds of thousands of objects again and again:
    a quarter of the driver's CPU on a Dask run (0.32 of 1.19 s for 300 articles; 0.04 s frozen).
    They return to the collector after the run, so a process running many flows keeps no garbage.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@flow(name="ingest", log_prints=False)
def ingest(
    folders: list[str] | None = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    since: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    batch_size: int | None = None,
) -> dict:
    """Discover, extract, clean, deduplicate, enrich and index folders of news articles.

    Args:
        folders: Folders (read recursively) or files; default: the settings' [flow] folders.
        include: Glob patterns of files to take, e.g. ["**/*.html"]; default: every known type.
        exclude: Glob patterns of files to leave out, e.g. ["drafts"].
        since: ISO date or datetime: only files modified since then are read again.
        force: Read every file again, even when unchanged since the last run.
        dry_run: Do everything but write to Elasticsearch: the summary says what a run would do.
        batch_size: Files per batch (default: the settings' [flow] batch_size).
    """
    settings = run_settings(load_settings(), include, exclude, batch_size)
    roots = resolve_roots(folders or list(settings.flow.folders))
    with open_store_task(settings.es, run_id=str(flow_run.get_id() or ""), dry_run=dry_run) as store:
        summary = run_pipeline(roots, settings, store, force=force, since=since)
    return summary_dict(summary)


@flow(name="process", log_prints=False)
def process(
    folders: list[str], output: str, include: list[str] | None = None, exclude: list[str] | None = None
) -> dict:
    """The ingest pipeline without Elasticsearch: articles as JSON lines to a file.

    Args:
        folders: Folders (read recursively) or files.
        output: The JSON-lines file of articles; quarantine records go to <output>.quarantine.jsonl.
        include: Glob patterns of files to take.
        exclude: Glob patterns of files to leave out.
    """
    settings = run_settings(load_settings(), include, exclude, None)
    store = MemoryStore()
    summary = run_pipeline(resolve_roots(folders), settings, store, force=True, since=None)
    write_process_output_task(store, Path(output))
    return summary_dict(summary)


@_setup_out_of_collections()
def run_pipeline(
    roots: list[str], settings: Settings, store: ArticleStore, force: bool, since: str | None
) -> RunSummary:
    """The table of contents of a run: every file ends written, unchanged, duplicate, quarantined, failed or skipped."""
    # NOTE: quote() stops Prefect from walking every record of a batch (every paragraph) to look
    # for futures in the task's arguments: that walk cost more than cleaning the batch.
    started = time.monotonic()
    summary = RunSummary()
    found = discover_task(roots, settings.discover, summary)
    plan = plan_run_task(quote(found), store, roots, force, since, summary)
    record_quarantine_task(quote(found.quarantined), quote(plan.known), store, summary)
    progress = RunProgress(summary.files_seen, len(plan.to_read))
    # Every batch is cleaned with what the whole run reads: bodies (and ids) do not depend on batches.
    store = RunStore(store, [source.path for source in plan.to_read], plan.known)
    with NerSession(settings.enrich, settings.cluster) as ner:
        boilerplate = learn_run_boilerplate_task(
            quote(read_to_learn(plan, settings, ner)), settings.clean, summary,
            lambda files: progress.advance("learned", files),
        )  # fmt: skip
        on_workers = (
            ClusterCleaning(ner.ner, settings.clean, boilerplate, settings.dedupe)
            if ner.ner.on_cluster and plan.to_read
            else None
        )
        reader = _BatchReader(plan, settings, ner, summary, progress, store, boilerplate, on_workers)
        for cleaned in reader.cleaned_ahead():
            deduped = dedupe_batch_task(quote(cleaned), quote(plan.known), store, settings.dedupe, summary)
            enriched = enrich_batch_task(quote(deduped), ner, settings.enrich, summary)
            index_batch_task(quote(enriched), store, settings, summary)
            progress.advance("indexed", len(cleaned.files))
        summary.ner = ner.describe()
    remove_deleted_task(quote(plan.deleted), store, settings, summary)
    summary.seconds = round(time.monotonic() - started, 3)
    publish_summary(summary, get_run_logger())
    return summary


def read_to_learn(plan: ChangePlan, settings: Settings, ner: NerSession) -> Iterator[ExtractedBatch | EvidenceBatch]:
    """Every batch the run reads, extracted for the boilerplate learning pass, in order.

    When the workers see the same paths they extract, a few batches at a time (one per worker, and
    one more so none waits); Dask workers send back only what learning reads of each article (its
    story evidence). This process holds only those.
    """
    batches = file_batches(plan.to_read, settings.flow.batch_size)
    if not (batches and settings.cluster.shared_paths and ner.ner.runs_ahead):
        yield from (extract_batch(files, settings.extract) for files in batches)
        return
    in_flight = ner.ner.executor.workers_now() + 1
    window: deque[Any] = deque()  # futures
    for files in batches:
        extraction = ner.ner.submit(extract_batch, files, settings.extract)
        # On Dask the evidence is made where the batch was extracted; a local pool sends the batch back.
        window.append(ner.ner.submit(batch_evidence, extraction) if ner.ner.on_cluster else extraction)
        if len(window) >= in_flight:
            yield ner.ner.result(window.popleft())
    while window:
        yield ner.ner.result(window.popleft())


def file_batches(files: Sequence[SourceFile], size: int) -> list[Sequence[SourceFile]]:
    """The files in consecutive batches of `size`."""
    return [files[start : start + size] for start in range(0, len(files), size)]


@dataclass
class _ReadAhead:
    """A batch read ahead: its extraction (here, or a future on the workers), then its cleaning, NER started."""

    extraction: ExtractedBatch | Any  # extracted here, or a future of the workers'; None once cleaned
    cleaned: CleanedBatch | None = None


@dataclass(frozen=True)
class _BatchReader:
    """A run's batches read, extracted and cleaned ahead of the one deduplicated and indexed."""

    plan: ChangePlan
    settings: Settings
    ner: NerSession
    summary: RunSummary
    progress: RunProgress
    store: RunStore
    boilerplate: RunBoilerplate
    on_workers: ClusterCleaning | None  # on a Dask cluster: the workers clean, this process reads the store

    def cleaned_ahead(self) -> Iterator[CleanedBatch]:
        """The batches to read, extracted and cleaned; each handed on once NER of the next `batches_ahead` ones started.

        So the NER workers hold the next batches while this process deduplicates and indexes the one
        before them, and this process holds no more than that many batches ahead (memory). A batch is
        cleaned as soon as it is read: cleaning depends on the run's boilerplate knowledge and earlier
        runs' counts only (RunStore), not on the batches indexed before it, so NER reads exactly the
        articles that are enriched. Deduplication still sees every earlier batch in the index. When
        the workers see the same paths, they read and extract too: one batch more is being extracted
        there meanwhile.
        """
        settings, ner = self.settings, self.ner
        on_workers = settings.cluster.shared_paths and ner.ner.runs_ahead
        ahead = max(0, settings.cluster.batches_ahead)
        window: deque[_ReadAhead] = deque()
        for files in file_batches(self.plan.to_read, settings.flow.batch_size):
            if on_workers and self.on_workers is not None:
                window.append(_ReadAhead(self.on_workers.read(files, settings.extract)))
            elif on_workers:
                window.append(_ReadAhead(ner.ner.submit(extract_batch, files, settings.extract)))
            else:
                window.append(_ReadAhead(extract_batch_task(quote(files), settings.extract, self.summary)))
            if len(window) > ahead + on_workers:
                yield self._next_batch(window, ahead)
        while window:
            yield self._next_batch(window, ahead)

    def _next_batch(self, window: deque[_ReadAhead], ahead: int) -> CleanedBatch:
        """The window's first batch, once it and the `ahead` batches after it are cleaned and their NER started."""
        on_workers = self.on_workers.clean if self.on_workers is not None else None
        for slot in list(window)[: ahead + 1]:
            if slot.cleaned is None:
                extracted = slot.extraction
                if on_workers is None and not isinstance(extracted, ExtractedBatch):
                    with self.summary.timed("extract"):
                        extracted = self.ner.ner.result(extracted)
                slot.cleaned = clean_batch_task(
                    quote(extracted), self.store, self.settings.clean, self.summary, quote(self.boilerplate), on_workers
                )
                slot.extraction = None
                start_ner_task(quote(slot.cleaned), quote(self.plan.known), self.ner, self.summary)
                self.progress.advance("read", len(slot.cleaned.files))
        cleaned = window.popleft().cleaned
        assert cleaned is not None
        return cleaned


def run_settings(
    settings: Settings, include: list[str] | None, exclude: list[str] | None, batch_size: int | None
) -> Settings:
    """Settings with this run's parameters applied."""
    discover = settings.discover
    if include is not None:
        discover = replace(discover, include=tuple(include))
    if exclude is not None:
        discover = replace(discover, exclude=tuple(exclude))
    flow_settings = replace(settings.flow, batch_size=batch_size) if batch_size is not None else settings.flow
    run = replace(settings, discover=discover, flow=flow_settings)
    validate(run)  # parameters of a run started from the Prefect UI are checked like settings
    return run


def resolve_roots(folders: list[str]) -> list[str]:
    return [str(Path(folder).expanduser().absolute()) for folder in folders]


def summary_dict(summary: RunSummary) -> dict:
    return asdict(summary)
