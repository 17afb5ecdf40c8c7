"""What every format reader works with: the raw input, a problem, the result, and the reader interface.

A reader turns one file's decompressed bytes into articles: `reader(raw, settings, html_extractor)`
returns an ExtractionResult, or a Problem when the whole file gives none. Readers never raise on
bad input; tasks/readers/__init__.py maps each format name to its reader.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.records import (
    NO_TEXT,
    TOO_LARGE,
    ExtractedArticle,
    Quarantine,
    SourceFile,
    SourceRef,
)

# extract_html(html, source, group, settings, url=None) -> ExtractedArticle | None (tasks/readers/html_page.py)
HtmlExtractor = Callable[..., "ExtractedArticle | None"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why some bytes or one record gave no article: a reason code and its facts."""

    reason: str
    detail: str = ""

    def quarantine(self, path: str, record: str | None = None) -> Quarantine:
        return Quarantine(path, self.reason, f"{record}: {self.detail}" if record else self.detail)


@dataclass(frozen=True, slots=True)
class RawInput:
    """A file's bytes as read: sha256 of the raw bytes, data already decompressed."""

    source: SourceFile  # size, mtime and inode as found at read time
    sha256: str
    data: bytes = field(repr=False)
    format: str  # a reader's name in tasks/readers/__init__.py: text, html, json, jsonl, warc, pdf, xml...
    gzipped: bool
    truncated: bool = False  # the gzip stream ended early; only multi-record formats are kept so

    @property
    def format_label(self) -> str:
        """The SourceRef format: e.g. "html" or "warc+gzip"."""
        return f"{self.format}+gzip" if self.gzipped else self.format


@dataclass(frozen=True, slots=True)
class ExtractionResult:
    """The articles of one file, and the records of it that gave none."""

    articles: tuple[ExtractedArticle, ...]
    problems: tuple[Quarantine, ...] = ()  # per record; detail starts with the record ("line 3: ...")


class Reader(Protocol):
    """The interface of a format reader (one module per format in tasks/readers/)."""

    def __call__(
        self, raw: RawInput, settings: ExtractSettings, html_extractor: HtmlExtractor | None = None
    ) -> ExtractionResult | Problem: ...


def source_ref(raw: RawInput, record: str | None = None) -> SourceRef:
    """The `sources` entry of an article found in this file."""
    modified = datetime.fromtimestamp(int(raw.source.mtime), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return SourceRef(raw.source.path, raw.sha256, raw.format_label, raw.source.size, modified, record)


def folder_group(source: SourceFile) -> str:
    """Boilerplate group of a file without a known site: its folder's absolute path.

    Absolute, not relative to the root: a nightly run over /news and a manual one over
    /news/sport must count the same folder's blocks together across runs.
    """
    return "folder:" + (os.path.dirname(source.path) or "/")


def _text_length(paragraphs: Iterable[str]) -> int:
    return sum(len(p) for p in paragraphs)


def length_problem(paragraphs: Iterable[str], settings: ExtractSettings, title: str | None = None) -> Problem | None:
    length = _text_length(paragraphs)
    if length == 0 and title:
        # A one-line note: its line is read as the headline, so there is nothing under it.
        return Problem(NO_TEXT, "a headline only, no text under it")
    if length < settings.min_text_chars:
        return Problem(NO_TEXT, f"{length} characters of text, fewer than {settings.min_text_chars}")
    if length > settings.max_text_chars:
        # No news article is this long; Elasticsearch would refuse the document (429, over its
        # indexing-pressure limit) on every run, after minutes of cleaning and deduplicating it.
        return Problem(TOO_LARGE, f"{length} characters of text, more than {settings.max_text_chars}")
    return None
