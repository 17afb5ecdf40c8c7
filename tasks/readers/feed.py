"""RSS and Atom feeds saved to disk: each item with content is an article."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime

from newsetl.tasks.readers.base import Problem
from newsetl.tasks.readers.documents import DocumentText
from newsetl.tasks.readers.html import html_fragment_paragraphs
from newsetl.tasks.readers.text import plain_paragraphs
from newsetl.tasks.records import NO_TEXT

ROOTS = frozenset({"rss", "RDF", "feed"})


def feed_documents(data: bytes) -> list[DocumentText | Problem] | Problem:
    """One document per item; an item with neither content nor a description is a problem of its record."""
    # NOTE: feedparser (BSD) reads RSS 0.9x/1.0/2.0 and Atom, content:encoded and the many date
    # forms of real feeds; given bytes, it fetches nothing and resolves no external entity.
    import feedparser

    parsed = feedparser.parse(data)
    if not parsed.entries:
        return Problem(NO_TEXT, "a feed without items")
    documents: list[DocumentText | Problem] = []
    for number, entry in enumerate(parsed.entries, start=1):
        record = f"item {number}"
        contents = [c for c in entry.get("content", []) if (c.get("value") or "").strip()]
        value = contents[0] if contents else entry.get("summary_detail")
        if not value or not (value.get("value") or "").strip():
            documents.append(Problem(NO_TEXT, f"{record}: no content or description"))
            continue
        text = value["value"]
        paragraphs = html_fragment_paragraphs(text) if "html" in (value.get("type") or "") else plain_paragraphs(text)
        documents.append(
            DocumentText(
                title=" ".join((entry.get("title") or "").split()) or None,
                paragraphs=tuple(paragraphs),
                author=entry.get("author") or None,
                published_at=_iso(entry.get("published_parsed") or entry.get("updated_parsed")),
                url=entry.get("link") or None,
                language=value.get("language") or parsed.feed.get("language") or None,
                subjects=tuple(dict.fromkeys(tag["term"] for tag in entry.get("tags", []) if tag.get("term"))),
                record=record,
            )
        )
    return documents


def _iso(moment: time.struct_time | None) -> str | None:
    # feedparser gives UTC struct_time.
    if moment is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(moment), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
