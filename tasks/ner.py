"""NER execution: the model holder, worker processes, and a run's session that feeds them batch by batch.

Also the per-article glue that turns entity spans into an Enrichment (entities, dates mentioned,
language, publication date).
"""

from __future__ import annotations

import multiprocessing
import queue
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from newsetl.config.settings import EnrichSettings
from newsetl.tasks.clean import normalized_blocks
from newsetl.tasks.dates import DateResolver, clause_tense
from newsetl.tasks.entities import (
    ENTITY_LABELS,
    NAME_GROUPS,
    EntityKnowledge,
    Mention,
    canonical_entities,
    load_knowledge,
    mentions_in,
)
from newsetl.tasks.errors import NewsetlError
from newsetl.tasks.language import LANGUAGE_SAMPLE_CHARS, detect_language
from newsetl.tasks.ner_models import (
    TextSpans,
    entity_spans,
    load_models,
    model_packages,
    serve_ner_worker,
)
from newsetl.tasks.pubdate import FILE_MTIME, publication_date
from newsetl.tasks.records import (
    DUPLICATE,
    WRITTEN,
    CleanArticle,
    DateMention,
    Enrichment,
    ExtractedArticle,
    ExtractedBatch,
    SourceState,
)
from newsetl.tasks.text import ner_form

CHUNK_CHARS = 50_000  # texts sent to a worker at a time: about half a second of NER


# --- worker processes -------------------------------------------------------------------


class EnrichmentWorkerError(NewsetlError):
    """A worker process of the NER pool died or failed."""


class NerWorkerPool:
    """Worker processes that each load the model once and find the entities of chunks of texts.

    Chunks are queued at once and taken by whichever worker is free; results come back in any
    order, tagged with the chunk's number. Only texts go out and small span tuples come back.

    NOTE: started with "spawn": forking a process that runs threads (Prefect's task
    runners, the Elasticsearch client) can deadlock the child. spaCy's own
    nlp.pipe(n_process=...) forks new workers on every call, with that risk, and its
    Docs travel back pickled.
    """

    def __init__(self, settings: EnrichSettings, size: int, labels: Collection[str]) -> None:
        context = multiprocessing.get_context("spawn")
        self.size = size
        self._submitted = 0
        self._tasks = context.Queue()
        self._results = context.Queue()
        self._workers = [
            context.Process(
                target=serve_ner_worker, args=(settings, frozenset(labels), self._tasks, self._results), daemon=True
            )
            for _ in range(size)
        ]
        for worker in self._workers:
            worker.start()

    def healthy(self) -> bool:
        return all(worker.is_alive() for worker in self._workers)

    def submit(self, texts: list[str], language: str) -> int:
        """Queue a chunk of texts of one language; its spans come back from `results` tagged with the number given."""
        self._submitted += 1
        self._tasks.put((self._submitted, language, texts))
        return self._submitted

    def results(self, wait: bool) -> Iterator[tuple[int, list[TextSpans]]]:
        """(chunk number, spans of each text) of chunks done: one (waiting for it) or all there are now."""
        while True:
            try:
                number, spans, error = self._results.get(timeout=5) if wait else self._results.get_nowait()
            except queue.Empty:
                if not wait:
                    return
                self._check_alive()
                continue
            if error:
                raise EnrichmentWorkerError(f"NER worker failed: {error}")
            yield number, spans
            if wait:
                return

    def _check_alive(self) -> None:
        dead = [worker.exitcode for worker in self._workers if not worker.is_alive()]
        if dead:
            raise EnrichmentWorkerError(
                f"an NER worker process exited (exit codes {dead}): out of memory, or a main module "
                "that starts work when imported (spawned workers import it; guard it with "
                "`if __name__ == '__main__'`)"
            )

    def close(self) -> None:
        """Stop the workers: they hold nothing worth a clean exit, and tearing down spaCy takes a second."""
        for worker in self._workers:
            worker.terminate()
        for worker in self._workers:
            worker.join(timeout=10)
        # NOTE: chunks still queued (a run that failed) would otherwise keep this process from exiting.
        self._tasks.cancel_join_thread()
        self._tasks.close()
        self._results.close()


