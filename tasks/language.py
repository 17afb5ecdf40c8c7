"""Language of an article: py3langid on its text, else the language its input declared, else the model's."""

from __future__ import annotations

from typing import Protocol

from py3langid.langid import LanguageIdentifier

from newsetl.tasks.records import CleanArticle

LANGUAGE_SAMPLE_CHARS = 1200  # enough for py3langid; its cost grows with the text
MIN_LANGUAGE_CONFIDENCE = 0.5  # py3langid's normalised probability


class LanguageTools(Protocol):
    """What language detection needs of the NER model holder: the identifier and the model's language."""

    language: str
    language_identifier: LanguageIdentifier


def detect_language(article: CleanArticle, model: LanguageTools) -> str:
    """ISO 639-1 language of the article's text.

    When py3langid is unsure (short or empty text), the language the input declared, else the model's.
    """
    sample = f"{article.title}\n{article.body[:LANGUAGE_SAMPLE_CHARS]}"
    language, confidence = model.language_identifier.classify(sample)
    if confidence >= MIN_LANGUAGE_CONFIDENCE:
        return language
    declared = (article.language or "").replace("_", "-").split("-")[0].lower()
    return declared or model.language
