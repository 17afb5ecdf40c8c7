"""Extraction: a discovered file's bytes to articles (title, paragraphs, metadata), or a quarantine.

Bad input never raises here: every refusal is a Quarantine (the whole file) or a problem
(one record of a multi-article file) with a reason code from tasks.records.
"""

from __future__ import annotations

import codecs
import dataclasses
import email.utils
import hashlib
import html as html_entities
import io
import json
import os
import re
import stat
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from lxml.etree import LxmlError
from prefect import task
from prefect.cache_policies import NONE

from config.settings import ExtractSettings
from tasks.clean import normalize_text
from tasks.discover import file_format
from tasks.records import (
    BAD_GZIP,
    BAD_JSON,
    BAD_WARC,
    BINARY,
    CHANGED_WHILE_READ,
    DECODE_ERROR,
    EMPTY,
    EXTRACT_ERROR,
    NO_TEXT,
    TOO_DEEP,
    TOO_LARGE,
    UNREADABLE,
    UNSUPPORTED,
    ExtractedArticle,
    ExtractedBatch,
    FileRead,
    Quarantine,
    RunSummary,
    SourceFile,
    SourceRef,
)

# extract_html(html, source, group, settings, url=None) -> ExtractedArticle | None (tasks.html)
HtmlExtractor = Callable[..., "ExtractedArticle | None"]

MULTI_RECORD_FORMATS = frozenset({"jsonl", "warc"})  # a truncated file still yields its complete records
GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 8192  # where a charset declaration is looked for (HTML5 says 1024; real pages put it later)
SAMPLE_BYTES = 65536  # what binary detection looks at


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
    format: str  # text, html, json, jsonl, warc
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


# ---------------------------------------------------------------------------------------------
# Reading


def read_source(source: SourceFile, settings: ExtractSettings) -> RawInput | Quarantine:
    """Read a file's bytes (the only I/O of extraction) and decompress gzip under a hard cap."""
    path = source.path
    file_format_name, named_gzip = file_format(path)
    if not file_format_name:
        return Quarantine(path, UNSUPPORTED, "not a file type newsetl reads")
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
        return Quarantine(path, CHANGED_WHILE_READ, f"{before.st_size} bytes before, {len(raw)} read, {after.st_size} after")
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
    return RawInput(as_read, sha256, data, file_format_name, gzipped, truncated)


def gunzip_capped(raw: bytes, limit: int) -> tuple[bytes, bool] | Problem:
    """Decompress (multi-member) gzip, never producing more than `limit` bytes: (data, truncated?)."""
    output = bytearray()
    pending = raw
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    while True:
        try:
            output += decompressor.decompress(pending, limit + 1 - len(output))
        except zlib.error:
            return bytes(output), True
        if len(output) > limit:
            return Problem(TOO_LARGE, f"decompresses to more than {limit} bytes")
        if decompressor.eof:
            pending = decompressor.unused_data
            if not pending.strip(b"\x00"):  # NOTE: gzip allows zero padding after the last member
                return bytes(output), False
            if not pending.startswith(GZIP_MAGIC):
                return bytes(output), True  # trailing garbage: keep what came before it
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif decompressor.unconsumed_tail:
            pending = decompressor.unconsumed_tail  # the output cap paused it
        else:
            return bytes(output), True  # input ended inside a member


# ---------------------------------------------------------------------------------------------
# Decoding

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
BINARY_SIGNATURES = (  # file types that can look like text to the byte counts (PDF) or are common
    (b"%PDF-", "PDF"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"PK\x03\x04", "ZIP archive"),
    (GZIP_MAGIC, "gzip data"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\x7fELF", "ELF executable"),
    (b"\xd0\xcf\x11\xe0", "MS Office document"),
)  # signatures that could start a line of text ("ID3", "RIFF") are left to the byte counts
# Control bytes that never occur in text (tab, newlines, form feed and ESC do).
CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 11, 12, 13, 27}) + b"\x7f"
MAX_CONTROL_SHARE = 0.05
MAX_NUL_SHARE = 0.001
# NOTE: browsers read these labels as windows-1252 (WHATWG Encoding Standard); so do we.
CHARSET_ALIASES = {"iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
                   "l1": "cp1252", "ascii": "cp1252", "us-ascii": "cp1252", "x-sjis": "shift_jis"}
