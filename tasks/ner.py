"""NER execution: chunks of (language, text) pairs to one executor, spans back; a run's session on top.

One path, whatever runs the chunks (a concurrent.futures Executor each time, same submit and collect):
- nothing configured (enrich.processes <= 1): this process, at once (nothing to overlap with);
- enrich.processes > 1: ProcessPoolExecutor(spawn), its initializer loading the models once per worker;
- [cluster] address (NEWSETL_DASK_ADDRESS): the executor of a Dask client; a worker plugin loads the
  models once per worker process, and Dask reruns the chunks of a worker that dies.
The worker side is tasks/ner_worker.py (free of Prefect); the Dask side tasks/ner_dask.py.

Also the per-article glue that turns entity spans into an Enrichment (entities, dates mentioned,
language, publication date), and NerSession: a run's NER, batch by batch.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from newsetl.config.settings import ClusterSettings, EnrichSettings
from newsetl.tasks.clean import normalized_blocks
from newsetl.tasks.dates import DateResolver, clause_tense
from newsetl.tasks.entities import (
    NAME_GROUPS,
    EntityKnowledge,
    Mention,
    canonical_entities,
    load_knowledge,
    mentions_in,
)
from newsetl.tasks.errors import NewsetlError
from newsetl.tasks.language import LANGUAGE_SAMPLE_CHARS, detect_language
from newsetl.tasks.ner_models import model_packages, ner_languages
from newsetl.tasks.ner_worker import (
    FoundSpans,
    Pair,
    TextSpans,
    find_entities,
    load_worker_models,
    start_local_worker,
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

CHUNK_CHARS = 50_000  # characters sent to a worker at a time: about half a second of NER

LOCAL, PROCESSES, DASK = "local", "processes", "dask"


# --- where chunks run ---------------------------------------------------------------------


class EnrichmentWorkerError(NewsetlError):
    """A worker process of the local NER pool died or failed."""


class InlineExecutor(Executor):
    """Runs each call at once in this process: the executor when NER has nowhere else to run."""

    def __init__(self, initializer: Callable[..., Any] | None = None, initargs: tuple = ()) -> None:
        self._initializer, self._initargs = initializer, initargs

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self._initializer is not None:
            initializer, self._initializer = self._initializer, None
            initializer(*self._initargs)
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed to whoever reads the future, as an executor does
            future.set_exception(error)
        return future


@dataclass
class NerExecutor:
    """Where chunks run: the executor, its kind (local, processes, dask), and how to close it."""

    executor: Executor
    kind: str
    address: str = ""
    client: Any = None  # the Dask client, when kind is dask
    workers_seen: set[str] = field(default_factory=set)  # host:pid of the processes that returned spans

    @property
    def ahead(self) -> bool:
        """Whether chunks sent ahead run meanwhile (not in this process)."""
        return self.kind != LOCAL

    def workers_now(self) -> int:
        if self.client is not None:
            from newsetl.tasks.ner_dask import worker_count

            return worker_count(self.client)
        return getattr(self.executor, "_max_workers", 1)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        else:
            # NOTE: workers hold nothing worth a clean exit, and tearing down spaCy takes a second.
            self.executor.shutdown(wait=False, cancel_futures=True)


def open_executor(enrich: EnrichSettings, cluster: ClusterSettings) -> NerExecutor:
    """The executor NER chunks run on, per the settings (see the module's docstring)."""
    if cluster.address:
        from newsetl.tasks.ner_dask import connect

        client, executor = connect(cluster, enrich)
        return NerExecutor(executor, DASK, cluster.address, client)
    if enrich.processes > 1:
        # NOTE: spawn, not fork: forking a process that runs threads (Prefect's, the Elasticsearch
        # client's) can deadlock the child. Workers start on the first chunks and load the model once.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            enrich.processes, mp_context=context, initializer=start_local_worker, initargs=(enrich,)
        )
        return NerExecutor(pool, PROCESSES)
    return NerExecutor(InlineExecutor(load_worker_models, (enrich,)), LOCAL)


# --- a run's chunks and spans ---------------------------------------------------------------


