"""Small typed records passed between the pipeline's steps."""

from __future__ import annotations

import dataclasses
import operator
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

Record = TypeVar("Record", bound=type)


def pickled_as_constructed(cls: Record) -> Record:
    """A frozen slots dataclass pickled as a call of its constructor with its fields' values.

    NOTE: records cross to and from the workers by the thousand, and the dataclasses default for
    frozen slots classes reads fields() again for every object: most of the driver's unpickling
    on a Dask run. As a constructor call, 300 articles' enrichments load 2.1x faster, dump 2.5x.
    """
    names = [one.name for one in dataclasses.fields(cls)]
    values = operator.attrgetter(*names)
    if len(names) == 1:
        cls.__reduce__ = lambda self: (cls, (values(self),))
    else:
        cls.__reduce__ = lambda self: (cls, values(self))
    return cls


# Reason codes of quarantine records (README, "What a run does"); extend here, nowhere else.
EMPTY = "empty"
BINARY = "binary"
DECODE_ERROR = "decode_error"
TOO_LARGE = "too_large"
NO_TEXT = "no_text"
NO_ARTICLE = "no_article"  # a web page whose text is only a caption or a teaser
UNREADABLE = "unreadable"
BAD_GZIP = "bad_gzip"
BAD_JSON = "bad_json"
BAD_WARC = "bad_warc"
UNSUPPORTED = "unsupported"
CHANGED_WHILE_READ = "changed_while_read"
OUTSIDE_ROOT = "outside_root"
SYMLINK_LOOP = "symlink_loop"
TOO_DEEP = "too_deep"
INDEX_REJECTED = "index_rejected"
PROBLEM_FILES_NAMED = 20  # per run, in the log and the summary
EXTRACT_ERROR = "extract_error"  # an unexpected failure of a reader on one file
CLEAN_ERROR = "clean_error"  # an unexpected failure of boilerplate removal on one article
ENCRYPTED = "encrypted"  # a password-protected PDF or Office document
NO_TEXT_LAYER = "no_text_layer"  # a PDF of scanned pages: no text to read without OCR
BAD_DOCUMENT = "bad_document"  # a PDF, Office or OpenDocument file that its reader cannot open
BAD_XML = "bad_xml"
UNSUPPORTED_LEGACY_FORMAT = "unsupported_legacy_format"  # e.g. Word 6/95 documents
INVALID_UNICODE = "invalid_unicode"  # text with more lone surrogates (JSON "\udc00") than a slip


@pickled_as_constructed
@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file found by discovery: where it is and what the file system says of it."""

    path: str  # absolute and normalised, as found under the root (a symlink keeps its own path)
    root: str  # the root folder (or file) it was found under
    size: int
    mtime: float  # st_mtime, seconds since the epoch
    inode: int = 0

    @property
    def relative_path(self) -> str:
        if self.path == self.root:
            return self.path.rsplit("/", 1)[-1]
        return self.path[len(self.root) :].lstrip("/")


@pickled_as_constructed
@dataclass(frozen=True, slots=True)
class Quarantine:
    """Why an input could not become an article; kept in the quarantine index."""

    path: str
    reason: str
    detail: str = ""


@pickled_as_constructed
@dataclass(frozen=True, slots=True)
class SourceRef:
    """One input that holds an article: an entry of the document's `sources`."""

    path: str
    sha256: str  # of the file's raw bytes
    format: str  # the reader: text, html, json, jsonl, warc, pdf, docx, xml... (with .gz noted as e.g. "html+gzip")
    size: int
    modified: str  # ISO 8601 UTC of the file's mtime
    record: str | None = None  # position inside a multi-article file: "line 3", "warc offset 1234"


@pickled_as_constructed
@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """An article as extraction found it, before boilerplate removal."""

    source: SourceRef
    title: str | None
    paragraphs: tuple[str, ...]  # text blocks in reading order, normalised (NFC, whitespace)
    group: str  # where boilerplate is learned: the site name or the folder
    url: str | None = None
    author: str | None = None
    site_name: str | None = None
    published_at: str | None = None  # ISO date or datetime
    published_at_source: str | None = None  # html_meta, json, text, metadata, file_mtime
    language: str | None = None  # declared by the input (html lang, json field)
    subjects: tuple[str, ...] = ()  # subject names the format carries (NewsML-G2 subjects, NITF keywords, feed tags)
    located: str | None = None  # where the story was written (NewsML-G2 located, NITF dateline location)
    dateline: str | None = None  # the format's dateline field ("MOSCOW, Monday (Reuters)")