WIDE_CODECS = frozenset({"utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be"})
# UTF-16/32 without a byte order mark is recognised by its NUL bytes, never by detection
# (which reads short Latin-1 text as UTF-16 with confidence).
DETECTION_EXCLUDED = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le", "utf_7"]
MAX_REPLACED_SHARE = 0.005  # replacement characters tolerated in text decoded with its own charset
DECLARED_CHARSET = re.compile(
    rb"""<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']"""
    rb"""|<meta\b[^>]{0,500}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""",
    re.IGNORECASE,
)


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML <meta> or XML declaration near the start names, if any."""
    match = DECLARED_CHARSET.search(data[:SNIFF_BYTES])
    if not match:
        return None
    return (match.group(1) or match.group(2)).decode("ascii").strip().lower()


def decode_text(data: bytes, declared: str | None = None) -> str | Problem:
    """Bytes to text: BOM, then strict UTF-8, then the declared charset, then detection; never raises."""
    # Valid UTF-8 wins over a declared single-byte charset: those accept any bytes, so a wrong
    # declaration (common) would silently give mojibake. Detection (charset-normalizer) is
    # trusted only when it finds an encoding under which the bytes read as text; otherwise the
    # input is undecodable (decode_error) rather than guessed as latin-1.
    for bom, codec in BOMS:
        if data.startswith(bom):
            text = _decode_leniently(data[len(bom) :], codec)
            return text if text is not None else Problem(DECODE_ERROR, f"not valid {codec} after its byte order mark")

    binary = binary_kind(data)
    if binary:
        wide = _decode_wide_without_bom(data)
        return wide if wide is not None else Problem(BINARY, binary)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    mostly_utf8 = _decode_mostly_utf8(data)
    if mostly_utf8 is not None:
        return mostly_utf8
    codec = _codec_name(declared)
    if codec and codec not in WIDE_CODECS:
        text = _decode_leniently(data, codec)
        if text is not None:
            return text
    return _decode_detected(data)


def binary_kind(data: bytes) -> str | None:
    """What makes these bytes binary (a file signature, NUL or control bytes), or None for text."""
    for signature, kind in BINARY_SIGNATURES:
        if data.startswith(signature):
            return kind
    sample = data[:SAMPLE_BYTES]
    if not sample:
        return None
    nul_share = sample.count(0) / len(sample)
    if nul_share > MAX_NUL_SHARE:
        return f"{nul_share:.1%} NUL bytes"
    control_share = (len(sample) - len(sample.translate(None, CONTROL_BYTES))) / len(sample)
    if control_share > MAX_CONTROL_SHARE:
        return f"{control_share:.1%} control bytes"
    return None


def _decode_wide_without_bom(data: bytes) -> str | None:
    # UTF-16 text without a byte order mark looks binary (every other byte NUL for Latin text).
    sample = data[:SAMPLE_BYTES]
    if len(sample) < 4:
        return None
    even_nul, odd_nul = sample[0::2].count(0) / (len(sample) / 2), sample[1::2].count(0) / (len(sample) / 2)
    codec = "utf-16-le" if odd_nul > 0.4 and even_nul < 0.05 else "utf-16-be" if even_nul > 0.4 and odd_nul < 0.05 else None
    if codec is None:
        return None
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    return None if binary_kind(text.encode("utf-8")) else text


def _decode_mostly_utf8(data: bytes) -> str | None:
    # Mostly valid multi-byte UTF-8 with a few broken bytes (a cut or a corrupt byte) is UTF-8;
    # a legacy 8-bit text almost never forms a valid multi-byte sequence.
    text = data.decode("utf-8", errors="replace")
    replaced = text.count("\ufffd") - data.count(b"\xef\xbf\xbd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore")) - replaced
    return text if non_ascii >= 10 * replaced and non_ascii >= 3 else None


def _codec_name(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    label = CHARSET_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _decode_leniently(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        text = data.decode(codec, errors="replace")
    except LookupError:
        return None
    return text if text.count("\ufffd") <= MAX_REPLACED_SHARE * max(len(text), 1) else None


def _decode_detected(data: bytes) -> str | Problem:
    # NOTE: charset-normalizer is imported here: it costs import time and only legacy input needs it.
    from charset_normalizer import from_bytes

    matches = from_bytes(data, cp_exclusion=DETECTION_EXCLUDED)
    best = matches.best()
    if best is None:
        return Problem(DECODE_ERROR, "not UTF-8 and no charset decodes it as text")
    # NOTE: charset-normalizer ranks equally good Latin code pages arbitrarily (cp1250 before
    # cp1252 for French); windows-1252 is by far the most common one in news archives.
    equally_good = [m for m in matches if m.chaos <= best.chaos + 0.02 and m.coherence >= best.coherence - 0.05]
    names = {name for m in equally_good for name in (m.encoding, *m.could_be_from_charset)}
    codec = "cp1252" if "cp1252" in names else best.encoding
    text = _decode_leniently(data, codec)
    return text if text is not None else Problem(DECODE_ERROR, f"detected {codec} but it does not decode")


# ---------------------------------------------------------------------------------------------
# Dispatch


def extract_articles(
    raw: RawInput, settings: ExtractSettings, html_extractor: HtmlExtractor | None = None
) -> ExtractionResult | Quarantine:
    """The articles in a file's bytes, by format; a Quarantine when the file gives none."""
    if raw.format == "text":
        outcome: ExtractionResult | Problem = _text_articles(raw, settings)
    elif raw.format in ("json", "jsonl"):
        outcome = _json_articles(raw, settings, html_extractor)
    elif raw.format == "html":
        outcome = _html_file_articles(raw, settings, html_extractor)
    elif raw.format == "warc":
        outcome = _warc_articles(raw, settings, html_extractor)
    else:
        outcome = Problem(UNSUPPORTED, f"no reader for format {raw.format!r}")
    if isinstance(outcome, Problem):
        return outcome.quarantine(raw.source.path)
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