class NerRunner:
    """A run's NER: pairs sent ahead or asked for, chunked to the executor; spans kept for the latest batches.

    The executor opens on first use: a run with nothing new to enrich starts no worker.
    """

    def __init__(self, enrich: EnrichSettings, cluster: ClusterSettings) -> None:
        self.enrich, self.cluster = enrich, cluster
        self.languages = ner_languages(enrich)
        self._executor: NerExecutor | None = None
        self._found: dict[Pair, TextSpans] = {}
        self._pending: dict[Pair, Future] = {}
        self._chunks: dict[Future, list[Pair]] = {}
        self._last_batch: dict[Pair, int] = {}  # pair -> the latest batch that asked for it

    @property
    def executor(self) -> NerExecutor:
        if self._executor is None:
            self._executor = open_executor(self.enrich, self.cluster)
        return self._executor

    @property
    def runs_ahead(self) -> bool:
        """Whether sending ahead pays: NER runs outside this process (known without opening the executor)."""
        return bool(self.cluster.address) or self.enrich.processes > 1

    def send(self, pairs: Iterable[Pair], batch: int) -> int:
        """Submit the pairs neither found nor pending, in chunks; how many went out."""
        pairs = list(dict.fromkeys(pairs))
        for pair in pairs:
            self._last_batch[pair] = max(self._last_batch.get(pair, batch), batch)
        new = [pair for pair in pairs if pair not in self._found and pair not in self._pending]
        for chunk in _chunks(new, CHUNK_CHARS):
            future = self.executor.executor.submit(find_entities, self.enrich, chunk)
            self._chunks[future] = chunk
            for pair in chunk:
                self._pending[pair] = future
        return len(new)

    def spans(self, pairs: Sequence[Pair], batch: int) -> dict[Pair, TextSpans]:
        """The spans of each pair, sending what was not sent ahead and waiting for what is pending."""
        self.send(pairs, batch)
        for future in dict.fromkeys(self._pending[pair] for pair in pairs if pair in self._pending):
            self._collect(future)
        return {pair: self._found[pair] for pair in pairs}

    def forget_before(self, batch: int) -> None:
        """Drop the spans of pairs no batch from `batch` on asked for: memory follows the batch size, not the corpus."""
        for pair in [pair for pair, last in self._last_batch.items() if last < batch and pair not in self._pending]:
            del self._last_batch[pair]
            self._found.pop(pair, None)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Other work for the same workers (reading and extraction, when they see the same paths)."""
        return self.executor.executor.submit(fn, *args)

    def result(self, future: Future) -> Any:
        """A future's result; a lost worker or scheduler as one-line errors."""
        try:
            return future.result()
        except BrokenProcessPool:
            raise EnrichmentWorkerError(
                "an NER worker process exited: out of memory, or a main module that starts work when "
                "imported (spawned workers import it; guard it with `if __name__ == '__main__'`)"
            ) from None
        except CancelledError:
            from newsetl.tasks.ner_dask import ClusterUnavailable

            raise ClusterUnavailable(f"Dask scheduler at {self.cluster.address} lost mid-run") from None
        except NewsetlError:
            raise
        except Exception as error:  # noqa: BLE001 - whatever failed in a worker ends the run as one line
            raise EnrichmentWorkerError(f"NER worker failed: {type(error).__name__}: {error}") from None

    def _collect(self, future: Future) -> None:
        found: FoundSpans = self.result(future)
        chunk = self._chunks.pop(future)
        self._found.update(zip(chunk, found.spans, strict=True))
        for pair in chunk:
            self._pending.pop(pair, None)
        self.executor.workers_seen.add(found.worker)

    def describe(self) -> dict[str, Any]:
        """Which executor ran NER and how many worker processes took part (for the run summary)."""
        if self._executor is None:
            return {"executor": DASK if self.cluster.address else PROCESSES if self.runs_ahead else LOCAL, "workers": 0}
        described = {"executor": self._executor.kind, "workers": len(self._executor.workers_seen)}
        if self._executor.address:
            described["address"] = self._executor.address
        return described

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()
            self._executor = None

    def __enter__(self) -> NerRunner:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _chunks(pairs: list[Pair], chars: int = CHUNK_CHARS) -> Iterator[list[Pair]]:
    """The pairs in consecutive chunks of about `chars` characters."""
    chunk: list[Pair] = []
    size = 0
    for pair in pairs:
        chunk.append(pair)
        size += len(pair[1])
        if size >= chars:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


# --- what enrichment reads besides spans -------------------------------------------------------------------


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


# --- an article's enrichment from its spans --------------------------------------------