# --- the model holder -------------------------------------------------------------------


@dataclass
class ArticleReader:
    """What enrichment needs besides NER: languages with a model, language identification, dates, entity knowledge."""

    language: str  # ISO 639-1: the first configured language, assumed when a text is too short to tell
    language_identifier: LanguageIdentifier
    date_resolver: DateResolver
    languages: frozenset[str] = frozenset()  # languages with an installed model: their articles get NER
    knowledge: EntityKnowledge = field(default_factory=EntityKnowledge, repr=False)

    @classmethod
    def for_models(cls, languages: Sequence[str], warm: bool = True) -> ArticleReader:
        """The tools for models of these languages (the first is the default); `warm`: dateparser's first call now."""
        dates = DateResolver().warmed_up() if warm else DateResolver()
        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return cls(languages[0], identifier, dates, frozenset(languages), load_knowledge())


@dataclass
class NerModel:
    """What enrichment needs loaded once: the spaCy pipeline, language and date tools, worker pool."""

    models: Mapping[str, Any]  # language -> spacy.Language (ner_models.LanguageModels: loaded on first use)
    names: dict[str, str]  # language -> the model package loaded
    language: str  # ISO 639-1: the first configured language, assumed when a text is too short to tell
    settings: EnrichSettings
    language_identifier: LanguageIdentifier
    date_resolver: DateResolver
    languages: frozenset[str] = frozenset()
    knowledge: EntityKnowledge = field(default_factory=EntityKnowledge, repr=False)
    _pool: NerWorkerPool | None = field(default=None, repr=False)

    @property
    def nlp(self) -> Any:
        """The default language's pipeline."""
        return self.models[self.language]

    @property
    def name(self) -> str:
        return self.names[self.language]

    def pool(self, processes: int) -> NerWorkerPool:
        """A running pool of `processes` workers, started on first use and kept between calls."""
        if self._pool is not None and (self._pool.size != processes or not self._pool.healthy()):
            self._pool.close()
            self._pool = None
        if self._pool is None:
            self._pool = NerWorkerPool(self.settings, processes, ENTITY_LABELS)
        return self._pool

    def close(self) -> None:
        """Stop the worker processes, if any."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> NerModel:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def load_ner_model(settings: EnrichSettings) -> NerModel:
    """Load the model of every language of enrich.models that has one installed, with only the components NER needs."""
    names = model_packages(settings)
    reader = ArticleReader.for_models(list(names))
    return NerModel(
        load_models(settings), names, reader.language, settings, reader.language_identifier, reader.date_resolver,
        reader.languages, reader.knowledge,
    )  # fmt: skip


# --- an article's enrichment from its spans --------------------------------------------


def enrich_articles(articles: Sequence[CleanArticle], model: NerModel, settings: EnrichSettings) -> list[Enrichment]:
    """Enrichment of each article, in order; NER runs batched, in worker processes if configured."""
    languages = [detect_language(article, model) for article in articles]
    by_language: dict[str, dict[str, None]] = defaultdict(dict)
    for article, language in zip(articles, languages):
        if language in model.languages:
            by_language[language].update(dict.fromkeys(text for text, _ in ner_texts(article, settings.max_chars)))
    spans: dict[str, TextSpans] = {}
    for language, texts in by_language.items():
        if settings.processes <= 1 or len(articles) < 2:
            found = entity_spans(model.models[language], list(texts), ENTITY_LABELS, settings.batch_size)
            spans.update(zip(texts, found))
        else:
            spans.update(_spans_from_pool(model.pool(settings.processes), list(texts), language))
    return [
        enrich_with_spans(article, language, spans, model, settings.max_chars)
        for article, language in zip(articles, languages, strict=True)
    ]


def _spans_from_pool(pool: NerWorkerPool, texts: list[str], language: str) -> dict[str, TextSpans]:
    """Entity spans of texts of one language, found by the workers (one call: everything sent, then awaited)."""
    chunks = {pool.submit(chunk, language): chunk for chunk in text_chunks(texts)}
    spans: dict[str, TextSpans] = {}
    while chunks:
        for number, found in pool.results(wait=True):
            if number in chunks:  # else left over from a call that failed
                spans.update(zip(chunks.pop(number), found, strict=True))
    return spans


def text_chunks(texts: Iterable[str], chars: int = CHUNK_CHARS) -> Iterator[list[str]]:
    """The texts in consecutive chunks of about `chars` characters."""
    chunk: list[str] = []
    size = 0
    for text in texts:
        chunk.append(text)
        size += len(text)
        if size >= chars:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def enrich_with_spans(
    article: CleanArticle,
    language: str,
    spans: Mapping[str, TextSpans],
    reader: ArticleReader | NerModel,
    max_chars: int,
) -> Enrichment:
    """An article's enrichment from the entity spans of its NER texts (see ner_texts)."""
    published_at, published_at_source, precision = publication_date(article)
    enrichment = Enrichment(
        language, published_at=published_at, published_at_source=published_at_source, published_at_precision=precision
    )
    if language not in reader.languages:
        # No model of its language: no entities, and no dates, which come from NER.
        return replace(enrichment, ner_applied=False)
    names: list[Mention] = []
    texts: list[str] = []
    date_spans: list[tuple[str, int, int]] = []
    for text, offset in ner_texts(article, max_chars):
        texts.append(text)
        names += mentions_in(text, [span for span in spans[text] if span[0] in NAME_GROUPS])
        date_spans += [
            (text[start:end], offset + start, offset + end)
            for label, start, end in spans[text]
            if label == "DATE" and offset >= 0
        ]
    # Relative mentions count from the day the article states (its own calendar, not UTC's).
    base = _relative_base(article.published_at if published_at_source != FILE_MTIME else None, published_at_source)
    mentions = tuple(
        DateMention(article.body[start:end], resolved[0], start, end, resolved[1])
        for text, start, end in date_spans
        if (resolved := reader.date_resolver.resolve_mention(text, base, clause_tense(article.body, start, end)))
    )
    return _with_entities(replace(enrichment, dates_mentioned=mentions), names, reader.knowledge, "\n".join(texts))


