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
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from newsetl.config.settings import ClusterSettings, EnrichSettings
from newsetl.tasks.enrichment import ArticleReader, enrich_with_spans, enrichment_key, ner_texts
from newsetl.tasks.errors import NewsetlError
from newsetl.tasks.language import LANGUAGE_SAMPLE_CHARS, detect_language
from newsetl.tasks.ner_models import model_packages, ner_languages
from newsetl.tasks.ner_worker import (
    ArticleFindings,
    FoundSpans,
    Pair,
    TextSpans,
    find_entities,
    load_worker_models,
    passed_through,
    start_local_worker,
    worker_enrichments,
)
from newsetl.tasks.records import (
    DUPLICATE,
    WRITTEN,
    CleanArticle,
    CleanedBatch,
    Enrichment,
    SourceState,
)

CHUNK_CHARS = 50_000  # characters sent to a worker at a time: about half a second of NER
FIRST = 10  # Dask priority of work this process waits on (chunks have 0: they run when nothing else waits)
WORKER_CHECK_SECONDS = 2.0  # how often a wait on the cluster checks that it still has workers

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

    def send_articles(self, articles: Sequence[CleanArticle]) -> list[tuple[Future, list[CleanArticle]]]:
        """Submit whole articles (language, NER and enrichment run on the worker), in chunks; the futures and chunks."""
        sent = []
        for chunk in _chunks(list(articles), CHUNK_CHARS, self._ner_chars):
            sent.append((self.executor.executor.submit(worker_enrichments, self.enrich, chunk), chunk))
        return sent

    def _ner_chars(self, article: CleanArticle) -> int:
        return len(article.title) + min(len(article.body), self.enrich.max_chars)

    def submit_first(self, fn: Callable[..., Any], *args: Any) -> Future | None:
        """Work this process waits on, run ahead of the chunks queued for later batches; None when the executor
        cannot order its queue (a local pool: the caller does the work itself)."""
        client = self.executor.client
        if client is None:
            return None
        return client.submit(fn, *args, pure=False, priority=FIRST)

    def known(self, pairs: Iterable[Pair]) -> dict[Pair, TextSpans]:
        """The spans found so far of these pairs."""
        return {pair: self._found[pair] for pair in pairs if pair in self._found}

    def remember(self, spans: Mapping[Pair, TextSpans], batch: int, worker: str) -> None:
        """Spans a worker found along with an article's enrichment: an article deduplication changed reads them here."""
        for pair, text_spans in spans.items():
            self._found[pair] = text_spans
            self._last_batch[pair] = max(self._last_batch.get(pair, batch), batch)
        self.executor.workers_seen.add(worker)

    def forget_before(self, batch: int) -> None:
        """Drop the spans of pairs no batch from `batch` on asked for: memory follows the batch size, not the corpus."""
        for pair in [pair for pair, last in self._last_batch.items() if last < batch and pair not in self._pending]:
            del self._last_batch[pair]
            self._found.pop(pair, None)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Other work for the same workers (reading, extraction, cleaning): a future, read with `result`.

        On Dask, the client's own future: passed to another `submit`, the work runs where its result is.
        """
        client = self.executor.client
        if client is not None:
            # Ahead of queued NER chunks: this process waits on it, and the next chunks come from it.
            return client.submit(fn, *args, pure=False, priority=FIRST)
        return self.executor.executor.submit(fn, *args)

    def put(self, data: Any) -> Any:
        """Data put on the workers once (a future standing for it in `submit`); on a local pool, the data itself.

        NOTE: a task returning the data, not Client.scatter: scattered data dies with its worker (the
        tasks that need it are then cancelled), while a task's result is computed again elsewhere.
        """
        client = self.executor.client
        if client is None:
            return data
        return client.submit(passed_through, data, pure=False, priority=FIRST)

    @property
    def on_cluster(self) -> bool:
        """Whether the workers are a Dask cluster's (known without opening the executor)."""
        return bool(self.cluster.address)

    def result(self, future: Future) -> Any:
        """A future's result; a lost worker or scheduler, or a cluster left without workers, as one-line errors."""
        try:
            if self._executor is not None and self._executor.client is not None:
                return self._cluster_result(future)
            return future.result()
        except BrokenProcessPool:
            raise EnrichmentWorkerError(
                "an NER worker process exited: out of memory, or a main module that starts work when "
                "imported (spawned workers import it; guard it with `if __name__ == '__main__'`)"
            ) from None
        except CancelledError:
            raise self._scheduler_lost() from None
        except NewsetlError:
            raise
        except Exception as error:  # noqa: BLE001 - whatever failed in a worker ends the run as one line
            raise EnrichmentWorkerError(f"NER worker failed: {type(error).__name__}: {error}") from None

    def _cluster_result(self, future: Future) -> Any:
        """A Dask future's result, watching that the cluster still has a worker to run it.

        Dask waits for a worker as long as it takes (a worker that dies is restarted by its nanny,
        or another joins); a cluster left with none for `connect_timeout` seconds ends the run.
        """
        from distributed.comm.core import CommClosedError

        from newsetl.tasks.ner_dask import ClusterUnavailable

        assert self._executor is not None
        without_workers_since: float | None = None
        while True:
            try:
                return future.result(timeout=WORKER_CHECK_SECONDS)
            except TimeoutError:
                pass
            except CommClosedError:
                # The scheduler died while the result was on its way here (else the future is cancelled).
                raise self._scheduler_lost() from None
            try:
                workers = self._executor.workers_now()
            except (OSError, TimeoutError):
                workers = 0
            if workers:
                without_workers_since = None
                continue
            without_workers_since = without_workers_since or time.monotonic()
            if time.monotonic() - without_workers_since >= self.cluster.connect_timeout:
                raise ClusterUnavailable(
                    f"Dask scheduler at {self.cluster.address}: no worker left for {self.cluster.connect_timeout:g} s"
                )

    def _scheduler_lost(self) -> NewsetlError:
        from newsetl.tasks.ner_dask import ClusterUnavailable

        return ClusterUnavailable(f"Dask scheduler at {self.cluster.address} lost mid-run")

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


