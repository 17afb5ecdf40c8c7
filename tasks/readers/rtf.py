"""Rich Text Format (.rtf): text in its declared code page; title, author and creation time from its info group."""

from __future__ import annotations

import re

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.readers.base import ExtractionResult, HtmlExtractor, Problem, RawInput
from newsetl.tasks.readers.documents import DocumentText, document_articles
from newsetl.tasks.records import BAD_DOCUMENT, NO_TEXT

CODE_PAGE = re.compile(rb"\\ansicpg(\d+)")
INFO_FIELD = {name: re.compile(rb"\{\\" + name.encode() + rb"\s([^{}]*)\}") for name in ("title", "author")}
CREATED = re.compile(rb"\{\\creatim\\yr(\d{4})\\mo(\d{1,2})\\dy(\d{1,2})(?:\\hr(\d{1,2}))?(?:\\min(\d{1,2}))?")
MAC_CODE_PAGES = {
    10000: "mac_roman",
    10001: "shift_jis",
    10006: "mac_greek",
    10007: "mac_cyrillic",
    10029: "mac_latin2",
}


def rtf_articles(
    raw: RawInput, settings: ExtractSettings, html_extractor: HtmlExtractor | None = None
) -> ExtractionResult | Problem:
    return document_articles(raw, rtf_documents(raw.data), settings)


def rtf_documents(data: bytes) -> list[DocumentText] | Problem:
    if not data.lstrip().startswith(b"{\\rtf"):
        return Problem(BAD_DOCUMENT, "no {\\rtf header")
    match = CODE_PAGE.search(data[:4096])
    encoding = _codec(int(match.group(1)) if match else 1252)
    text = _rtf_text(data, encoding)
    paragraphs = tuple(line for line in text.split("\n") if line.strip())
    if not paragraphs:
        return Problem(NO_TEXT, "the document holds no text")
    info = {name: _info(pattern, data, encoding) for name, pattern in INFO_FIELD.items()}
    return [
        DocumentText(
            title=info["title"],
            paragraphs=paragraphs,
            author=info["author"],
            published_at=_created(data),
            title_from_body=not info["title"],
        )
    ]


def _rtf_text(data: bytes, encoding: str) -> str:
    # NOTE: striprtf (BSD) is pure Python; RTF is 7-bit, its \'xx escapes are bytes of the declared
    # code page, which striprtf decodes with the encoding given.
    from striprtf.striprtf import rtf_to_text

    return rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace")


def _codec(code_page: int) -> str:
    name = MAC_CODE_PAGES.get(code_page, f"cp{code_page}")
    try:
        "".encode(name)
    except LookupError:
        return "cp1252"
    return name


def _info(pattern: re.Pattern[bytes], data: bytes, encoding: str) -> str | None:
    match = pattern.search(data)
    if not match:
        return None
    return " ".join(_rtf_text(b"{\\rtf1 " + match.group(1) + b"}", encoding).split()) or None


def _created(data: bytes) -> str | None:
    match = CREATED.search(data)
    if not match:
        return None
    year, month, day, hour, minute = (None if part is None else int(part) for part in match.groups())
    stamp = f"{year:04d}-{month:02d}-{day:02d}"
    return stamp if hour is None else f"{stamp}T{hour:02d}:{minute or 0:02d}:00"
