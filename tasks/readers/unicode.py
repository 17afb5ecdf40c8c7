"""Valid Unicode where text enters the pipeline: every reader's articles pass through here, once."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from newsetl.tasks.records import INVALID_UNICODE, ExtractedArticle, Quarantine

# Not text: C0 controls but tab and line breaks, DEL and C1 controls, the non-characters
# (U+FDD0..U+FDEF and the last two code points of every plane).
_NON_CHARACTERS = "\ufdd0-\ufdef\ufffe\uffff" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17)
)
NOT_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_NON_CHARACTERS}]")
# Half of a UTF-16 surrogate pair on its own: JSON's "\udc00" escapes give these. They cannot be
# encoded (UTF-8, Elasticsearch, hashing), so one of them used to stop every run.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_SURROGATE_SHARE = 0.005  # more than this share of a record's characters: garbage, not a slip (as in decoding)


def valid_unicode(text: str) -> tuple[str, int]:
    """(the text as valid Unicode, how many lone surrogates became U+FFFD): NUL removed, controls made spaces."""
    if text.isascii() and text.isprintable():
        return text, 0
    cleaned, surrogates = LONE_SURROGATE.subn("\ufffd", text)
    return NOT_TEXT.sub(lambda match: "" if match.group() == "\x00" else " ", cleaned), surrogates


def valid_unicode_result(result: Any, path: str) -> Any:
    """An extraction result whose articles and problem details are valid Unicode.

    An article with more lone surrogates than a slip becomes a problem of its record (invalid_unicode).
    """
    articles: list[ExtractedArticle] = []
    problems = [dataclasses.replace(p, detail=valid_unicode(p.detail)[0]) for p in result.problems]
    for article in result.articles:
        cleaned, surrogates, characters = _valid_article(article)
        if surrogates > MAX_SURROGATE_SHARE * max(characters, 1):
            detail = f'{surrogates} lone surrogates (e.g. JSON "\\udc00") in {characters} characters'
            record = article.source.record
            problems.append(Quarantine(path, INVALID_UNICODE, f"{record}: {detail}" if record else detail))
        else:
            articles.append(cleaned)
    return dataclasses.replace(result, articles=tuple(articles), problems=tuple(problems))


def _valid_article(article: ExtractedArticle) -> tuple[ExtractedArticle, int, int]:
    changes: dict[str, Any] = {}
    surrogates = characters = 0
    for field in dataclasses.fields(article):
        value = getattr(article, field.name)
        if isinstance(value, str):
            cleaned, count = valid_unicode(value)
        elif isinstance(value, tuple) and all(isinstance(item, str) for item in value):
            pairs = [valid_unicode(item) for item in value]
            cleaned, count = tuple(text for text, _ in pairs), sum(n for _, n in pairs)
        else:
            continue
        characters += sum(map(len, value)) if isinstance(value, tuple) else len(value)
        surrogates += count
        if cleaned != value:
            changes[field.name] = cleaned
    return (dataclasses.replace(article, **changes) if changes else article), surrogates, characters
