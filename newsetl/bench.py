"""The performance benchmark: a generated corpus through the real ingest flow, against bare NER on the same texts.

`newsetl bench [--articles N] [--json]`. One run:
1. builds N .txt articles (~850 words) from sentences of the shared corpora, a set share of them
   byte copies and near copies (a few words edited) of others, spread over folders of varied size;
2. runs the ingest flow in this process into a throw-away alias on the local node, with
   `processes` NER workers, sampling the resident memory of this process and its workers, and
   the CPU time of everything the run uses;
3. runs it again over the unchanged folder (nothing is read: stat and file states only);
4. times the bound, bare `nlp.pipe(texts, n_process=processes)` with the pipeline's spaCy model
   over the distinct texts NER reads of the corpus (half before the ingest, half after), and a
   stricter one: as many processes each running nlp.pipe over a share, nothing sent back.

Throughput is measured on the flow's own clock (`seconds` of its summary: discovery to the last
write), not process wall time, which includes Prefect's start-up. The ratio compares like with
like: articles the run put through NER per second, against the bound on those articles' texts
(copies cost the run no NER, so they are left out of both sides).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import resource
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from newsetl.children import die_with_parent
from newsetl.config.settings import BenchSettings, ElasticsearchSettings, EnrichSettings, ExtractSettings, Settings
from newsetl.tasks.errors import NewsetlError

CORPORA = Path(os.environ.get("NEWSETL_CORPORA", Path(__file__).resolve().parents[1].parent / "shared" / "corpora"))
MIN_PARAGRAPH_WORDS = 8  # shorter blocks of the corpora are headings, captions and datelines
MIN_SENTENCE_WORDS = 4
SENTENCE_BREAK = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)]))\s+(?=[\"“‘(]?[A-Z0-9])")
# Two to four sentences a paragraph, ~50 words as in news; one-sentence paragraphs would recur.
SENTENCES_PER_PARAGRAPH, SENTENCES_PER_PARAGRAPH_WEIGHTS = (2, 3, 4), (5, 3, 1)
EDITED_WORDS = 3  # words changed in a near copy: estimated Jaccard stays about 0.97
REPLACEMENT_WORDS = ("also", "then", "still", "now", "again", "later", "indeed", "meanwhile")
SECTIONS = ("world", "business", "politics", "science", "sport", "culture")
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
MB = 1024 * 1024


class BenchError(NewsetlError):
    """The benchmark could not run (no corpora, a run that did not count what it was given)."""


# --- the corpus ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchCorpus:
    """A generated corpus on disk and what it holds."""

    root: Path
    files: int
    unique: int  # distinct articles, near copies not included
    exact_duplicates: int
    near_duplicates: int
    words: int  # of every file's title and body, copies included
    folders: int


def source_sentences(corpora: Path) -> list[str]:
    """Distinct sentences of the English news prose in the shared corpora, in a fixed order."""
    truth_file = corpora / "scrapinghub-article-extraction-benchmark" / "ground-truth.json"
    if not truth_file.is_file():
        raise BenchError(f"shared corpora not found at {corpora} (set NEWSETL_CORPORA)")
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    english = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    blocks: list[str] = []
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    for item_id in sorted(truth):
        body = truth[item_id]["articleBody"]
        if english.classify(body[:2000])[0] == "en":  # the benchmark holds some pages in other languages
            blocks += body.split("\n")
    for path in sorted((corpora / "gum-news-ner" / "conllu").glob("*.conllu")):
        blocks += _conllu_paragraphs(path.read_text(encoding="utf-8"))
    for path in sorted((corpora / "seed").glob("*.txt")):
        blocks += path.read_text(encoding="utf-8").split("\n\n")[1:]
    paragraphs = (" ".join(block.split()) for block in blocks)
    sentences = (
        sentence for paragraph in paragraphs if _is_prose(paragraph) for sentence in SENTENCE_BREAK.split(paragraph)
    )
    return list(dict.fromkeys(sentence for sentence in sentences if _is_prose(sentence, MIN_SENTENCE_WORDS)))


def _is_prose(text: str, min_words: int = MIN_PARAGRAPH_WORDS) -> bool:
    """Long enough, and mostly words (not a table row of figures)."""
    words = text.split()
    return len(words) >= min_words and sum(word.isalpha() for word in words) * 2 >= len(words)


def _conllu_paragraphs(text: str) -> list[str]:
    paragraphs: list[list[str]] = []
    for line in text.splitlines():
        if line == "# newpar" or (line.startswith("# newdoc") and paragraphs):
            paragraphs.append([])
        elif line.startswith("# text = ") and paragraphs:
            paragraphs[-1].append(line.split(" = ", 1)[1])
    return [" ".join(sentences) for sentences in paragraphs if sentences]


def build_corpus(root: Path, articles: int, bench: BenchSettings, sentences: Sequence[str]) -> BenchCorpus:
    """Write `articles` files under root: distinct articles, byte copies and near copies, in varied folders.

    Articles are written one at a time (memory does not grow with the corpus). Their paragraphs
    join one to four sentences dealt from a shuffled deck (reshuffled when used up): no two
    articles share a paragraph, as no two stories would, however many articles are asked for.
    """
    rng = random.Random(bench.seed)
    exact = round(articles * bench.exact_duplicate_share)
    near = round(articles * bench.near_duplicate_share)
    unique = articles - exact - near
    if unique < 1 or not sentences:
        raise BenchError(f"cannot build {articles} articles with these duplicate shares")
    slots = _file_slots(articles, bench.files_per_folder, rng)
    rng.shuffle(slots)  # copies land in any folder, in any batch
    copied = set(rng.sample(range(unique), min(unique, exact)))
    edited = set(rng.sample(range(unique), min(unique, near)))
    deck = _Deck(sentences, rng)
    words = 0
    next_slot = iter(slots)
    for number in range(unique):
        title, dateline, body = _article(deck, bench.words_per_article, rng)
        words += _write(root / next(next_slot), title, dateline, body)
        if number in copied:
            words += _write(root / next(next_slot), title, dateline, body)
        if number in edited:
            words += _write(root / next(next_slot), title, dateline, _edit_words(body, rng))
    for _ in range(exact - len(copied)):  # only when there are fewer articles than copies
        words += _write(root / next(next_slot), title, dateline, body)
    folders = len({slot.parent for slot in slots})
    return BenchCorpus(root, articles, unique, exact, near, words, folders)


def _file_slots(count: int, per_folder: int, rng: random.Random) -> list[Path]:
    """Relative paths of `count` files in folders of varied size (site-03/business/story-00042.txt)."""
    slots: list[Path] = []
    folder = 0
    while len(slots) < count:
        size = rng.randint(max(1, per_folder // 2), max(1, per_folder * 3 // 2))
        where = Path(f"site-{folder // len(SECTIONS):02d}") / SECTIONS[folder % len(SECTIONS)]
        slots += [where / f"story-{len(slots) + n:05d}.txt" for n in range(min(size, count - len(slots)))]
        folder += 1
    return slots


@dataclass
class _Deck:
    sentences: Sequence[str]
    rng: random.Random
    order: list[int] = field(default_factory=list)

    def draw(self) -> str:
        if not self.order:
            self.order = list(range(len(self.sentences)))
            self.rng.shuffle(self.order)
        return self.sentences[self.order.pop()]


def _article(deck: _Deck, target_words: int, rng: random.Random) -> tuple[str, str, list[str]]:
    body: list[str] = []
    words = 0
    while words < target_words:
        count = rng.choices(SENTENCES_PER_PARAGRAPH, SENTENCES_PER_PARAGRAPH_WEIGHTS)[0]
        paragraph = " ".join(deck.draw() for _ in range(count))
        if words >= 0.9 * target_words and words + len(paragraph.split()) > 1.05 * target_words:
            break  # near enough: a long last paragraph would overshoot
        body.append(paragraph)
        words += len(paragraph.split())
    headline = " ".join(deck.draw().split()[:9]).rstrip(",;:.")
    dateline = f"Published {rng.randint(1, 28)} {rng.choice(MONTH_NAMES)} {rng.randint(2015, 2024)}"
    return headline, dateline, body


def _edit_words(body: list[str], rng: random.Random) -> list[str]:
    edited = list(body)
    for index in rng.sample(range(len(edited)), min(EDITED_WORDS, len(edited))):
        words = edited[index].split(" ")
        position = rng.randrange(1, len(words))
        words[position] = rng.choice([w for w in REPLACEMENT_WORDS if w != words[position]])
        edited[index] = " ".join(words)
    return edited


def _write(path: Path, title: str, dateline: str, body: list[str]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join([title, dateline, *body]) + "\n", encoding="utf-8")
    return len(title.split()) + sum(len(paragraph.split()) for paragraph in body)


# --- extraction by format ----------------------------------------------------------------------

SAMPLE_DATE = "Tue, 03 Jan 2023 10:15:00 +0000"
FORMAT_SAMPLE_FILES = 20  # files of each format whose extraction is timed
HTML_PAGES = Path("scrapinghub-article-extraction-benchmark") / "html"  # real pages, by path in the corpora


def build_format_samples(
    root: Path, corpora: Path, sentences: Sequence[str], seed: int, count: int = FORMAT_SAMPLE_FILES
) -> dict[str, list[Path]]:
    """Files of each format to time extraction on: real web pages of the shared corpora, and articles of
    ~850 words laid out as PDF (one and two columns, running header, page numbers), DOCX, ODT, RTF and e-mail."""
    import gzip

    from newsetl.testdocs import article_pdf, docx_bytes, eml_bytes, odt_bytes, rtf_bytes

    rng = random.Random(seed)
    deck = _Deck(sentences, rng)
    writers = {
        "text": lambda title, body, n: "\n\n".join([title, *body]).encode(),
        "pdf": lambda title, body, n: article_pdf(title, body, columns=1 + n % 2, header="THE BENCH TIMES"),
        "docx": lambda title, body, n: docx_bytes(title, body),
        "odt": lambda title, body, n: odt_bytes(title, body),
        "rtf": lambda title, body, n: rtf_bytes(title, body),
        "eml": lambda title, body, n: eml_bytes(title, "desk@example.org", SAMPLE_DATE, text="\n\n".join(body)),
    }
    samples: dict[str, list[Path]] = {"html": []}
    (root / "html").mkdir(parents=True, exist_ok=True)
    for page in sorted((corpora / HTML_PAGES).glob("*.html.gz"))[:count]:
        target = root / "html" / page.name.removesuffix(".gz")
        target.write_bytes(gzip.decompress(page.read_bytes()))
        samples["html"].append(target)
    for name, write in writers.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        samples[name] = []
        for number in range(count):
            title, _dateline, body = _article(deck, 850, rng)
            path = root / name / f"story-{number:03d}.{'txt' if name == 'text' else name}"
            path.write_bytes(write(title, body, number))
            samples[name].append(path)
    return samples


def extraction_ms_per_file(samples: dict[str, list[Path]], settings: ExtractSettings) -> dict[str, float]:
    """Median milliseconds to read and extract one file, by format; the first file of each is a warm-up (imports)."""
    from newsetl.tasks.extract import extract_file
    from newsetl.tasks.records import SourceFile

    medians: dict[str, float] = {}
    for name, paths in samples.items():
        timings = []
        for path in paths:
            info = path.stat()
            source = SourceFile(str(path), str(path.parent), info.st_size, info.st_mtime, info.st_ino)
            started = time.perf_counter()
            extract_file(source, settings)
            timings.append(time.perf_counter() - started)
        if len(timings) > 1:
            medians[name] = round(1000 * statistics.median(timings[1:]), 2)
    return medians


# --- memory of the process tree -----------------------------------------------------------------


class PeakMemory:
    """Peak resident memory of this process and of the worker processes it starts (the NER workers).

    Each process's own peak (VmHWM) is read while it lives; the peak of the tree is reported as
    the sum of those peaks, an upper bound of what was resident at any one moment. Services the
    run talks to (Elasticsearch, Prefect's server) are not counted.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.main_bytes = 0
        self.worker_bytes: dict[int, int] = {}
        self.earlier_children: set[int] = set()
        self.sampled_tree_bytes = 0  # the largest sum of VmRSS seen at one sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, name="peak-memory", daemon=True)

    def __enter__(self) -> PeakMemory:
        try:
            # NOTE: "5" resets this process's VmHWM (Linux 4.0+), so the corpus building before does not count.
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass
        # NOTE: an earlier run's pool closes without waiting (tasks.ner.NerExecutor.close); its
        # workers may still be exiting here, and are not this run's.
        self.earlier_children = {child.pid for child in multiprocessing.active_children() if child.pid}
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def main_mb(self) -> float:
        return round(self.main_bytes / MB, 1)

    @property
    def workers_mb(self) -> float:
        return round(sum(self.worker_bytes.values()) / MB, 1)

    @property
    def peak_mb(self) -> float:
        return round((self.main_bytes + sum(self.worker_bytes.values())) / MB, 1)

    @property
    def workers_seen(self) -> int:
        return len(self.worker_bytes)

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        own = _memory_of(os.getpid())
        if own is None:
            return
        self.main_bytes = max(self.main_bytes, own[1])
        resident = own[0]
        try:
            workers = [
                child.pid
                for child in multiprocessing.active_children()
                if child.pid and child.pid not in self.earlier_children
            ]
        except RuntimeError:  # a worker started while the list was read: next time
            workers = []
        for pid in workers:
            memory = _memory_of(pid)
            if memory is not None:
                resident += memory[0]
                self.worker_bytes[pid] = max(self.worker_bytes.get(pid, 0), memory[1])
        self.sampled_tree_bytes = max(self.sampled_tree_bytes, resident)


def _memory_of(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) of a process in bytes, or None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
    if "VmRSS" not in values:
        return None
    return int(values["VmRSS"]) * 1024, int(values["VmHWM"]) * 1024


class CpuMeter:
    """CPU seconds used while it runs, by this process, the NER workers, Elasticsearch and Prefect's server.

    The NER workers count once they have ended (RUSAGE_CHILDREN). The machine may be shared:
    CPU seconds show what the run itself took, whatever else ran.
    """

    def __init__(self, elasticsearch_pid: int | None, prefect_server_pid: int | None) -> None:
        self.services = {"elasticsearch": elasticsearch_pid, "prefect_server": prefect_server_pid}
        self.used: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self._start = self._read()
        return self

    def __exit__(self, *_: object) -> None:
        self.used = {name: round(seconds - self._start[name], 2) for name, seconds in self._read().items()}

    def _read(self) -> dict[str, float]:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "main": own.ru_utime + own.ru_stime,
            "ner_workers": children.ru_utime + children.ru_stime,
            **{name: _cpu_seconds(pid) for name, pid in self.services.items()},
        }

    def as_dict(self) -> dict[str, float]:
        return dict(self.used)


