"""Documents as readers of whole files find them (PDF, Office, e-mail, news XML, feeds), made articles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.dates import normalize_date
from newsetl.tasks.readers.base import ExtractionResult, Problem, RawInput, folder_group, length_problem, source_ref
from newsetl.tasks.readers.text import MAX_TITLE_CHARS
from newsetl.tasks.records import ExtractedArticle, Quarantine
from newsetl.tasks.text import normalize_text

METADATA = "metadata"  # published_at_source of a date the document's own metadata gives


@dataclass(frozen=True, slots=True)
class DocumentText:
    """One article as a document reader found it: text blocks in reading order and what the format says of them."""

    title: str | None
    paragraphs: tuple[str, ...]
    author: str | None = None
    published_at: str | None = None  # as the format writes it; normalised by the dates module
    url: str | None = None
    language: str | None = None
    subjects: tuple[str, ...] = ()
    located: str | None = None
    dateline: str | None = None
    record: str | None = None  # which item of a file holding several ("item 2")
    title_from_body: bool = False  # no title in the metadata: the first short block is the headline


def document_articles(
    raw: RawInput, documents: Sequence[DocumentText | Problem] | Problem, settings: ExtractSettings
) -> ExtractionResult | Problem:
    """The articles of a file's documents; a document without enough text is a problem of its record."""
    if isinstance(documents, Problem):
        return documents
    articles: list[ExtractedArticle] = []
    problems: list[Quarantine] = []
    for document in documents:
        if isinstance(document, Problem):
            problems.append(document.quarantine(raw.source.path))
            continue
        article = _article(raw, document, settings)
        if isinstance(article, Problem):
            if len(documents) == 1:
                return article
            problems.append(article.quarantine(raw.source.path, document.record))
        else:
            articles.append(article)
    return ExtractionResult(tuple(articles), tuple(problems))


def _article(raw: RawInput, document: DocumentText, settings: ExtractSettings) -> ExtractedArticle | Problem:
    paragraphs = [p for p in (normalize_text(block) for block in document.paragraphs) if p]
    title = normalize_text(document.title or "")
    if not title and document.title_from_body and len(paragraphs) > 1 and len(paragraphs[0]) <= MAX_TITLE_CHARS:
        title = paragraphs.pop(0)
    elif title and paragraphs and paragraphs[0] == title:  # the headline heads the body too (ODT, DOCX)
        paragraphs.pop(0)
    wrong_length = length_problem(paragraphs, settings, title)
    if wrong_length:
        return wrong_length
    published_at = normalize_date(document.published_at) if document.published_at else None
    language = (document.language or "").split("-")[0].lower() or None
    return ExtractedArticle(
        source=source_ref(raw, document.record),
        title=title or None,
        paragraphs=tuple(paragraphs),
        group=folder_group(raw.source),
        url=document.url,
        author=normalize_text(document.author) if document.author else None,
        published_at=published_at,
        published_at_source=METADATA if published_at else None,
        language=language if language and language.isalpha() and len(language) in (2, 3) else None,
        subjects=tuple(normalize_text(s) for s in document.subjects if s.strip()),
        located=normalize_text(document.located) if document.located else None,
        dateline=normalize_text(document.dateline) if document.dateline else None,
    )
