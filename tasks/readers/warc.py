"""WARC archives: every HTML response or resource record is a page, read like an HTML file."""

from __future__ import annotations

import dataclasses
import io
import re
from typing import Any

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.readers.base import ExtractionResult, HtmlExtractor, Problem, RawInput, folder_group, source_ref
from newsetl.tasks.readers.decode import declared_charset, decode_text
from newsetl.tasks.readers.html import html_article
from newsetl.tasks.records import (
    BAD_GZIP,
    BAD_WARC,
    TOO_LARGE,
    ExtractedArticle,
    Quarantine,
)

HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")


def warc_articles(
    raw: RawInput, settings: ExtractSettings, extractor: HtmlExtractor | None
) -> ExtractionResult | Problem:
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
        # NOTE: warcio's parser raises whatever malformed bytes trip (AttributeError, ...).
        except Exception as error:  # noqa: BLE001 - a malformed archive is a problem record, not a crash
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
        # NOTE: as above; content_stream() also decodes Content-Encoding.
        except Exception as error:  # noqa: BLE001 - a malformed record is a problem record, not a crash
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
        article = html_article(text, source_ref(raw, record_name), folder_group(raw.source), settings, url, extractor)
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