def _cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process (0 when unknown or gone)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the bound: bare nlp.pipe -------------------------------------------------------------------


@dataclass(frozen=True)
class BareNer:
    """One timing of bare NER over a set of texts."""

    texts: int
    seconds: float
    cpu_seconds: float

    def as_dict(self) -> dict[str, float]:
        return {"texts": self.texts, "seconds": round(self.seconds, 3), "cpu_seconds": round(self.cpu_seconds, 2)}


def bare_nlp_pipe(texts: Sequence[str], settings: EnrichSettings, processes: int) -> BareNer:
    """The bound: `nlp.pipe(texts, n_process=processes, batch_size=...)` with the pipeline's model.

    Run in a fresh process (spaCy forks its workers from it: this process runs threads), timed
    once the model is loaded (as tasks.ner_models loads it: same package, same components);
    spaCy's workers send the Docs back, as bare nlp.pipe does.
    """
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    runner = context.Process(target=_nlp_pipe_runner, args=(settings, list(texts), processes, results))
    runner.start()
    try:
        seconds, cpu_seconds = results.get(timeout=3600)
    finally:
        runner.join(timeout=60)
        if runner.is_alive():
            runner.terminate()
    return BareNer(len(texts), seconds, cpu_seconds)


def _nlp_pipe_runner(settings: EnrichSettings, texts: list[str], processes: int, results: Any) -> None:
    from newsetl.tasks.ner_models import load_ner_pipeline

    die_with_parent(multiprocessing.parent_process().pid)  # a killed bench takes its workers along
    nlp, _ = load_ner_pipeline(settings)
    started, cpu = time.perf_counter(), _own_and_children_cpu()
    for _ in nlp.pipe(texts, n_process=processes, batch_size=settings.batch_size):
        pass
    results.put((time.perf_counter() - started, _own_and_children_cpu() - cpu))