def source_ref(raw: RawInput, record: str | None = None) -> SourceRef:
    """The `sources` entry of an article found in this file."""
    modified = datetime.fromtimestamp(int(raw.source.mtime), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return SourceRef(raw.source.path, raw.sha256, raw.format_label, raw.source.size, modified, record)


def folder_group(source: SourceFile) -> str:
    """Boilerplate group of a file without a known site: its folder's absolute path.

    Absolute, not relative to the root: a nightly run over /news and a manual one over
    /news/sport must count the same folder's blocks together across runs.
    """
    return "folder:" + (os.path.dirname(source.path) or "/")


def _text_length(paragraphs: Iterable[str]) -> int:
    return sum(len(p) for p in paragraphs)


def _length_problem(paragraphs: Iterable[str], settings: ExtractSettings) -> Problem | None:
    length = _text_length(paragraphs)
    if length < settings.min_text_chars:
        return Problem(NO_TEXT, f"{length} characters of text, fewer than {settings.min_text_chars}")
    if length > settings.max_text_chars:
        # No news article is this long; Elasticsearch would refuse the document (429, over its
        # indexing-pressure limit) on every run, after minutes of cleaning and deduplicating it.
        return Problem(TOO_LARGE, f"{length} characters of text, more than {settings.max_text_chars}")
    return None


def _decode(raw: RawInput, declared: str | None = None) -> str | Problem:
    text = decode_text(raw.data, declared)
    if isinstance(text, str):
        return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    return text


# ---------------------------------------------------------------------------------------------
# Plain text and Markdown

LIST_ITEM = re.compile(r"^\s*(?:[-*+•–]|\d{1,3}[.)])\s+\S")
MARKDOWN_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s+|$)")
MARKDOWN_RULE = re.compile(r"^\s{0,3}(?:[-*_]\s*){3,}$")
SETEXT_UNDERLINE = re.compile(r"^\s{0,3}(?:=+|-+)\s*$")
MAX_WRAPPED_WIDTH = 120  # lines longer than this are whole paragraphs, not hard-wrapped text
MIN_WRAPPED_WIDTH = 40
DATELINE_BLOCKS = 3  # datelines are looked for in this many blocks after the title
MAX_DATELINE_CHARS = 80
MAX_TITLE_CHARS = 300
BLANK_LINE = re.compile(r"\n(?:[^\S\n]*\n)+")  # one or more lines holding nothing but spaces


def _text_articles(raw: RawInput, settings: ExtractSettings) -> ExtractionResult | Problem:
    text = _decode(raw)
    if isinstance(text, Problem):
        return text
    markdown = raw.source.path.lower().removesuffix(".gz").endswith((".md", ".markdown"))
    parsed = parse_text_article(text, markdown=markdown)
    if isinstance(parsed, Problem):
        return parsed
    title, paragraphs, published_at = parsed
    wrong_length = _length_problem(paragraphs, settings)
    if wrong_length:
        return wrong_length
    article = ExtractedArticle(
        source=source_ref(raw),
        title=title,
        paragraphs=paragraphs,
        group=folder_group(raw.source),
        published_at=published_at,
        published_at_source="text" if published_at else None,
    )
    return ExtractionResult((article,))


def parse_text_article(text: str, markdown: bool = False) -> tuple[str | None, tuple[str, ...], str | None] | Problem:
    """(title, paragraphs, published_at): first non-empty line, blank-line blocks, a dateline near the top."""
    blocks = [block.strip("\n") for block in BLANK_LINE.split(text.strip()) if block.strip()]
    if markdown:
        blocks = [b for b in (_strip_markdown_block(block).strip("\n") for block in blocks) if b.strip()]
    if not blocks:
        return Problem(NO_TEXT, "no text")

    published: list[tuple[str, str]] = []
    first_lines = blocks[0].split("\n")
    # A dateline above the headline is not the headline.
    while first_lines and _take_dateline(first_lines[0], published):
        first_lines.pop(0)
        if not first_lines and len(blocks) > 1:
            blocks.pop(0)
            first_lines = blocks[0].split("\n")
    title = normalize_text(_heading_text(first_lines[0])) if first_lines else ""
    rest = first_lines[1:]
    if len(title) > MAX_TITLE_CHARS:  # a whole paragraph on the first line: the text has no headline
        title, rest = "", first_lines
    elif rest and SETEXT_UNDERLINE.match(rest[0]):
        rest = rest[1:]
    body_blocks = (["\n".join(rest)] if rest else []) + blocks[1:]

    kept_blocks: list[str] = []
    for index, block in enumerate(body_blocks):
        if index < DATELINE_BLOCKS:
            block = "\n".join(line for line in block.split("\n") if not _take_dateline(line, published))
        if block.strip():
            kept_blocks.append(block)
    paragraphs = tuple(
        p for block in kept_blocks for p in (normalize_text(_paragraph_text(x, markdown)) for x in unwrap_block(block)) if p
    )
    return title or None, paragraphs, _preferred_date(published)


