"""Extraction, the step: a discovered file's bytes read once, then its format's reader (tasks/readers/).

Bad input never raises here: every refusal is a Quarantine (the whole file) or a problem
(one record of a multi-article file) with a reason code from tasks.records.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NONE

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.discover import file_format
from newsetl.tasks.readers import reader_for
from newsetl.tasks.readers.base import ExtractionResult, HtmlExtractor, Problem, RawInput
from newsetl.tasks.readers.decode import GZIP_MAGIC, binary_kind, gunzip_capped
from newsetl.tasks.readers.sniff import HEAD_BYTES, sniff_format
from newsetl.tasks.readers.unicode import valid_unicode, valid_unicode_result
from newsetl.tasks.records import (
    BAD_GZIP,
    CHANGED_WHILE_READ,
    EMPTY,
    EXTRACT_ERROR,
    NO_TEXT,
    TOO_LARGE,
    UNREADABLE,
    UNSUPPORTED,
    ExtractedArticle,
    ExtractedBatch,
    FileRead,
    Quarantine,
    RunSummary,
    SourceFile,
)

MULTI_RECORD_FORMATS = frozenset({"jsonl", "warc"})  # a truncated file still yields its complete records


# ---------------------------------------------------------------------------------------------
# Reading


def read_source(source: SourceFile, settings: ExtractSettings) -> RawInput | Quarantine:
    """Read a file's bytes (the only I/O of extraction) and decompress gzip under a hard cap."""
    path = source.path
    file_format_name, named_gzip = file_format(path)
    limit = settings.max_decompressed_bytes
    try:
        # O_NONBLOCK: a FIFO put in a file's place must not hang the run (no effect on files).
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(descriptor, "rb") as stream:
            before = os.fstat(descriptor)
            if not stat.S_ISREG(before.st_mode):
                return Quarantine(path, UNREADABLE, "not a regular file")
            if source.inode and before.st_ino != source.inode:
                # Only the file discovery vetted is read: a replacement (maybe a symlink out of
                # the roots) waits for the next run's discovery.
                return Quarantine(path, CHANGED_WHILE_READ, "replaced by another file since discovery")
            if before.st_size > limit:
                return Quarantine(path, TOO_LARGE, f"{before.st_size} bytes, limit {limit}")
            raw = stream.read(limit + 1)
        after = os.stat(path)
    except PermissionError:
        return Quarantine(path, UNREADABLE, "permission denied")
    except FileNotFoundError:
        return Quarantine(path, UNREADABLE, "file disappeared before it was read")
    except OSError as error:
        return Quarantine(path, UNREADABLE, error.strerror or type(error).__name__)

    stat_before = (before.st_ino, before.st_size, before.st_mtime_ns)
    if stat_before != (after.st_ino, after.st_size, after.st_mtime_ns) or len(raw) != before.st_size:
        return Quarantine(
            path, CHANGED_WHILE_READ, f"{before.st_size} bytes before, {len(raw)} read, {after.st_size} after"
        )
    if not raw:
        return Quarantine(path, EMPTY, "0 bytes")
    as_read = dataclasses.replace(source, size=before.st_size, mtime=before.st_mtime, inode=before.st_ino)
    sha256 = hashlib.sha256(raw).hexdigest()

    gzipped = raw.startswith(GZIP_MAGIC)
    if named_gzip and not gzipped:
        return Quarantine(path, BAD_GZIP, "named .gz but not gzip data")
    data, truncated = raw, False
    if gzipped:
        unpacked = gunzip_capped(raw, limit)
        if isinstance(unpacked, Problem):
            return unpacked.quarantine(path)
        data, truncated = unpacked
        if truncated and (file_format_name not in MULTI_RECORD_FORMATS or not data):
            return Quarantine(path, BAD_GZIP, f"truncated or corrupt gzip ({len(data)} bytes recovered)")
        if not data or data.isspace():
            return Quarantine(path, EMPTY, "decompresses to nothing")
    elif raw.isspace():
        return Quarantine(path, EMPTY, "only whitespace")
    if not file_format_name or file_format_name == "text":
        # The name does not say (no extension, .php, .shtml, one the user added), or says text
        # of what may be a saved page: the content decides. Decoding tells binary data from
        # text it can read (UTF-16 without a byte order mark...).
        sniffed = sniff_format(data[:HEAD_BYTES], binary_kind)
        if not file_format_name or sniffed == "html":
            file_format_name = sniffed or "text"
    return RawInput(as_read, sha256, data, file_format_name, gzipped, truncated)