def _own_and_children_cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bare_ner_compute(texts: Sequence[str], settings: EnrichSettings, processes: int) -> BareNer:
    """A stricter bound: `processes` processes each run nlp.pipe over a share of the texts, nothing sent back.

    Each share is a run of consecutive texts of about equal length; the clock starts when every
    process has the model loaded and stops when the last one is done: NER's compute alone.
    """
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(processes + 1)
    results = context.Queue()
    shares: list[list[str]] = [[] for _ in range(processes)]
    total, done = sum(map(len, texts)), 0
    for text in texts:
        shares[min(processes - 1, done * processes // max(total, 1))].append(text)
        done += len(text)
    workers = [
        context.Process(target=_compute_worker, args=(settings, share, ready, results), daemon=True) for share in shares
    ]
    for worker in workers:
        worker.start()
    try:
        ready.wait(timeout=300)
        timings = [results.get(timeout=3600) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
    return BareNer(len(texts), max(wall for wall, _ in timings), sum(cpu for _, cpu in timings))


def _compute_worker(settings: EnrichSettings, texts: list[str], ready: Any, results: Any) -> None:
    from newsetl.tasks.ner_models import load_ner_pipeline

    die_with_parent(multiprocessing.parent_process().pid)  # a killed bench takes its workers along
    nlp, _ = load_ner_pipeline(settings)
    ready.wait(timeout=300)
    started, started_cpu = time.perf_counter(), time.process_time()
    for _ in nlp.pipe(texts, batch_size=settings.batch_size):
        pass
    results.put((time.perf_counter() - started, time.process_time() - started_cpu))


# --- the run ------------------------------------------------------------------------------------


def run_benchmark(
    settings: Settings,
    articles: int | None = None,
    processes: int | None = None,
    corpora: Path = CORPORA,
    batch_size: int | None = None,
    dask: str | None = None,
) -> dict[str, Any]:
    """Ingest a generated corpus of `articles` files twice and time bare NER on it: the figures as a dict.

    Bare NER reads the distinct texts of the corpus (titles and paragraphs) in two halves, every
    other text: one half before the ingest, the other after. The machine may be shared; load that
    comes and goes weighs on both sides alike.

    With `dask` (an address; "" for NEWSETL_DASK_ADDRESS, else a local cluster of one
    single-threaded worker per CPU), the same corpus is ingested once more, into another alias,
    with NER on the cluster's workers: the "dask_*" figures and the driver's own CPU per article.
    """
    from newsetl import local_es

    bench = settings.bench
    articles = articles or bench.articles
    processes = processes or bench.processes or os.cpu_count() or 1
    batch_size = batch_size or settings.flow.batch_size
    sentences = source_sentences(corpora)
    load_before = os.getloadavg()[0]
    node = local_es.start(settings.es, settings.local_es)
    es = replace(settings.es, index=f"bench-{uuid.uuid4().hex[:10]}")
    enrich = replace(settings.enrich, processes=processes)
    with tempfile.TemporaryDirectory(prefix="newsetl-bench-") as folder:
        corpus = build_corpus(Path(folder) / "articles", articles, bench, sentences)
        try:
            with ingest_environment(es, enrich):
                _ingest(Path(folder) / "empty", batch_size)  # starts Prefect's server, imports, creates the indices
                before = _time_bare_ner(corpus_texts(corpus, enrich.max_chars)[0::2], enrich, processes)
                first, memory, cpu = _measured_ingest(corpus.root, batch_size, node.pid)
                second, rerun_memory, _ = _measured_ingest(corpus.root, batch_size, node.pid)
            after = _time_bare_ner(corpus_texts(corpus, enrich.max_chars)[1::2], enrich, processes)
            enriched, enriched_texts = enriched_text_count(es, enrich.max_chars)
            samples = build_format_samples(Path(folder) / "formats", corpora, sentences, bench.seed)
            extract_ms = extraction_ms_per_file(samples, settings.extract)
            address = settings.cluster.address if dask == "" else dask
            on_dask = None if dask is None else _dask_run(settings, es, enrich, corpus, batch_size, node.pid, address)
        finally:
            delete_alias(es)
    _check_counts(first, second, corpus)
    bound = before["nlp.pipe"].seconds + after["nlp.pipe"].seconds
    compute = before["compute"].seconds + after["compute"].seconds
    seconds = first["seconds"]
    dask_figures = {}
    if on_dask is not None:
        dask_figures = {
            "local_articles_per_s": round(corpus.files / seconds, 2),
            "local_driver_ms_per_article": round(1000 * cpu.as_dict()["main"] / corpus.files, 2),
            **on_dask,
            "dask_ratio_to_local": round(on_dask["dask_articles_per_s"] / (corpus.files / seconds), 3),
        }
    return {
        "articles": corpus.files,
        "words": corpus.words,
        "processes": processes,
        "batch_size": batch_size,
        "seconds": seconds,
        "articles_per_s": round(corpus.files / seconds, 2),
        "words_per_s": round(corpus.words / seconds),
        "enriched_articles": enriched,
        "enriched_articles_per_s": round(enriched / seconds, 2),
        "bound_seconds": round(bound, 3),
        "bound_articles_per_s": round(enriched / bound, 2),
        # Like with like: the articles the run enriched, on the run's clock and on bare nlp.pipe's.
        "ratio_to_bound": round(bound / seconds, 3),
        "compute_bound_articles_per_s": round(enriched / compute, 2),
        "ratio_to_compute_bound": round(compute / seconds, 3),
        "bound_runs": {
            "texts": before["nlp.pipe"].texts + after["nlp.pipe"].texts,
            "texts_enriched": enriched_texts,
            **{
                f"{kind} {when}": timings[kind].as_dict()
                for when, timings in (("before", before), ("after", after))
                for kind in timings
            },
        },
        "unchanged_files": second["files_seen"],
        "unchanged_seconds": second["seconds"],
        "unchanged_files_per_s": round(second["files_seen"] / max(second["seconds"], 1e-6)),
        "unchanged_ner_processes": rerun_memory.workers_seen,
        "unchanged_stage_seconds": second["stage_seconds"],
        "peak_rss_mb": memory.peak_mb,
        "peak_rss_main_mb": memory.main_mb,
        "peak_rss_workers_mb": memory.workers_mb,
        "sampled_rss_mb": round(memory.sampled_tree_bytes / MB, 1),
        "stage_seconds": first["stage_seconds"],
        # Reading and extraction alone, by format: real web pages, laid-out PDFs, Office files (median ms/file).
        "extract_ms_per_file": extract_ms,
        # The indexing stage alone: new article documents (plus their file states) per second.
        "index_documents": enriched,
        "index_documents_per_s": round(enriched / max(first["stage_seconds"].get("index", 0.0), 1e-6), 1),
        # Where the CPU went during the ingest, and NER's own share of it (the compute bound's CPU time).
        "cpu_seconds": cpu.as_dict(),
        "ner_share_of_cpu": round(
            (before["compute"].cpu_seconds + after["compute"].cpu_seconds) / max(sum(cpu.as_dict().values()), 1e-6), 3
        ),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "corpus": {
            "unique": corpus.unique,
            "exact_duplicates": corpus.exact_duplicates,
            "near_duplicates": corpus.near_duplicates,
            "folders": corpus.folders,
            "words_per_article": round(corpus.words / corpus.files),
        },
        "summary": {
            key: first[key]
            for key in ("files_seen", "written", "unchanged", "duplicates", "near_duplicates", "quarantined", "failed")
        },
        **dask_figures,
    }


def _dask_run(
    settings: Settings,
    es: ElasticsearchSettings,
    enrich: EnrichSettings,
    corpus: BenchCorpus,
    batch_size: int,
    elasticsearch_pid: int | None,
    address: str | None,
) -> dict[str, Any]:
    """The corpus ingested into another alias with NER on Dask: at `address`, else on a local cluster started here.

    The workers are up with their models loaded before the clock starts, as a standing cluster's
    are. They make each article's enrichment (language, NER, entity and date clean-up) and, when
    they see the corpus at its path (a cluster started here; else `[cluster] shared_paths`), read
    and extract it; the driver (this process) keeps cleaning, deduplication and the index writes.
    """
    from newsetl import cluster
    from newsetl.tasks.ner_dask import connect

    home = tempfile.mkdtemp(prefix="newsetl-bench-cluster-")
    local = replace(settings.cluster, home=home, workers=enrich.processes, scheduler_port=0)
    # Workers of a cluster started here see the corpus at its path: they read and extract it too.
    shared_paths = settings.cluster.shared_paths or not address
    if not address:
        address = cluster.start(local).address
    dask_es = replace(es, index=f"{es.index}-dask")
    try:
        client, _ = connect(replace(settings.cluster, address=address, connect_timeout=120.0), enrich)
        client.close()
        with ingest_environment(dask_es, enrich, address, shared_paths):
            run, memory, cpu = _measured_ingest(corpus.root, batch_size, elasticsearch_pid)
    finally:
        delete_alias(dask_es)
        cluster.stop(local)
    if run["written"] + run["duplicates"] != corpus.files:
        raise BenchError(f"the Dask run did not take every generated file: {run}")
    return {
        "dask_address": address,
        "dask_seconds": run["seconds"],
        "dask_articles_per_s": round(corpus.files / run["seconds"], 2),
        "dask_workers": run["ner"]["workers"],
        "dask_shared_paths": shared_paths,
        "dask_articles_enriched": run["ner"].get("articles_enriched", {}),
        # Everything the driver keeps (discovery, extraction, cleaning, deduplication, the index
        # writes, Prefect's bookkeeping, the Dask client), in CPU seconds of this process: waiting costs none.
        "driver_ms_per_article": round(1000 * cpu.as_dict()["main"] / corpus.files, 2),
        "dask_peak_rss_mb": memory.main_mb,
        "dask_stage_seconds": run["stage_seconds"],
    }


def _ingest(folder: Path, batch_size: int) -> dict[str, Any]:
    from newsetl.flows.ingest import ingest

    folder.mkdir(parents=True, exist_ok=True)
    return ingest(folders=[str(folder)], batch_size=batch_size)


def _measured_ingest(
    folder: Path, batch_size: int, elasticsearch_pid: int | None
) -> tuple[dict[str, Any], PeakMemory, CpuMeter]:
    with PeakMemory() as memory, CpuMeter(elasticsearch_pid, prefect_server_pid()) as cpu:
        summary = _ingest(folder, batch_size)
    return summary, memory, cpu


def prefect_server_pid() -> int | None:
    """The temporary Prefect server this process started (when PREFECT_API_URL is not set), if any."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            parent = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and b"prefect.server" in Path(entry.path, "cmdline").read_bytes():
                return int(entry.name)
        except (OSError, ValueError, IndexError):
            continue
    return None


def corpus_texts(corpus: BenchCorpus, max_chars: int) -> list[str]:
    """The distinct texts NER reads of the corpus (titles and paragraphs, see tasks.enrichment.ner_texts), as written.

    Distinct, as the run reads a paragraph that near-duplicates share once (and bare nlp.pipe
    could skip repeats as easily): the bound does the same NER work as the run, no more.
    """
    from newsetl.tasks.enrichment import texts_for_ner

    texts: dict[str, None] = {}
    for path in sorted(corpus.root.rglob("*.txt")):
        title, _dateline, *paragraphs = path.read_text(encoding="utf-8").strip().split("\n\n")
        texts.update((text, None) for text, _ in texts_for_ner(title, "\n\n".join(paragraphs), max_chars))
    return list(texts)


@contextmanager
def ingest_environment(
    es: ElasticsearchSettings, enrich: EnrichSettings, dask_address: str = "", shared_paths: bool = False
) -> Iterator[None]:
    """The ingest flow reads its settings as `newsetl run` does: the bench's alias and workers by environment."""
    values = {
        "NEWSETL_ES_URL": es.url,
        "NEWSETL_INDEX": es.index,
        "NEWSETL_ENRICH_PROCESSES": str(enrich.processes),
        "NEWSETL_DASK_ADDRESS": dask_address,
        "NEWSETL_CLUSTER_SHARED_PATHS": "true" if shared_paths else "false",
    }
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def enriched_text_count(es: ElasticsearchSettings, max_chars: int) -> tuple[int, int]:
    """(articles the run put through NER, distinct texts NER reads of them): to check the bound read the same."""
    from newsetl.tasks.enrichment import texts_for_ner
    from newsetl.tasks.es.client import connect, scan_documents

    client = connect(es)
    try:
        articles, texts = 0, set()
        query = {"term": {"ner_applied": True}}
        for document in scan_documents(client, es, es.index, query, ["title", "body"], sort_field="id"):
            articles += 1
            texts.update(text for text, _ in texts_for_ner(document["title"], document["body"], max_chars))
        return articles, len(texts)
    finally:
        client.close()


def _time_bare_ner(texts: list[str], settings: EnrichSettings, processes: int) -> dict[str, BareNer]:
    return {
        "nlp.pipe": bare_nlp_pipe(texts, settings, processes),
        "compute": bare_ner_compute(texts, settings, processes),
    }


def delete_alias(es: ElasticsearchSettings) -> None:
    """Delete the bench alias's indices and template (by name: wildcard deletes are refused)."""
    from newsetl.tasks.es.client import connect

    client = connect(es)
    try:
        names = list(client.indices.get(index=f"{es.index}-*", allow_no_indices=True, expand_wildcards="all").body)
        if names:
            client.indices.delete(index=",".join(names))
        client.options(ignore_status=404).indices.delete_index_template(name=es.index)
    finally:
        client.close()


def _check_counts(first: dict[str, Any], second: dict[str, Any], corpus: BenchCorpus) -> None:
    """The runs must have done the work measured: every file written or a duplicate, then every file unchanged."""
    if first["files_seen"] != corpus.files or first["written"] + first["duplicates"] != corpus.files:
        raise BenchError(f"the ingest did not take every generated file: {first}")
    if second["unchanged"] != corpus.files:
        raise BenchError(f"the re-run found changes in an unchanged corpus: {second}")


def render_benchmark(result: dict[str, Any]) -> str:
    """The figures for people."""
    corpus, cpu, runs = result["corpus"], result["cpu_seconds"], result["bound_runs"]
    lines = [
        f"{result['articles']} articles (~{corpus['words_per_article']} words; {corpus['exact_duplicates']} copies, "
        f"{corpus['near_duplicates']} near copies; {corpus['folders']} folders), {result['processes']} NER processes, "
        f"batches of {result['batch_size']}",
        "",
        f"end to end     {result['articles_per_s']:8.2f} articles/s  {result['words_per_s']:8d} words/s"
        f"  ({result['seconds']:.1f} s)",
        f"enriched       {result['enriched_articles_per_s']:8.2f} articles/s"
        f"  ({result['enriched_articles']} articles through NER)",
        f"bare nlp.pipe  {result['bound_articles_per_s']:8.2f} articles/s  (the bound: n_process={result['processes']},"
        f" {runs['texts']} texts, half timed before the run and half after)",
        f"ratio          {result['ratio_to_bound']:8.3f}  (enriched articles/s to the bound)",
        f"NER compute    {result['compute_bound_articles_per_s']:8.2f} articles/s"
        "  (each process its share, nothing sent back:"
        f" ratio {result['ratio_to_compute_bound']:.3f})",
        f"unchanged      {result['unchanged_files_per_s']:8d} files/s"
        f"  ({result['unchanged_files']} files in {result['unchanged_seconds']:.3f} s)",
        f"indexing       {result['index_documents_per_s']:8.1f} documents/s"
        "  (the index stage alone: bulk, refresh, file states)",
        f"peak RSS       {result['peak_rss_mb']:8.1f} MB"
        f"  (main {result['peak_rss_main_mb']:.1f} + NER workers {result['peak_rss_workers_mb']:.1f})",
        "extraction ms/file: " + ", ".join(f"{name} {ms:.1f}" for name, ms in result["extract_ms_per_file"].items()),
        "",
        "stage seconds: " + ", ".join(f"{stage} {seconds:.2f}" for stage, seconds in result["stage_seconds"].items()),
        "CPU seconds during the run: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items())
        + f"; NER's own share {result['ner_share_of_cpu']:.3f}",
        f"load average {result['load_average'][0]:.1f} before, {result['load_average'][1]:.1f} after",
    ]
    if "dask_articles_per_s" in result:
        lines += [
            "",
            f"on Dask        {result['dask_articles_per_s']:8.2f} articles/s  ({result['dask_workers']} workers at"
            f" {result['dask_address']}; local {result['local_articles_per_s']:.2f}:"
            f" ratio {result['dask_ratio_to_local']:.3f})",
            f"driver CPU     {result['driver_ms_per_article']:8.2f} ms/article on Dask"
            f" ({result['local_driver_ms_per_article']:.2f} locally);"
            f" driver peak RSS {result['dask_peak_rss_mb']:.1f} MB",
        ]
    return "\n".join(lines)