def _heading_text(line: str) -> str:
    # "## Title ##" -> "Title"; a "#" that is part of a word ("C#", "#MeToo") stays.
    if not MARKDOWN_HEADING.match(line):
        return line
    return re.sub(r"(?:^|\s+)#+\s*$", "", MARKDOWN_HEADING.sub("", line, count=1))


def _paragraph_text(paragraph: str, markdown: bool) -> str:
    paragraph = _heading_text(paragraph)
    return MARKDOWN_BULLET.sub("", paragraph) if markdown else paragraph


def _take_dateline(line: str, found: list[tuple[str, str]]) -> bool:
    parsed = parse_dateline(line)
    if parsed is None:
        return False
    found.append(parsed)
    return True


def _preferred_date(found: list[tuple[str, str]]) -> str | None:
    # "Published" beats "Updated"; otherwise the first dateline.
    for label, value in found:
        if not label.startswith(UPDATE_LABELS):
            return value
    return found[0][1] if found else None


def unwrap_block(block: str) -> list[str]:
    """Paragraphs of one block: hard-wrapped lines joined; list items, headings and short lines kept apart."""
    lines = [line.strip() for line in block.split("\n") if line.strip()]
    if len(lines) <= 1:
        return lines
    width = max(len(line) for line in lines)
    wrapped = MIN_WRAPPED_WIDTH <= width <= MAX_WRAPPED_WIDTH
    paragraphs: list[list[str]] = [[lines[0]]]
    for previous, line in zip(lines, lines[1:]):
        joins = (
            wrapped
            and len(previous) >= 0.6 * width
            and not LIST_ITEM.match(line)
            and not MARKDOWN_HEADING.match(previous)
            and not MARKDOWN_HEADING.match(line)
        )
        if joins:
            paragraphs[-1].append(line)
        else:
            paragraphs.append([line])
    return [" ".join(parts) for parts in paragraphs]


MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
MARKDOWN_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
MARKDOWN_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+.*$")
MARKDOWN_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
MARKDOWN_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
MARKDOWN_CODE = re.compile(r"`([^`\n]+)`")
MARKDOWN_BULLET = re.compile(r"^(\s*)[-*+]\s+")