def enrich_with_spans(
    article: CleanArticle,
    language: str,
    spans: Mapping[str, TextSpans],
    reader: ArticleReader,
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


# --- a run's NER --------------------------------------------------------------------------


class NerSession:
    """A run's NER, batch by batch: language and dates here, entity spans through a NerRunner.

    When NER runs outside this process, `start` sends a batch's texts as soon as the batch is
    extracted: its NER runs while the batch before it is cleaned, deduplicated and indexed here.
    `enrich` then needs only what cleaning changed. Batches are numbered by the order of the calls.
    """

    def __init__(self, settings: EnrichSettings, cluster: ClusterSettings | None = None) -> None:
        self.settings = settings
        self.ner = NerRunner(settings, cluster or ClusterSettings())
        self._started = self._enriched = 0  # batches started and enriched so far
        self._files_sent: set[int] = set()  # sha256 (first 64 bits) of the files whose texts were sent
        self._languages: dict[tuple[str, str, str | None], tuple[str, int]] = {}  # sample -> (language, batch)

    @functools.cached_property
    def reader(self) -> ArticleReader:
        """Language identification, dates and entity knowledge: loaded when a batch first needs them
        (an unchanged re-run, which enriches nothing, never pays for them)."""
        return ArticleReader.for_models(list(model_packages(self.settings)))

    def start(self, extracted: ExtractedBatch, known: Mapping[str, SourceState]) -> int:
        """Send the NER texts of a batch's articles ahead; how many texts went out.

        Articles of files read before with the same bytes (their articles are stored) and of
        files already sent (copies) are left out, as are articles in no language NER has a model
        for. Whatever cleaning keeps of the rest is among the texts sent.
        """
        batch, self._started = self._started, self._started + 1
        if not self.ner.runs_ahead:
            return 0
        articles = [
            article
            for article in extracted.articles
            if (read := extracted.read.get(article.source.path)) is None
            or not (
                _short_hash(read.sha256) in self._files_sent
                or _stored_before(known.get(read.source.path), read.sha256)
            )
        ]
        self._files_sent.update(_short_hash(read.sha256) for read in extracted.read.values())
        return self.ner.send((pair for article in articles for pair in self._pairs(_draft(article), batch)), batch)

    def enrich(self, articles: Sequence[CleanArticle]) -> list[Enrichment]:
        """Enrichment of each article, in order, from the spans sent ahead by `start` (the rest found now)."""
        batch, self._enriched = self._enriched, self._enriched + 1
        pairs = [list(self._pairs(article, batch)) for article in articles]
        found = self.ner.spans([pair for article_pairs in pairs for pair in article_pairs], batch)
        enrichments = [
            enrich_with_spans(
                article,
                self._language(article, batch),
                {text: found[(language, text)] for language, text in article_pairs},
                self.reader,
                self.settings.max_chars,
            )
            for article, article_pairs in zip(articles, pairs, strict=True)
        ]
        self.ner.forget_before(batch)
        for key in [key for key, (_, last) in self._languages.items() if last < batch]:
            del self._languages[key]
        return enrichments

    def _pairs(self, article: CleanArticle, batch: int) -> Iterator[Pair]:
        """(language, text) of each text NER reads of the article; none when no model reads its language."""
        language = self._language(article, batch)
        if language in self.ner.languages:
            yield from ((language, text) for text, _ in ner_texts(article, self.settings.max_chars))

    def _language(self, article: CleanArticle, batch: int) -> str:
        """detect_language, once per text (an article's draft and its cleaned form are often the same)."""
        key = (article.title, article.body[:LANGUAGE_SAMPLE_CHARS], article.language)
        language, last = self._languages.get(key) or (detect_language(article, self.reader), batch)
        self._languages[key] = (language, max(last, batch))
        return language

    def close(self) -> None:
        self.ner.close()

    def __enter__(self) -> NerSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def load_ner_model(settings: EnrichSettings) -> NerSession:
    """A session for tests and evaluations: the same path as a run (ModelNotInstalled when no model is)."""
    return NerSession(settings)


def enrich_articles(
    articles: Sequence[CleanArticle], model: NerSession, settings: EnrichSettings | None = None
) -> list[Enrichment]:
    """Enrichment of each article, in order: one batch through the session (for tests and evaluations)."""
    return model.enrich(articles)


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