def ner_texts(article: CleanArticle, max_chars: int) -> Iterator[tuple[str, int]]:
    """(text, body offset) per title and paragraph, as NER reads them; the title's offset is -1.

    Each paragraph is its own text, so no entity spans two; NER reads at most `max_chars` of a body.
    """
    return texts_for_ner(article.title, article.body, max_chars)


def texts_for_ner(title: str, body: str, max_chars: int) -> Iterator[tuple[str, int]]:
    """ner_texts of a title and body."""
    if title.strip():
        yield ner_form(title), -1
    budget, offset = max_chars, 0
    for paragraph in body.split("\n\n"):
        if budget <= 0:
            break
        if paragraph.strip():
            yield ner_form(paragraph[:budget]), offset
            budget -= len(paragraph)
        offset += len(paragraph) + 2


def _with_entities(
    enrichment: Enrichment, mentions: list[Mention], knowledge: EntityKnowledge, text: str
) -> Enrichment:
    """The enrichment with its entity lists filled from the article's mentions."""
    entities = canonical_entities(mentions, knowledge, text)
    groups: dict[str, list[str]] = defaultdict(list)
    for entity in entities:
        groups[NAME_GROUPS[entity.label]].append(entity.text)
    return replace(
        enrichment,
        persons=tuple(groups["persons"]),
        organizations=tuple(groups["organizations"]),
        locations=tuple(groups["locations"]),
        other_entities=tuple(groups["other_entities"]),
        entities=entities,
    )


# --- publication day ---------------------------------------------------------------------