def _strip_markdown_block(block: str) -> str:
    lines = []
    for line in block.split("\n"):
        if line.lstrip().startswith(("```", "~~~")) or MARKDOWN_LINK_DEFINITION.match(line) or MARKDOWN_RULE.match(line):
            continue
        line = re.sub(r"^\s{0,3}>\s?", "", line)
        line = MARKDOWN_IMAGE.sub("", line)
        line = MARKDOWN_LINK.sub(r"\1", line)
        line = MARKDOWN_STRONG.sub(r"\2", line)
        line = MARKDOWN_EMPHASIS.sub(r"\1", line)
        line = MARKDOWN_CODE.sub(r"\1", line)
        lines.append(line)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Datelines and dates

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
    # German, French and Spanish month names that differ from the English ones.
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "mai": 5, "juni": 6, "juli": 7, "oktober": 10,
    "dezember": 12, "janvier": 1, "février": 2, "mars": 3, "avril": 4, "juin": 6, "juillet": 7,
    "août": 8, "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12, "enero": 1,
    "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8,
    "septiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
}  # fmt: skip
_MONTH = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|urday|sday)?\.?,?\s+)"
UTC_ZONES = frozenset({"utc", "gmt", "z"})
UPDATE_LABELS = ("updated", "last updated", "first updated", "modified", "last modified", "aktualisiert", "mis à jour", "actualizado")
DATELINE = re.compile(
    rf"""^\s*
    (?:(?P<label>(?:first\s+|last\s+)?(?:published|updated|posted|modified)|date|dated
        |veröffentlicht|aktualisiert|publié|mis\s+à\s+jour|publicado|actualizado)
        (?:\s+on|\s+am|\s+le|\s+el)?\s*[:\-–—]?\s*)?
    {_WEEKDAY}?
    (?:
        (?P<day1>\d{{1,2}})(?:st|nd|rd|th|\.)?\s+(?:de\s+)?(?P<month1>{_MONTH})\s*,?\s+(?:de\s+)?(?P<year1>\d{{4}})
      | (?P<month2>{_MONTH})\s+(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s+(?P<year2>\d{{4}})
      | (?P<year3>\d{{4}})-(?P<month3>\d{{2}})-(?P<day3>\d{{2}})
    )
    (?:
        (?:\s*[,|•·\-–—]\s*|\s+at\s+|\s+|T)
        (?P<hour>\d{{1,2}})[:.](?P<minute>\d{{2}})(?::(?P<second>\d{{2}})(?:\.\d+)?)?
        \s*(?P<ampm>[ap]\.?m\.?)?
        \s*(?P<zone>Z|UTC|GMT|BST|CET|CEST|EET|EEST|[ECMP][SD]T|ET|PT|IST|JST|AEST|AEDT|[+-]\d{{2}}:?\d{{2}})?
    )?
    \s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def parse_dateline(line: str) -> tuple[str, str] | None:
    """(label, ISO date or datetime) of a line that is only a date, e.g. "Published 9 October 2018"."""
    if len(line) > MAX_DATELINE_CHARS:
        return None
    match = DATELINE.match(line)
    if not match:
        return None
    groups = match.groupdict()
    year = groups["year1"] or groups["year2"] or groups["year3"]
    month_text = groups["month1"] or groups["month2"] or groups["month3"]
    day = groups["day1"] or groups["day2"] or groups["day3"]
    month = int(month_text) if month_text.isdigit() else MONTHS[month_text.lower().rstrip(".")]
    try:
        day_value = date(int(year), month, int(day))
    except ValueError:
        return None
    if not 1900 <= day_value.year <= 2100:
        return None
    label = " ".join((groups["label"] or "").lower().split())
    return label, _with_time(day_value, groups)


def _with_time(day_value: date, groups: dict[str, str | None]) -> str:
    if groups["hour"] is None:
        return day_value.isoformat()
    hour, minute, second = int(groups["hour"]), int(groups["minute"]), int(groups["second"] or 0)
    ampm = (groups["ampm"] or "").lower().replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    zone = (groups["zone"] or "").lower()
    if hour > 23 or minute > 59 or second > 59:
        return day_value.isoformat()
    clock = f"{day_value.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}"
    if not zone:
        return clock
    if zone in UTC_ZONES:
        return clock + "Z"
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        return f"{clock}{zone[0]}{digits[:2]}:{digits[2:]}"
    return day_value.isoformat()  # a named local zone: the day is sure, the instant is not


def normalize_date(value: Any) -> str | None:
    """ISO date or datetime of a metadata value (ISO string, RFC 2822, epoch seconds or ms, a dateline), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value
        try:
            moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if 1900 <= moment.year <= 2100 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        try:
            moment = datetime.fromisoformat(text.replace("z", "Z").replace(" ", "T", 1))
        except ValueError:
            try:
                return date.fromisoformat(text[:10]).isoformat()
            except ValueError:
                return None
        if len(text) == 10:
            return moment.date().isoformat()
        if moment.utcoffset() == timedelta(0):
            return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
        return moment.isoformat(timespec="seconds")
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is not None:
        if moment.utcoffset() == timedelta(0):
            return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
        return moment.isoformat(timespec="seconds")
    parsed = parse_dateline(text)
    return parsed[1] if parsed else None


# ---------------------------------------------------------------------------------------------
# JSON and JSON lines

TITLE_FIELDS = ("title", "headline", "heading")
TEXT_FIELDS = ("text", "body", "content", "article", "articlebody", "article_body", "maintext", "main_text",
               "fulltext", "full_text")  # fmt: skip
HTML_FIELDS = ("html", "content_html", "raw_html", "body_html", "html_content")
URL_FIELDS = ("url", "link", "canonical_url", "source_url", "uri", "href")
DATE_FIELDS = ("published_at", "datepublished", "date_published", "published", "publishedat", "pubdate",
               "publication_date", "publish_date", "date")  # fmt: skip
AUTHOR_FIELDS = ("author", "authors", "byline", "creator", "by")
LANGUAGE_FIELDS = ("language", "lang", "inlanguage", "locale")
SITE_FIELDS = ("site_name", "sitename", "site", "publisher", "source")
LIST_FIELDS = ("articles", "items", "data", "results", "documents", "docs", "posts", "entries")
HTML_FRAGMENT = re.compile(r"<(?:p|br|div|span|a|em|strong|b|i|h[1-6]|ul|ol|li|blockquote)\b[^>]*>", re.IGNORECASE)
HTML_BREAK = re.compile(r"<br\s*/?>|</?(?:p|div|li|h[1-6]|blockquote|ul|ol|tr|section|article)\b[^>]*>", re.IGNORECASE)
HTML_TAG = re.compile(r"<[^>]*>")


def _json_articles(raw: RawInput, settings: ExtractSettings, extractor: HtmlExtractor | None) -> ExtractionResult | Problem:
    text = _decode(raw)
    if isinstance(text, Problem):
        return text
    records: list[tuple[str | None, Any]] = []
    problems: list[Quarantine] = []
    as_lines = raw.format == "jsonl"
    if not as_lines:
        try:
            records = list(_json_records(json.loads(text)))
        except json.JSONDecodeError as error:
            if error.msg != "Extra data":
                return Problem(BAD_JSON, f"{error.msg} at line {error.lineno} column {error.colno}")
            as_lines = True  # one object per line: a JSON lines file named .json
        except RecursionError:
            return Problem(BAD_JSON, "nested too deeply")
    if as_lines:
        lines_read, bad_lines = _json_lines(text, records, problems, raw.source.path)
        if lines_read and bad_lines == lines_read:
            return Problem(BAD_JSON, f"none of {lines_read} lines is JSON ({problems[0].detail})")
    if raw.truncated:
        problems.append(Quarantine(raw.source.path, BAD_GZIP, "truncated gzip: only the records before the cut were read"))

    articles: list[ExtractedArticle] = []
    for record, value in records:
        article = _json_article(value, raw, record, settings, extractor)
        if isinstance(article, Problem):
            problems.append(article.quarantine(raw.source.path, record))
        else:
            articles.append(article)
    return ExtractionResult(tuple(articles), tuple(problems))


def _json_lines(text: str, records: list[tuple[str | None, Any]], problems: list[Quarantine], path: str) -> tuple[int, int]:
    lines_read = bad_lines = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        lines_read += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            bad_lines += 1
            problems.append(Quarantine(path, BAD_JSON, f"line {number}: {error.msg} at column {error.colno}"))
            continue
        except RecursionError:
            bad_lines += 1
            problems.append(Quarantine(path, BAD_JSON, f"line {number}: nested too deeply"))
            continue
        if isinstance(value, list):
            records.extend((f"line {number} item {i}", item) for i, item in enumerate(value, start=1))
        else:
            records.append((f"line {number}", value))
    return lines_read, bad_lines


def _json_records(value: Any) -> Iterator[tuple[str | None, Any]]:
    if isinstance(value, dict):
        fields = {key.lower(): item for key, item in value.items() if isinstance(key, str)}
        nested = next((fields[name] for name in LIST_FIELDS if isinstance(fields.get(name), list)), None)
        if nested is not None and not any(name in fields for name in TEXT_FIELDS + HTML_FIELDS):
            value = nested  # a wrapper object: {"articles": [...]}
        else:
            yield None, value
            return
    if isinstance(value, list):
        yield from ((f"item {i}", item) for i, item in enumerate(value, start=1))
    else:
        yield None, value


def _json_article(
    value: Any, raw: RawInput, record: str | None, settings: ExtractSettings, extractor: HtmlExtractor | None
) -> ExtractedArticle | Problem:
    if not isinstance(value, dict):
        return Problem(BAD_JSON, f"a JSON {type(value).__name__}, not an object")
    fields = {key.lower(): item for key, item in value.items() if isinstance(key, str)}
    title = _first_text(fields, TITLE_FIELDS)
    url = _first_text(fields, URL_FIELDS)
    published_at = next((d for name in DATE_FIELDS if (d := normalize_date(fields.get(name))) is not None), None)
    author = _author(next((fields[name] for name in AUTHOR_FIELDS if fields.get(name)), None))
    language = _language(_first_text(fields, LANGUAGE_FIELDS))
    site_name = _first_text(fields, SITE_FIELDS)
    ref = source_ref(raw, record)
    group = folder_group(raw.source)

    plain = _first_text(fields, TEXT_FIELDS, joiner="\n\n")
    markup = _first_text(fields, HTML_FIELDS, joiner="\n")
    if plain and not HTML_FRAGMENT.search(plain):
        paragraphs = plain_paragraphs(plain)
        from_html = None
    else:
        markup = markup or plain
        if not markup:
            return Problem(NO_TEXT, "no text or html field")
        from_html = _html_article(markup, ref, group, settings, url, extractor, fragment_fallback=True)
        if isinstance(from_html, Problem):
            return from_html
        paragraphs = from_html.paragraphs
    wrong_length = _length_problem(paragraphs, settings)
    if wrong_length:
        return wrong_length
    article = from_html or ExtractedArticle(source=ref, title=None, paragraphs=paragraphs, group=group)
    return dataclasses.replace(
        article,
        title=normalize_text(title) if title else article.title,
        group=group,  # NOTE: records of one JSON file share boilerplate by folder, whatever their site
        url=url or article.url,
        author=author or article.author,
        site_name=site_name or article.site_name,
        published_at=published_at or article.published_at,
        published_at_source="json" if published_at else article.published_at_source,
        language=language or article.language,
    )


def _first_text(fields: dict[str, Any], names: Iterable[str], joiner: str = ", ") -> str | None:
    for name in names:
        value = fields.get(name)
        if isinstance(value, dict):  # e.g. WordPress {"rendered": "..."}, {"name": "..."}
            value = value.get("rendered") or value.get("name") or value.get("text") or value.get("value")
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = joiner.join(item for item in value if item.strip())
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _author(value: Any) -> str | None:
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("name") or item.get("displayName")
        if isinstance(item, str) and item.strip():
            names.append(normalize_text(item))
    return ", ".join(dict.fromkeys(names)) or None


def _language(value: str | None) -> str | None:
    if not value:
        return None
    primary = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def plain_paragraphs(text: str) -> tuple[str, ...]:
    """Paragraphs of a text field: blank-line blocks (unwrapped) when it has any, else one per line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = BLANK_LINE.split(text.strip()) if BLANK_LINE.search(text.strip()) else text.split("\n")
    return tuple(p for block in blocks for p in (normalize_text(x) for x in unwrap_block(block)) if p)


def html_fragment_paragraphs(markup: str) -> tuple[str, ...]:
    """Paragraphs of a small HTML fragment (a JSON body), by its block tags; no parser needed."""
    text = HTML_BREAK.sub("\n\n", markup)
    text = html_entities.unescape(HTML_TAG.sub("", text))
    return tuple(p for p in (normalize_text(block) for block in re.split(r"\n\s*\n", text)) if p)


# ---------------------------------------------------------------------------------------------
# HTML

VOID_ELEMENTS = frozenset(
    "area base br col embed hr img input link meta param source track wbr "
    "basefont bgsound frame keygen command image".split()
)
# Elements whose content is text, not tags: the scan skips to their end tag.
RAW_TEXT_END = {
    name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style", "textarea", "title", "xmp")
}
# An opening tag closes the open elements of these names first (HTML's optional end tags).
IMPLIED_CLOSERS = {
    "p": frozenset({"p"}),
    "li": frozenset({"li", "p"}),
    "dt": frozenset({"dt", "dd", "p"}),
    "dd": frozenset({"dt", "dd", "p"}),
    "option": frozenset({"option"}),
    "optgroup": frozenset({"option", "optgroup"}),
    "td": frozenset({"td", "th"}),
    "th": frozenset({"td", "th"}),
    "tr": frozenset({"td", "th", "tr"}),
    "thead": frozenset({"td", "th", "tr", "tbody", "thead", "tfoot"}),
    "tbody": frozenset({"td", "th", "tr", "tbody", "thead", "tfoot"}),
    "tfoot": frozenset({"td", "th", "tr", "tbody", "thead", "tfoot"}),
}
BLOCK_ELEMENTS_CLOSING_P = frozenset(
    "address article aside blockquote details div dl fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr main menu nav ol p pre section table ul".split()
)
TAG_START = re.compile(r"<(?:(!--)|(/?)([A-Za-z][A-Za-z0-9:._-]*))")


def html_depth(markup: str) -> int:
    """How deep the element tree of this HTML gets, estimated from its tags (the parser's view, roughly)."""
    return _scan_html_depth(markup, max_depth=None)[1]


def limit_html_depth(markup: str, max_depth: int) -> tuple[str, int]:
    """(HTML with the tags below `max_depth` removed, its depth or 0 if too few tags to matter): text stays."""
    # NOTE: libxml2's HTML parser (lxml, trafilatura) stops at depth 256 and drops the rest of
    # the page, so deeper input would lose its article silently.
    if markup.count("<") <= max_depth:
        return markup, 0
    return _scan_html_depth(markup, max_depth)


def _scan_html_depth(markup: str, max_depth: int | None) -> tuple[str, int]:
    stack: list[tuple[str, bool]] = []  # (tag name, tag kept?)
    open_names: Counter[str] = Counter()
    cut: list[tuple[int, int]] = []  # spans of tags to remove
    deepest = 0
    position = 0

    def push(name: str, start: int, end: int) -> None:
        nonlocal deepest
        kept = max_depth is None or len(stack) < max_depth
        if not kept:
            cut.append((start, end))
        stack.append((name, kept))
        open_names[name] += 1
        deepest = max(deepest, len(stack))

    def pop() -> tuple[str, bool]:
        name, kept = stack.pop()
        open_names[name] -= 1
        return name, kept

    while True:
        match = TAG_START.search(markup, position)
        if not match:
            break
        start = match.start()
        if match.group(1):  # a comment runs to "-->"
            end = markup.find("-->", match.end())
            if end == -1:
                break
            position = end + 3
            continue
        end = markup.find(">", match.end())
        if end == -1:
            break
        end += 1
        position = end
        name = match.group(3).lower()
        if match.group(2):  # an end tag closes the innermost open element of its name
            if open_names[name] > 0:
                while stack:
                    popped, kept = pop()
                    if popped == name:
                        if not kept:
                            cut.append((start, end))
                        break
            elif max_depth is not None and len(stack) >= max_depth:
                cut.append((start, end))
            continue
        if name in VOID_ELEMENTS or markup[end - 2] == "/":
            continue
        closers = IMPLIED_CLOSERS.get(name)
        if closers is None and name in BLOCK_ELEMENTS_CLOSING_P:
            closers = IMPLIED_CLOSERS["p"]
        while closers and stack and stack[-1][0] in closers:
            pop()
        if name == "tr" and stack and stack[-1][0] == "table":
            push("tbody", start, start)  # NOTE: the parser inserts a tbody between table and tr
        push(name, start, end)
        if name in RAW_TEXT_END:
            close = RAW_TEXT_END[name].search(markup, end)
            if close is None:
                break
            pop()
            position = close.end()
    if max_depth is None or deepest <= max_depth or not cut:
        return markup, deepest
    parts, previous = [], 0
    for start, end in cut:
        parts.append(markup[previous:start])
        previous = end
    parts.append(markup[previous:])
    return "".join(parts), deepest


def _html_article(
    markup: str,
    ref: SourceRef,
    group: str,
    settings: ExtractSettings,
    url: str | None,
    extractor: HtmlExtractor | None,
    fragment_fallback: bool = False,
) -> ExtractedArticle | Problem:
    flattened, _ = limit_html_depth(markup, settings.max_html_depth)
    extract_html = extractor or _default_html_extractor()
    article = None
    if extract_html is not None:
        try:
            article = extract_html(flattened, ref, group, settings, url=url)
        except RecursionError:
            return Problem(TOO_DEEP, "HTML nested too deeply to parse")
        except (ValueError, TypeError, LookupError, LxmlError) as error:
            return Problem(NO_TEXT, f"HTML extraction failed: {type(error).__name__}: {error}"[:300])
    if article is None and fragment_fallback:
        paragraphs = html_fragment_paragraphs(markup)
        if paragraphs:
            return ExtractedArticle(source=ref, title=None, paragraphs=paragraphs, group=group, url=url)
    if article is None:
        if extract_html is None:
            return Problem(UNSUPPORTED, "HTML extraction is not available (tasks.html missing)")
        return Problem(NO_TEXT, "no article text in the HTML")
    # NOTE: extract_html chooses the group itself: the page's site when it knows it, else ours.
    return _length_problem(article.paragraphs, settings) or article


def _default_html_extractor() -> HtmlExtractor | None:
    # NOTE: imported on first use: trafilatura takes a second to import and text-only runs skip it.
    try:
        from tasks.html import extract_html
    except ImportError:
        return None
    return extract_html


def _html_file_articles(
    raw: RawInput, settings: ExtractSettings, extractor: HtmlExtractor | None
) -> ExtractionResult | Problem:
    text = _decode(raw, declared_charset(raw.data))
    if isinstance(text, Problem):
        return text
    article = _html_article(text, source_ref(raw), folder_group(raw.source), settings, None, extractor)
    return article if isinstance(article, Problem) else ExtractionResult((article,))


# ---------------------------------------------------------------------------------------------
# WARC

HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")


def _warc_articles(raw: RawInput, settings: ExtractSettings, extractor: HtmlExtractor | None) -> ExtractionResult | Problem:
    # NOTE: warcio is imported on first use, like the other format libraries.
    from warcio.archiveiterator import ArchiveIterator

    if not raw.data.lstrip()[:5] == b"WARC/":
        return Problem(BAD_WARC, "no WARC/ version line at the start")
    articles: list[ExtractedArticle] = []
    problems: list[Quarantine] = []
    records_read = 0
    path = raw.source.path
    iterator = ArchiveIterator(io.BytesIO(raw.data))
    records = iter(iterator)
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except Exception as error:  # NOTE: warcio's parser raises whatever malformed bytes trip (AttributeError, ...)
            if records_read == 0:
                return Problem(BAD_WARC, f"not a readable WARC: {type(error).__name__}: {error}"[:300])
            detail = f"stopped after {records_read} records: {type(error).__name__}: {error}"
            problems.append(Quarantine(path, BAD_WARC, detail[:300]))
            break
        records_read += 1
        try:
            markup = _warc_html(record, settings.max_decompressed_bytes)
            # NOTE: warcio knows a record's offset only once its content is read.
            record_name = f"offset {iterator.get_record_offset()}"
        except Exception as error:  # NOTE: as above; content_stream() also decodes Content-Encoding
            problems.append(Quarantine(path, BAD_WARC, f"record {records_read}: {type(error).__name__}: {error}"[:300]))
            continue
        if markup is None:
            continue
        if isinstance(markup, Problem):
            problems.append(markup.quarantine(path, record_name))
            continue
        body, charset = markup
        text = decode_text(body, charset or declared_charset(body))
        if isinstance(text, Problem):
            problems.append(text.quarantine(path, record_name))
            continue
        url = record.rec_headers.get_header("WARC-Target-URI")
        article = _html_article(text, source_ref(raw, record_name), folder_group(raw.source), settings, url, extractor)
        if isinstance(article, Problem):
            problems.append(article.quarantine(path, record_name))
        else:
            # NOTE: WARC-Date is when the page was crawled, not when it was published.
            articles.append(article if article.url else dataclasses.replace(article, url=url))
    if raw.truncated:
        problems.append(Quarantine(path, BAD_GZIP, "truncated gzip: only the records before the cut were read"))
    if records_read == 0:
        return Problem(BAD_WARC, "no WARC records")
    return ExtractionResult(tuple(articles), tuple(problems))


def _warc_html(record: Any, limit: int) -> tuple[bytes, str | None] | Problem | None:
    """(body, declared charset) of a record holding an HTML page, None for any other record."""
    if record.rec_type == "response":
        if record.http_headers is None or record.http_headers.get_statuscode() != "200":
            return None
        content_type = record.http_headers.get_header("Content-Type") or ""
    elif record.rec_type == "resource":
        content_type = record.rec_headers.get_header("Content-Type") or ""
    else:
        return None
    media_type, _, parameters = content_type.partition(";")
    if media_type.strip().lower() not in HTML_CONTENT_TYPES:
        return None
    # NOTE: content_stream() undoes chunking and Content-Encoding: cap it like any gzip.
    body = record.content_stream().read(limit + 1)
    if len(body) > limit:
        return Problem(TOO_LARGE, f"record body over {limit} bytes")
    charset = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", parameters)
    return body, charset.group(1).lower() if charset else None


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
            result = Quarantine(source.path, EXTRACT_ERROR, f"{type(error).__name__}: {str(error)[:300]}")
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
