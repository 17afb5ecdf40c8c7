"""What an NER worker process runs: the models, loaded once per process, and chunks of work.

Two kinds of chunk: (language, text) pairs, answered with entity spans; and cleaned articles,
answered with each one's language, spans and whole enrichment, so that the driver has nothing
left to do for them but to index.

The same functions run in a spawned local worker (ProcessPoolExecutor), on a Dask worker, and in
the driver when NER runs there. Free of Prefect and of Dask: a spawned worker imports only what
NER needs (Prefect alone takes ~0.8 s and ~100 MB to import).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from newsetl.children import die_with_parent
from newsetl.config.settings import EnrichSettings
from newsetl.tasks.enrichment import ArticleReader, enrich_with_spans, enrichment_key, ner_texts
from newsetl.tasks.entities import ENTITY_LABELS
from newsetl.tasks.language import detect_language
from newsetl.tasks.ner_models import TextSpans, language_entity_spans, load_models, model_packages
from newsetl.tasks.records import CleanArticle, Enrichment

# (language, text): the unit of work; a chunk is a list of them.
Pair = tuple[str, str]


# Per process: the models of each settings seen (a Dask worker may serve runs with other settings),
# and what this process did, for `worker_report`.
_MODELS: dict[str, Mapping[str, Any]] = {}  # keyed by repr(settings): their models mapping is a dict
_READERS: dict[tuple[str, ...], ArticleReader] = {}  # keyed by the languages with a model
_DONE = {"chunks": 0, "texts": 0}


# --- the worker side ------------------------------------------------------------------------


def load_worker_models(settings: EnrichSettings) -> Mapping[str, Any]:
    """The models of these settings in this process, loaded on first call (executor initializer, Dask plugin)."""
    key = repr(settings)
    if key not in _MODELS:
        _MODELS[key] = load_models(settings)
    return _MODELS[key]


def load_article_reader(settings: EnrichSettings) -> ArticleReader:
    """Language identification, dates and entity knowledge in this process, loaded on first call."""
    languages = tuple(model_packages(settings))
    if languages not in _READERS:
        _READERS[languages] = ArticleReader.for_models(list(languages))
    return _READERS[languages]


def start_local_worker(settings: EnrichSettings) -> None:
    """A local pool worker's start: it dies with the run (a killed run leaves no worker), then loads the models."""
    die_with_parent(multiprocessing.parent_process().pid)
    load_worker_models(settings)
    load_article_reader(settings)


@dataclass(frozen=True)
class FoundSpans:
    """A chunk's result: the spans of each pair, in order, and which worker process found them."""

    worker: str  # host:pid
    spans: list[TextSpans]


def find_entities(settings: EnrichSettings, pairs: Sequence[Pair]) -> FoundSpans:
    """Entity spans of each (language, text) pair, in order; texts of a language go through its model together."""
    models = load_worker_models(settings)
    by_language: dict[str, list[int]] = {}
    for index, (language, _) in enumerate(pairs):
        by_language.setdefault(language, []).append(index)
    spans: list[TextSpans] = [()] * len(pairs)
    for language, indices in by_language.items():
        texts = [pairs[index][1] for index in indices]
        found = language_entity_spans(models, language, texts, ENTITY_LABELS, settings.batch_size)
        for index, text_spans in zip(indices, found, strict=True):
            spans[index] = text_spans
    _DONE["chunks"] += 1
    _DONE["texts"] += len(pairs)
    return FoundSpans(worker_name(), spans)


@dataclass(frozen=True)
class ArticleFindings:
    """A chunk of articles' result, per article in order: its key, language, spans per NER text, and enrichment."""

    worker: str  # host:pid
    keys: list[bytes]  # enrichment_key of each article
    languages: list[str]
    spans: list[dict[str, TextSpans]]  # NER text -> its spans (empty when no model reads the language)
    enrichments: list[Enrichment]


def worker_enrichments(
    settings: EnrichSettings,
    articles: Sequence[CleanArticle],
    languages: Sequence[str | None] | None = None,
    known: Mapping[Pair, TextSpans] | None = None,
) -> ArticleFindings:
    """Language, entity spans and enrichment of each article, as the driver would make them (same functions).

    `languages` (None where unknown) and the `known` spans of some texts spare detecting and reading them again.
    """
    reader = load_article_reader(settings)
    known = known or {}
    given = languages or [None] * len(articles)
    languages = [
        language or detect_language(article, reader) for article, language in zip(articles, given, strict=True)
    ]
    texts = [
        [text for text, _ in ner_texts(article, settings.max_chars)] if language in reader.languages else []
        for article, language in zip(articles, languages, strict=True)
    ]
    every = dict.fromkeys(
        (language, text) for language, article_texts in zip(languages, texts, strict=True) for text in article_texts
    )
    pairs = [pair for pair in every if pair not in known]
    found = {**known, **dict(zip(pairs, find_entities(settings, pairs).spans, strict=True))} if pairs else dict(known)
    spans = [
        {text: found[(language, text)] for text in article_texts}
        for language, article_texts in zip(languages, texts, strict=True)
    ]
    enrichments = [
        enrich_with_spans(article, language, article_spans, reader, settings.max_chars)
        for article, language, article_spans in zip(articles, languages, spans, strict=True)
    ]
    keys = [enrichment_key(article) for article in articles]
    return ArticleFindings(worker_name(), keys, languages, spans, enrichments)


def passed_through(value: Any) -> Any:
    """The value itself: data a driver puts on the workers as a task's result (see NerRunner.put)."""
    return value


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_report() -> dict[str, Any]:
    """What this process did: chunks and texts through NER, CPU seconds used (read by tests and the bench)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {**_DONE, "pid": os.getpid(), "cpu_seconds": usage.ru_utime + usage.ru_stime}
