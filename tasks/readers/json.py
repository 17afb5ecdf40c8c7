"""JSON and JSON-lines articles: one record or a list of them, fields found by their usual names."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.dates import normalize_date
from newsetl.tasks.readers.base import (
    ExtractionResult,
    HtmlExtractor,
    Problem,
    RawInput,
    folder_group,
    length_problem,
    source_ref,
)
from newsetl.tasks.readers.decode import decode_input
from newsetl.tasks.readers.html import html_article
from newsetl.tasks.readers.text import plain_paragraphs
from newsetl.tasks.records import (
    BAD_GZIP,
    BAD_JSON,
    NO_TEXT,
    ExtractedArticle,
    Quarantine,
)
from newsetl.tasks.text import normalize_text

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


def json_articles(
    raw: RawInput, settings: ExtractSettings, extractor: HtmlExtractor | None
) -> ExtractionResult | Problem:
    text = decode_input(raw)
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
        problems.append(
            Quarantine(raw.source.path, BAD_GZIP, "truncated gzip: only the records before the cut were read")
        )

    articles: list[ExtractedArticle] = []
    for record, value in records:
        article = _json_article(value, raw, record, settings, extractor)
        if isinstance(article, Problem):
            problems.append(article.quarantine(raw.source.path, record))
        else:
            articles.append(article)
    return ExtractionResult(tuple(articles), tuple(problems))


def _json_lines(
    text: str, records: list[tuple[str | None, Any]], problems: list[Quarantine], path: str
) -> tuple[int, int]:
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
        from_html = html_article(markup, ref, group, settings, url, extractor, fragment_fallback=True)
        if isinstance(from_html, Problem):
            return from_html
        paragraphs = from_html.paragraphs
    wrong_length = length_problem(paragraphs, settings)
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