@pickled_as_constructed
@dataclass(frozen=True, slots=True)
class CleanArticle:
    """An article after boilerplate removal: the text that identifies it."""

    id: str  # the document id: text_hash at first sight, then kept while the article's files exist
    title: str
    body: str  # paragraphs separated by one blank line
    source: SourceRef
    group: str
    url: str | None = None
    author: str | None = None
    site_name: str | None = None
    published_at: str | None = None
    published_at_source: str | None = None
    language: str | None = None
    removed_paragraphs: int = 0
    subjects: tuple[str, ...] = ()
    located: str | None = None
    dateline: str | None = None
    text_hash: str = ""  # of the cleaned title + body: finds exact duplicates (set by cleaning)
    # Words of the body, counted once by cleaning (on a worker when there is one): deduplication,
    # reconciliation and the document each read it, and splitting the body again cost the driver.
    words: int | None = None

    @property
    def paragraphs(self) -> list[str]:
        return self.body.split("\n\n") if self.body else []

    @property
    def word_count(self) -> int:
        return self.words if self.words is not None else len(self.body.split())


@pickled_as_constructed
@dataclass(frozen=True, slots=True)
class DateMention:
    text: str
    date: str  # ISO date: the first day of what the mention names
    start: int  # character offsets in body
    end: int
    granularity: str = "day"  # day, week, month or year: "later this year" names a year, not 1 January


@pickled_as_constructed
@dataclass(frozen=True, slots=True)
class EntityCount:
    text: str
    label: str  # spaCy label: PERSON, ORG, GPE, LOC, FAC, NORP, EVENT, ...
    count: int
    aliases: tuple[str, ...] = ()  # the other forms the article used (and a person's surname): what filters also match


@pickled_as_constructed
@dataclass(frozen=True, slots=True)
class Enrichment:
    """What enrichment adds to a clean article."""

    language: str
    persons: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    other_entities: tuple[str, ...] = ()
    entities: tuple[EntityCount, ...] = ()
    dates_mentioned: tuple[DateMention, ...] = ()
    published_at: str | None = None  # the one stored form: a UTC datetime (…Z) or a date (tasks/dates.canonical_date)
    published_at_source: str | None = None
    ner_applied: bool = True
    published_at_precision: str | None = None  # "datetime" or "day"


@dataclass(slots=True)
class RunSummary:
    """The contract's run summary; every file seen is counted exactly once."""

    files_seen: int = 0
    written: int = 0
    unchanged: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    quarantined: int = 0
    failed: int = 0
    skipped: int = 0  # files of no article format (images, audio, archives...): seen, counted, not read
    skipped_by_type: dict[str, int] = field(default_factory=dict)  # by extension: {".jpg": 8, ".mp3": 2}
    deleted_sources: int = 0
    articles_deleted: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    # Articles indexed without entities because no NER model of their language is installed, by language.
    languages_without_ner: dict[str, int] = field(default_factory=dict)
    # The first files that went wrong, named in the run's log; the rest are in the quarantine index.
    problem_files: list[dict[str, str]] = field(default_factory=list)
    # Where NER ran: {"executor": "local" | "processes" | "dask", "workers": processes that took part, "address"}.
    ner: dict[str, Any] = field(default_factory=dict)

    def add_stage_time(self, stage: str, seconds: float) -> None:
        self.stage_seconds[stage] = round(self.stage_seconds.get(stage, 0.0) + seconds, 4)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the time spent in the block to the stage's seconds."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.add_stage_time(stage, time.monotonic() - started)

    def count_quarantine(self, reason: str, path: str = "") -> None:
        self.quarantined += 1
        self.quarantine_reasons[reason] = self.quarantine_reasons.get(reason, 0) + 1
        self._name_problem(path, reason)

    def count_skipped(self, file_type: str) -> None:
        self.skipped += 1
        self.skipped_by_type[file_type] = self.skipped_by_type.get(file_type, 0) + 1

    def count_failed(self, path: str, reason: str) -> None:
        self.failed += 1
        self._name_problem(path, f"failed: {reason}")

    def _name_problem(self, path: str, reason: str) -> None:
        if path and len(self.problem_files) < PROBLEM_FILES_NAMED:
            self.problem_files.append({"path": path, "reason": reason})

    def is_balanced(self) -> bool:
        counted = self.written + self.unchanged + self.duplicates + self.quarantined + self.failed + self.skipped
        return self.files_seen == counted