# ---------------------------------------------------------------------------------------------
# Dispatch


def extract_articles(
    raw: RawInput, settings: ExtractSettings, html_extractor: HtmlExtractor | None = None
) -> ExtractionResult | Quarantine:
    """The articles in a file's bytes, by format; a Quarantine when the file gives none."""
    reader = reader_for(raw.format)
    if reader is None:
        outcome: ExtractionResult | Problem = Problem(UNSUPPORTED, f"no reader for format {raw.format!r}")
    else:
        outcome = reader(raw, settings, html_extractor)
    if isinstance(outcome, Problem):
        return outcome.quarantine(raw.source.path)
    outcome = valid_unicode_result(outcome, raw.source.path)  # the one place, for every reader
    if not outcome.articles:
        return _file_quarantine(raw.source.path, outcome.problems)
    return outcome


def _file_quarantine(path: str, problems: tuple[Quarantine, ...]) -> Quarantine:
    # A file none of whose records gave an article: its records' reason when they agree.
    if not problems:
        return Quarantine(path, NO_TEXT, "no article text")
    if len(problems) == 1:
        return problems[0]
    reasons = {problem.reason for problem in problems}
    reason = reasons.pop() if len(reasons) == 1 else NO_TEXT
    return Quarantine(path, reason, f"no article in {len(problems)} records; first: {problems[0].detail}"[:300])


def extract_file(
    source: SourceFile, settings: ExtractSettings, html_extractor: HtmlExtractor | None = None
) -> ExtractionResult | Quarantine:
    """read_source then extract_articles."""
    raw = read_source(source, settings)
    return raw if isinstance(raw, Quarantine) else extract_articles(raw, settings, html_extractor)


# ---------------------------------------------------------------------------------------------
# The extraction step of a batch


def extract_batch(files: Sequence[SourceFile], settings: ExtractSettings) -> ExtractedBatch:
    """Read and extract every file of a batch; a file that gives no article ends in quarantine."""
    read: dict[str, FileRead] = {}
    articles: list[ExtractedArticle] = []
    quarantined: list[Quarantine] = []
    problems: list[Quarantine] = []
    for source in files:
        try:
            raw = read_source(source, settings)
            result = raw if isinstance(raw, Quarantine) else extract_articles(raw, settings)
        except MemoryError:
            raise
        except Exception as error:  # noqa: BLE001 - one bad file must not stop the run
            # A short detail: an exception's message may quote the article's text.
            detail = valid_unicode(f"{type(error).__name__}: {str(error)[:200]}")[0]
            result = Quarantine(source.path, EXTRACT_ERROR, detail)
        if isinstance(result, Quarantine):
            quarantined.append(result)
            continue
        read[source.path] = FileRead(raw.source, raw.sha256)
        articles.extend(result.articles)
        problems.extend(result.problems)
    return ExtractedBatch(tuple(files), read, tuple(articles), tuple(quarantined), tuple(problems))


@task(name="extract", cache_policy=NONE)
def extract_batch_task(files: Sequence[SourceFile], settings: ExtractSettings, summary: RunSummary) -> ExtractedBatch:
    """Read, decode and extract a batch of files."""
    with summary.timed("extract"):
        extracted = extract_batch(files, settings)
    return extracted
