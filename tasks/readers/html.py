"""HTML files: the page's article by the HTML extractor (tasks/readers/html_page.py), after the depth guard."""

from __future__ import annotations

import html as html_entities
import re

from lxml.etree import LxmlError

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.readers.base import (
    ExtractionResult,
    HtmlExtractor,
    Problem,
    RawInput,
    folder_group,
    length_problem,
    source_ref,
)
from newsetl.tasks.readers.decode import declared_charset, decode_input
from newsetl.tasks.readers.html_depth import limit_html_depth
from newsetl.tasks.records import (
    NO_TEXT,
    TOO_DEEP,
    UNSUPPORTED,
    ExtractedArticle,
    SourceRef,
)
from newsetl.tasks.text import normalize_text

HTML_BREAK = re.compile(r"<br\s*/?>|</?(?:p|div|li|h[1-6]|blockquote|ul|ol|tr|section|article)\b[^>]*>", re.IGNORECASE)

HTML_TAG = re.compile(r"<[^>]*>")


def html_fragment_paragraphs(markup: str) -> tuple[str, ...]:
    """Paragraphs of a small HTML fragment (a JSON body), by its block tags; no parser needed."""
    text = HTML_BREAK.sub("\n\n", markup)
    text = html_entities.unescape(HTML_TAG.sub("", text))
    return tuple(p for p in (normalize_text(block) for block in re.split(r"\n\s*\n", text)) if p)


def html_article(
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
            return Problem(UNSUPPORTED, "HTML extraction is not available (tasks/readers/html_page.py missing)")
        return Problem(NO_TEXT, "no article text in the HTML")
    # NOTE: extract_html chooses the group itself: the page's site when it knows it, else ours.
    return length_problem(article.paragraphs, settings) or article


def _default_html_extractor() -> HtmlExtractor | None:
    # NOTE: imported on first use: trafilatura takes a second to import and text-only runs skip it.
    try:
        from newsetl.tasks.readers.html_page import extract_html
    except ImportError:
        return None
    return extract_html


def html_articles(
    raw: RawInput, settings: ExtractSettings, extractor: HtmlExtractor | None
) -> ExtractionResult | Problem:
    text = decode_input(raw, declared_charset(raw.data))
    if isinstance(text, Problem):
        return text
    article = html_article(text, source_ref(raw), folder_group(raw.source), settings, None, extractor)
    return article if isinstance(article, Problem) else ExtractionResult((article,))