def _chunks(items: list[Any], chars: int = CHUNK_CHARS, size_of: Callable[[Any], int] | None = None) -> Iterator[list]:
    """The items in consecutive chunks of about `chars` characters (`size_of` an item; a pair's is its text's)."""
    chunk: list[Any] = []
    size = 0
    for item in items:
        chunk.append(item)
        size += size_of(item) if size_of is not None else len(item[1])
        if size >= chars:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


# --- a run's NER --------------------------------------------------------------------------


class NerSession:
    """A run's NER, batch by batch: each article's language, entities and dates.

    When NER runs outside this process, `start` sends a batch's articles to the workers as soon
    as the batch is cleaned: there they get their language, entity spans and whole enrichment
    while this process deduplicates and indexes the batches before. `enrich` then takes the
    workers' enrichment of each article; one it has none for (an article deduplication changed)
    is asked of a worker ahead of its queue (Dask), or made here (a local pool, or NER in this
    process), from the spans found so far. Batches are numbered by the order of the calls: one
    `start` and one `enrich` per batch.
    """

    def __init__(self, settings: EnrichSettings, cluster: ClusterSettings | None = None) -> None:
        self.settings = settings
        self.ner = NerRunner(settings, cluster or ClusterSettings())
        self._started = self._enriched = 0  # batches started and enriched so far
        self._files_sent: set[int] = set()  # sha256 (first 64 bits) of the files whose texts were sent
        self._languages: dict[tuple[str, str, str | None], tuple[str, int]] = {}  # sample -> (language, batch)
        self._sent: dict[Future, tuple[int, list[CleanArticle]]] = {}  # chunks out -> (batch, their articles)
        self._made: dict[bytes, tuple[Enrichment, int]] = {}  # enrichment_key -> (a worker's enrichment, batch)
        self.enriched = {"on_workers": 0, "here": 0}  # articles whose enrichment a worker made, or this process

    @functools.cached_property
    def reader(self) -> ArticleReader:
        """Language identification, dates and entity knowledge: loaded when this process first enriches an
        article itself (an unchanged re-run, or a run whose workers do it all, never pays for them)."""
        return ArticleReader.for_models(list(model_packages(self.settings)))

    def start(self, cleaned: CleanedBatch, known: Mapping[str, SourceState]) -> int:
        """Send a batch's articles ahead to the workers; how many went out.

        Articles of files read before with the same bytes (their articles are stored) and of
        files already sent (copies) are left out: deduplication will not ask for them.
        """
        batch, self._started = self._started, self._started + 1
        if not self.ner.runs_ahead:
            return 0
        articles = [
            article
            for article in cleaned.articles
            if (read := cleaned.read.get(article.source.path)) is None
            or not (
                _short_hash(read.sha256) in self._files_sent
                or _stored_before(known.get(read.source.path), read.sha256)
            )
        ]
        self._files_sent.update(_short_hash(read.sha256) for read in cleaned.read.values())
        for future, chunk in self.ner.send_articles(articles):
            self._sent[future] = (batch, chunk)
        return len(articles)

    def enrich(self, articles: Sequence[CleanArticle]) -> list[Enrichment]:
        """Enrichment of each article, in order: a worker's when it made it for the same input, else made here."""
        batch, self._enriched = self._enriched, self._enriched + 1
        # This batch's chunks and those before it are all back first: their spans serve any article changed since.
        for future in [future for future, (started, _) in self._sent.items() if started <= batch]:
            self._collect_sent(future)
        keys = [enrichment_key(article) for article in articles]
        made: dict[int, Enrichment] = {}
        for index, key in enumerate(keys):
            if key in self._made:
                made[index] = self._made[key][0]
                self._made[key] = (made[index], batch)
        self.enriched["on_workers"] += len(made)
        changed = [article for index, article in enumerate(articles) if index not in made]
        made_now = iter(self._enrich_changed(changed, batch)) if changed else iter(())
        enrichments = [made[index] if index in made else next(made_now) for index in range(len(articles))]
        self.ner.forget_before(batch)
        for key in [key for key, (_, last) in self._languages.items() if last < batch]:
            del self._languages[key]
        for key in [key for key, (_, last) in self._made.items() if last < batch]:
            del self._made[key]
        return enrichments

    def _enrich_changed(self, articles: Sequence[CleanArticle], batch: int) -> list[Enrichment]:
        """Enrichment of articles no worker made yet (deduplication changed them): on a worker ahead of its queue when
        the executor can do that (with the languages and spans known so far), else here."""
        future = None
        if self.ner.runs_ahead:
            languages = [self._languages.get(_language_key(article), (None, 0))[0] for article in articles]
            wanted = [
                (language, text)
                for article, language in zip(articles, languages, strict=True)
                if language in self.ner.languages
                for text, _ in ner_texts(article, self.settings.max_chars)
            ]
            known = self.ner.known(wanted)
            future = self.ner.submit_first(worker_enrichments, self.settings, list(articles), languages, known)
        if future is None:
            self.enriched["here"] += len(articles)
            return self._enrich_here(articles, batch)
        self._sent[future] = (batch, list(articles))
        self._collect_sent(future)
        self.enriched["on_workers"] += len(articles)
        return [self._made[enrichment_key(article)][0] for article in articles]

    def _enrich_here(self, articles: Sequence[CleanArticle], batch: int) -> list[Enrichment]:
        """Enrichment of articles no worker made: language here, spans found or sent now."""
        pairs = [list(self._pairs(article, batch)) for article in articles]
        found = self.ner.spans([pair for article_pairs in pairs for pair in article_pairs], batch)
        return [
            enrich_with_spans(
                article,
                self._language(article, batch),
                {text: found[(language, text)] for language, text in article_pairs},
                self.reader,
                self.settings.max_chars,
            )
            for article, article_pairs in zip(articles, pairs, strict=True)
        ]

    def _collect_sent(self, future: Future) -> None:
        """A chunk back from a worker: its enrichments, languages and spans kept for `enrich`."""
        findings: ArticleFindings = self.ner.result(future)
        batch, articles = self._sent.pop(future)
        for article, key, language, spans, enrichment in zip(
            articles, findings.keys, findings.languages, findings.spans, findings.enrichments, strict=True
        ):
            self._made[key] = (enrichment, batch)
            self._languages[_language_key(article)] = (language, batch)
            pairs = {(language, text): text_spans for text, text_spans in spans.items()}
            self.ner.remember(pairs, batch, findings.worker)

    def _pairs(self, article: CleanArticle, batch: int) -> Iterator[Pair]:
        """(language, text) of each text NER reads of the article; none when no model reads its language."""
        language = self._language(article, batch)
        if language in self.ner.languages:
            yield from ((language, text) for text, _ in ner_texts(article, self.settings.max_chars))

    def _language(self, article: CleanArticle, batch: int) -> str:
        """detect_language, once per text (copies of an article in later batches are common)."""
        key = _language_key(article)
        language, last = self._languages.get(key) or (detect_language(article, self.reader), batch)
        self._languages[key] = (language, max(last, batch))
        return language

    def describe(self) -> dict[str, Any]:
        """The runner's description (executor, workers), and where articles were enriched when workers could."""
        described = self.ner.describe()
        if self.ner.runs_ahead:
            described["articles_enriched"] = dict(self.enriched)
        return described

    def close(self) -> None:
        self.ner.close()

    def __enter__(self) -> NerSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _language_key(article: CleanArticle) -> tuple[str, str, str | None]:
    """What detect_language reads of an article."""
    return (article.title, article.body[:LANGUAGE_SAMPLE_CHARS], article.language)


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
