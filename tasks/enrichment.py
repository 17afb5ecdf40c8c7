"""An article's enrichment from the entity spans of its texts: language, entities, dates mentioned, publication date.

The per-article half of the enrich step, free of Prefect and of any executor: the driver runs it,
and so do NER workers, which then send back finished enrichments instead of bare spans.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from newsetl.tasks.dates import DateResolver, clause_tense
from newsetl.tasks.entities import (
    NAME_GROUPS,
    EntityKnowledge,
    Mention,
    canonical_entities,
    load_knowledge,
    mentions_in,
)
from newsetl.tasks.ner_models import TextSpans
from newsetl.tasks.pubdate import FILE_MTIME, publication_date
from newsetl.tasks.records import CleanArticle, DateMention, Enrichment
from newsetl.tasks.text import ner_form

# --- what enrichment reads besides spans -------------------------------------------------------------------


@dataclass
class ArticleReader:
    """What enrichment needs besides NER: languages with a model, language identification, dates, entity knowledge."""

    language: str  # ISO 639-1: the first configured language, assumed when a text is too short to tell
    language_identifier: LanguageIdentifier
    date_resolver: DateResolver
    languages: frozenset[str] = frozenset()  # languages with an installed model: their articles get NER
    knowledge: EntityKnowledge = field(default_factory=EntityKnowledge, repr=False)

    @classmethod
    def for_models(cls, languages: Sequence[str], warm: bool = True) -> ArticleReader:
        """The tools for models of these languages (the first is the default); `warm`: dateparser's first call now."""
        dates = DateResolver().warmed_up() if warm else DateResolver()
        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return cls(languages[0], identifier, dates, frozenset(languages), load_knowledge())


# --- an article's enrichment from its spans --------------------------------------------


def enrich_with_spans(
    article: CleanArticle,
    language: str,
    spans: Mapping[str, TextSpans],
    reader: ArticleReader,
    max_chars: int,
) -> Enrichment:
    """An article's enrichment from the entity spans of its NER texts (see ner_texts)."""
    published_at, published_at_source, precision = publication_date(article)
    enrichment = Enrichment(
        language, published_at=published_at, published_at_source=published_at_source, published_at_precision=precision
    )
    if language not in reader.languages:
        # No model of its language: no entities, and no dates, which come from NER.
        return replace(enrichment, ner_applied=False)
    names: list[Mention] = []
    texts: list[str] = []
    date_spans: list[tuple[str, int, int]] = []
    for text, offset in ner_texts(article, max_chars):
        texts.append(text)
        names += mentions_in(text, [span for span in spans[text] if span[0] in NAME_GROUPS])
        date_spans += [
            (text[start:end], offset + start, offset + end)
            for label, start, end in spans[text]
            if label == "DATE" and offset >= 0
        ]
    # Relative mentions count from the day the article states (its own calendar, not UTC's).
    base = _relative_base(article.published_at if published_at_source != FILE_MTIME else None, published_at_source)
    mentions = tuple(
        DateMention(article.body[start:end], resolved[0], start, end, resolved[1])
        for text, start, end in date_spans
        if (resolved := reader.date_resolver.resolve_mention(text, base, clause_tense(article.body, start, end)))
    )
    return _with_entities(replace(enrichment, dates_mentioned=mentions), names, reader.knowledge, "\n".join(texts))


def ner_texts(article: CleanArticle, max_chars: int) -> Iterator[tuple[str, int]]:
    """(text, body offset) per title and paragraph, as NER reads them; the title's offset is -1.

    Each paragraph is its own text, so no entity spans two; NER reads at most `max_chars` of a body.
    """
    return texts_for_ner(article.title, article.body, max_chars)


def texts_for_ner(title: str, body: str, max_chars: int) -> Iterator[tuple[str, int]]:
    """ner_texts of a title and body."""
    if title.strip():
        yield ner_form(title), -1
    budget, offset = max_chars, 0
    for paragraph in body.split("\n\n"):
        if budget <= 0:
            break
        if paragraph.strip():
            yield ner_form(paragraph[:budget]), offset
            budget -= len(paragraph)
        offset += len(paragraph) + 2


def _with_entities(
    enrichment: Enrichment, mentions: list[Mention], knowledge: EntityKnowledge, text: str
) -> Enrichment:
    """The enrichment with its entity lists filled from the article's mentions."""
    entities = canonical_entities(mentions, knowledge, text, language=enrichment.language)
    groups: dict[str, list[str]] = defaultdict(list)
    for entity in entities:
        groups[NAME_GROUPS[entity.label]].append(entity.text)
    return replace(
        enrichment,
        persons=tuple(groups["persons"]),
        organizations=tuple(groups["organizations"]),
        locations=tuple(groups["locations"]),
        other_entities=tuple(groups["other_entities"]),
        entities=entities,
    )


# --- publication day ---------------------------------------------------------------------


def _relative_base(published_at: str | None, source: str | None) -> date | None:
    """The day relative mentions count from: the publication day the article states, else none.

    A file's mtime says when the file was copied, not when "yesterday" was, so relative
    mentions stay unresolved for articles dated only by it.
    """
    if not published_at or source == FILE_MTIME:
        return None
    try:
        return date.fromisoformat(published_at[:10])
    except ValueError:
        return None


def enrichment_key(article: CleanArticle) -> bytes:
    """A digest of everything enrich_with_spans and detect_language read of an article.

    Two articles with the same key get the same enrichment: the driver takes the one a worker
    made of the article it sent, unless deduplication changed the article since.
    """
    fields = (
        article.title,
        article.body,
        article.language or "",
        article.published_at or "",
        article.published_at_source or "",
        article.source.modified or "",
    )
    return hashlib.blake2b("\x1f".join(fields).encode("utf-8", "surrogatepass"), digest_size=16).digest()
