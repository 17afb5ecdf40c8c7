"""Publication date of an HTML page: explicit publication metadata first, then htmldate."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import lxml.html
from htmldate import find_date
from lxml.etree import ParserError

from newsetl.tasks.dates import calendar_day, canonical_date, normalise_iso, plausible
from newsetl.tasks.records import CleanArticle

# Meta names/properties whose meaning is "first published"; generic ones ("date",
# "dc.date") and modification dates are left to htmldate's own ranking.
PUBLICATION_META_KEYS = frozenset(
    {
        "article:published_time",
        "og:article:published_time",
        "og:published_time",
        "article.published",
        "datepublished",
        "dc.date.issued",
        "dcterms.issued",
        "pubdate",
        "publishdate",
        "publish-date",
        "publish_date",
        "publication_date",
        "publication-date",
        "sailthru.date",
        "parsely-pub-date",
        "cxenseparse:recs:publishtime",
        "citation_publication_date",
        "originalpublicationdate",
        "article_date_original",
    }
)
URL_DATE = re.compile(r"/((?:19|20)\d\d)[/_-](\d{1,2})[/_-](\d{1,2})(?=[/_.-]|$)")
XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
JSON_LD_DATE_PUBLISHED = re.compile(r'"datePublished"\s*:\s*"([^"]+)"')


def publication_date_from_html(html: str, url: str | None = None) -> str | None:
    """ISO date (or datetime when the page states one) the page was first published, or None."""
    found = publication_date_and_source(html, url)
    return found[0] if found else None


HTML_META = "html_meta"  # publication metadata, time elements, the URL: what the page states as its date
HTML_TEXT = "html_text"  # a date found in the page's text (htmldate's extensive search): weaker evidence


def publication_date_and_source(html: str, url: str | None = None) -> tuple[str, str] | None:
    """(ISO date or datetime, html_meta or html_text) of the page's first publication, or None."""
    try:
        # NOTE: lxml refuses str input that carries an XML encoding declaration.
        tree = lxml.html.fromstring(XML_DECLARATION.sub("", html, count=1))
    except (ParserError, ValueError):
        return None
    latest = datetime.now(UTC) + timedelta(days=1)

    # Explicit publication metadata wins when every such field (and a date in the URL, if
    # any) names the same day; otherwise htmldate weighs the evidence.
    stated = [value for value in _publication_metadata(tree) if plausible(value, latest)]
    days = {value[:10] for value in stated}
    url_day = url_date(url)
    if len(days) == 1 and (url_day is None or url_day in days):
        return max(stated, key=len), HTML_META

    # NOTE: htmldate's extensive search also scans free text, which picks up "today" in page
    # headers and dates of related links; its markup-only search is right more often when
    # it finds anything, so the text search is only the fallback, and labelled as such.
    for extensive, source in ((False, HTML_META), (True, HTML_TEXT)):
        try:
            found = find_date(tree, extensive_search=extensive, original_date=True, url=url)
        except (ValueError, TypeError):  # third-party parsing of arbitrary pages: a miss, not a crash
            found = None
        if found and plausible(found, latest):
            return found, source
    return None


def url_date(url: str | None) -> str | None:
    """The day a URL path names (/2023/9/14/...), or None."""
    if not url:
        return None
    match = URL_DATE.search(url)
    return calendar_day(match[1], match[2], match[3]) if match else None


def _publication_metadata(tree: lxml.html.HtmlElement) -> list[str]:
    """Normalised ISO values of the page's explicit publication-date fields.

    Meta tags describe the page; of microdata and JSON-LD only the first datePublished
    counts, as later ones usually belong to teasers of other articles or live-blog posts.
    """
    raw: list[str | None] = []
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").strip().lower()
        if key in PUBLICATION_META_KEYS:
            raw.append(meta.get("content"))
    for element in tree.xpath('//*[@itemprop="datePublished"][not(self::meta)]')[:1]:
        raw.append(element.get("datetime") or element.get("content") or element.text_content())
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        first = next(iter(_json_ld_dates_published(script.text_content())), None)
        if first:
            raw.append(first)
            break
    return [value for value in (normalise_iso(item) for item in raw) if value]


def _json_ld_dates_published(text: str) -> list[str]:
    """datePublished values of one JSON-LD script, outermost objects first."""
    try:
        data = json.loads(text)
    except ValueError:
        # NOTE: much JSON-LD in the wild is not valid JSON (trailing commas, raw newlines).
        return JSON_LD_DATE_PUBLISHED.findall(text)
    found: list[str] = []
    level = [data]
    while level:
        deeper = []
        for item in level:
            if isinstance(item, dict):
                value = item.get("datePublished")
                if isinstance(value, str):
                    found.append(value)
                deeper.extend(item.values())
            elif isinstance(item, list):
                deeper.extend(item)
        level = deeper
    return found


FILE_MTIME = "file_mtime"


def resolve_publication_date(article: CleanArticle) -> tuple[str | None, str | None]:
    """The article's publication date in its stored form (see `publication_date`) and its source."""
    value, source, _ = publication_date(article)
    return value, source


def publication_date(article: CleanArticle) -> tuple[str | None, str | None, str | None]:
    """(value, source, precision) of the date the article was published, in the one stored form.

    The stated date when it is plausible (tasks/dates.canonical_date: UTC datetime or day), else
    the file's mtime as a last resort, labelled so; (None, None, None) when neither is plausible.
    """
    for value, source in ((article.published_at, article.published_at_source), (article.source.modified, FILE_MTIME)):
        canonical = canonical_date(value)
        if canonical:
            return canonical[0], source, canonical[1]
    return None, None, None