def _relative_base(published_at: str | None, source: str | None) -> date | None:
    """The day relative mentions count from: the publication day the article states, else none.

    A file's mtime says when the file was copied, not when "yesterday" was, so relative
    mentions stay unresolved for articles dated only by it.
    """
    if not published_at or source == FILE_MTIME:
        return None
    try:
        return date.fromisoformat(published_at[:10])
    except ValueError:
        return None


# --- a run's NER ------------------------------------------------------------------------


class NerSession:
    """A run's NER, started on first use (a run with nothing new to enrich starts nothing).

    With settings.processes > 1, worker processes find the entities and `start` queues a batch's
    texts as soon as it is extracted: NER of a batch runs while the batch before it is cleaned,
    deduplicated and indexed here. Spans are kept by text for the latest two batches, so a text
    seen again (a copied file, a paragraph shared by near-duplicates) goes through NER once.
    Otherwise the model is loaded here and `enrich` runs NER on what it needs.
    """

    def __init__(self, settings: EnrichSettings) -> None:
        self.settings = settings
        self._model: NerModel | None = None
        self._reader: ArticleReader | None = None
        self._pool: NerWorkerPool | None = None
        self._spans: dict[str, TextSpans] = {}
        self._chunks: dict[int, list[str]] = {}  # chunk number -> its texts, queued in the workers
        self._outbox: dict[str, list[str]] = defaultdict(list)  # language -> texts of its next chunk
        self._outbox_chars: dict[str, int] = defaultdict(int)
        self._queued: set[str] = set()
        self._used: dict[str, int] = {}  # text -> the latest call (start or enrich) that asked for it
        self._batch = 0  # calls of start and enrich so far
        self._files_queued: set[int] = set()  # sha256 (first 64 bits) of the files whose texts were queued
        self._languages: dict[tuple[str, str, str | None], tuple[str, int]] = {}  # language sample -> (language, batch)

    @property
    def in_workers(self) -> bool:
        return self.settings.processes > 1

    def model(self) -> NerModel:
        if self._model is None:
            self._model = load_ner_model(self.settings)
        return self._model

    def reader(self) -> ArticleReader | NerModel:
        """Language identification and date resolution (in worker mode without loading spaCy here)."""
        if not self.in_workers:
            return self.model()
        if self._reader is None:
            self._reader = ArticleReader.for_models(list(model_packages(self.settings)), warm=False)
        return self._reader

    def start(self, extracted: ExtractedBatch, known: Mapping[str, SourceState]) -> int:
        """Queue the NER texts of a batch's articles in the workers; how many texts went out.

        Articles of files read before with the same bytes (their articles are stored) and of
        files already queued (copies) are left out, as are articles not in the model's language.
        Whatever cleaning keeps of the rest is among the texts queued.
        """
        if not self.in_workers:
            return 0
        self._batch += 1
        articles = [
            article
            for article in extracted.articles
            if (read := extracted.read.get(article.source.path)) is None
            or not (
                _short_hash(read.sha256) in self._files_queued
                or _stored_before(known.get(read.source.path), read.sha256)
            )
        ]
        self._files_queued.update(_short_hash(read.sha256) for read in extracted.read.values())
        if not articles:
            return 0
        self._start_pool()  # the workers load the model meanwhile
        reader = self.reader()
        queued = 0
        for article in articles:
            draft = _draft(article)
            if (language := self._language(draft, reader)) in reader.languages:
                queued += self._queue((text for text, _ in ner_texts(draft, self.settings.max_chars)), language)
        self._send()
        return queued

    def enrich(self, articles: Sequence[CleanArticle]) -> list[Enrichment]:
        """Enrichment of each article, in order, from the spans queued by `start` (the rest found now)."""
        self._batch += 1
        reader = self.reader()
        languages = [self._language(article, reader) for article in articles]
        by_language: dict[str, list[str]] = defaultdict(list)
        for article, language in zip(articles, languages):
            if language in reader.languages:
                by_language[language] += [text for text, _ in ner_texts(article, self.settings.max_chars)]
        texts = [text for language_texts in by_language.values() for text in language_texts]
        if self.in_workers:
            for language, language_texts in by_language.items():
                self._queue(language_texts, language)  # only what `start` did not foresee
            self._send()
            while any(text in self._queued for text in texts):
                self._receive(wait=True)
        else:
            for language, language_texts in by_language.items():
                self._find_here(language_texts, language)
        enrichments = [
            enrich_with_spans(article, language, self._spans, reader, self.settings.max_chars)
            for article, language in zip(articles, languages, strict=True)
        ]
        self._forget_older_batches()
        return enrichments

    def _language(self, article: CleanArticle, reader: ArticleReader | NerModel) -> str:
        """detect_language, once per text (an article's draft and its cleaned form are often the same)."""
        key = (article.title, article.body[:LANGUAGE_SAMPLE_CHARS], article.language)
        if key not in self._languages:
            self._languages[key] = (detect_language(article, reader), self._batch)
        language, _ = self._languages[key]
        self._languages[key] = (language, self._batch)
        return language

    def _start_pool(self) -> None:
        if self._pool is None:
            self._pool = NerWorkerPool(self.settings, self.settings.processes, ENTITY_LABELS)

    def _queue(self, texts: Iterable[str], language: str) -> int:
        """Send the texts neither found nor queued yet to the workers, a chunk as soon as one is full; how many."""
        count = 0
        for text in texts:
            self._used[text] = max(self._used.get(text, 0), self._batch)
            if text in self._spans or text in self._queued:
                continue
            self._queued.add(text)
            self._outbox[language].append(text)
            self._outbox_chars[language] += len(text)
            count += 1
            if self._outbox_chars[language] >= CHUNK_CHARS:
                self._send()
        return count

    def _send(self) -> None:
        """Submit the texts in the outbox as one chunk per language."""
        if not any(self._outbox.values()):
            return
        self._start_pool()
        assert self._pool is not None
        for language, texts in self._outbox.items():
            if texts:
                self._chunks[self._pool.submit(texts, language)] = texts
        self._outbox.clear()
        self._outbox_chars.clear()
        self._receive(wait=False)

    def _receive(self, wait: bool) -> None:
        assert self._pool is not None
        for number, found in self._pool.results(wait):
            for text, spans in zip(self._chunks.pop(number), found, strict=True):
                self._spans[text] = spans
                self._queued.discard(text)

    def _find_here(self, texts: list[str], language: str) -> None:
        """Spans of the texts of one language not known yet, from its model in this process."""
        for text in texts:
            self._used[text] = self._batch
        new = [text for text in dict.fromkeys(texts) if text not in self._spans]
        nlp = self.model().models[language]
        self._spans.update(zip(new, entity_spans(nlp, new, ENTITY_LABELS, self.settings.batch_size)))

    def _forget_older_batches(self) -> None:
        """Keep the spans of the latest two calls (the batch enriched, the one started after it).

        Memory follows the batch size, not the corpus.
        """
        oldest = self._batch - 1
        for text in [text for text, batch in self._used.items() if batch < oldest and text not in self._queued]:
            del self._used[text]
            self._spans.pop(text, None)
        for key in [key for key, (_, batch) in self._languages.items() if batch < oldest]:
            del self._languages[key]

    def __enter__(self) -> NerSession:
        return self

    def __exit__(self, *_: object) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._model is not None:
            self._model.close()


def _short_hash(sha256: str) -> int:
    """The first 64 bits of a file's hash: a set of ints is a third the size of one of hex strings."""
    return int(sha256[:16], 16)


def _stored_before(state: SourceState | None, sha256: str) -> bool:
    """Whether the last run read these very bytes at this path and stored (or found) their articles."""
    return state is not None and state.sha256 == sha256 and state.status in (WRITTEN, DUPLICATE)


def _draft(article: ExtractedArticle) -> CleanArticle:
    """The article as cleaning starts from it, before any block is removed: what NER may have to read."""
    title, blocks = normalized_blocks(article)
    return CleanArticle(
        id="",
        title=title,
        body="\n\n".join(blocks),
        source=article.source,
        group=article.group,
        language=article.language,
    )