@pickled_as_constructed
@dataclass(frozen=True, slots=True)
class FileRead:
    """A file of the batch that was read: its content hash and what boilerplate learning saw in it."""

    source: SourceFile
    sha256: str
    groups: tuple[str, ...] = ()
    block_fingerprints: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExtractedBatch:
    """A batch after reading and extraction."""

    files: tuple[SourceFile, ...]
    read: dict[str, FileRead]  # by path: files that were read and gave at least one article
    articles: tuple[ExtractedArticle, ...]
    quarantined: tuple[Quarantine, ...] = ()  # files that gave no article
    problems: tuple[Quarantine, ...] = ()  # records of multi-article files that gave none
    failed: dict[str, str] = field(default_factory=dict)  # path -> transient error, retried next run


@dataclass(frozen=True)
class CleanedBatch:
    """A batch after boilerplate removal; `read` now carries each file's block fingerprints."""

    files: tuple[SourceFile, ...]
    read: dict[str, FileRead]
    articles: tuple[CleanArticle, ...]
    quarantined: tuple[Quarantine, ...] = ()
    problems: tuple[Quarantine, ...] = ()
    failed: dict[str, str] = field(default_factory=dict)
    # Near-duplicate sketches (tasks/dedupe.BodySketch) of the articles by text_hash, when the batch
    # was cleaned on a worker; deduplication makes those missing.
    sketches: dict[str, Any] = field(default_factory=dict)


# Outcomes of a file, as counted in the run summary (README, "Run summary").
WRITTEN = "written"
UNCHANGED = "unchanged"
DUPLICATE = "duplicate"
QUARANTINED = "quarantined"
FAILED = "failed"


# The size recorded for a file the next run must read whatever its stat says: one discovery
# refused unread (a chmod or a fixed link changes no size or mtime), or one whose read failed in
# a way that may pass (replaced with the same size and mtime, as rsync does; an I/O error).
RETRY_SIZE = -1


@pickled_as_constructed
@dataclass(frozen=True, slots=True)
class SourceState:
    """What the last run recorded of one input file (one document of the `<alias>-sources` index)."""

    path: str
    size: int
    mtime: float
    sha256: str = ""
    status: str = WRITTEN  # written, duplicate, quarantined, failed
    article_ids: tuple[str, ...] = ()
    reason: str = ""
    groups: tuple[str, ...] = ()
    block_fingerprints: tuple[str, ...] = ()  # "<group key>:<fingerprint>", counted to learn boilerplate

    def matches(self, source: SourceFile) -> bool:
        """True when the file system says the file is as it was (no need to read it)."""
        return self.size == source.size and self.mtime == source.mtime and self.size != RETRY_SIZE


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """What reconciliation and clustering need of an article already in the index (no body)."""

    id: str
    sources: tuple[SourceRef, ...]
    cluster_id: str
    is_canonical: bool
    minhash: str
    published_at: str | None
    word_count: int
    text_hash: str = ""  # of its cleaned text ("" before text hashes were stored: then its id is)

    @property
    def text_key(self) -> str:
        return self.text_hash or self.id


# Elasticsearch errors that a document causes by its content: no retry, later or elsewhere,
# makes the cluster take it, so its file is quarantined. Every other refusal (a block, 429, 5xx,
# auth, a missing or closed index) is the cluster's: the file is retried by the next run.
DOCUMENT_ERRORS = frozenset({
    "mapper_parsing_exception", "document_parsing_exception", "strict_dynamic_mapping_exception",
    "illegal_argument_exception", "mapper_exception", "x_content_parse_exception", "parsing_exception",
})  # fmt: skip
# Refusals that hold for every write until someone acts (a write or disk block, credentials):
# going on would only read and enrich files that cannot be written, so the run stops.
BLOCKING_STATUS = frozenset({401, 403})
BLOCKING_ERRORS = frozenset({"cluster_block_exception", "security_exception"})


@dataclass(frozen=True, slots=True)
class WriteFailure:
    """A document Elasticsearch did not take, with the status and error type of its bulk item."""

    article_id: str
    status: int
    reason: str
    error_type: str = ""

    @property
    def by_document(self) -> bool:
        """The document's content was refused: its file is quarantined (index_rejected)."""
        if self.error_type == "illegal_argument_exception":
            # On a field (an immense term, a bad value): the document's. Otherwise the request's,
            # e.g. "no write index is defined for alias": the cluster's.
            return "field" in self.reason.lower()
        return self.error_type in DOCUMENT_ERRORS

    @property
    def blocks_writes(self) -> bool:
        """The cluster refuses writes as such: the run stops, nothing of the batch is recorded."""
        return self.status in BLOCKING_STATUS or self.error_type in BLOCKING_ERRORS
