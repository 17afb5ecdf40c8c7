"""E-mail messages (.eml): the plain text part, else the HTML one; Subject, From and Date give title, author, date."""

from __future__ import annotations

import email
import email.policy
import email.utils
import re

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.readers.base import ExtractionResult, HtmlExtractor, Problem, RawInput
from newsetl.tasks.readers.documents import DocumentText, document_articles
from newsetl.tasks.readers.html import html_fragment_paragraphs
from newsetl.tasks.readers.text import plain_paragraphs
from newsetl.tasks.records import NO_TEXT

HEADERS = ("From", "Subject", "Date", "Message-ID")
NOT_SHOWN = re.compile(r"<(head|style|script)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def eml_articles(
    raw: RawInput, settings: ExtractSettings, html_extractor: HtmlExtractor | None = None
) -> ExtractionResult | Problem:
    return document_articles(raw, eml_documents(raw.data), settings)


def eml_documents(data: bytes) -> list[DocumentText] | Problem:
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not any(message.get(name) for name in HEADERS):
        return Problem(NO_TEXT, "no e-mail headers (From, Subject, Date)")
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return Problem(NO_TEXT, "no text or HTML part (attachments only?)")
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):  # NOTE: an unknown or wrong charset label
        content = (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return Problem(NO_TEXT, f"the message body is {part.get_content_type()}, not text")
    if part.get_content_subtype() == "html":
        paragraphs = html_fragment_paragraphs(NOT_SHOWN.sub(" ", content))
    else:
        paragraphs = plain_paragraphs(content)
    author = None
    if message.get("From"):
        name, address = email.utils.parseaddr(str(message["From"]))
        author = name or address or None
    subject = " ".join(str(message.get("Subject") or "").split()) or None
    return [
        DocumentText(
            title=subject,
            paragraphs=tuple(paragraphs),
            author=author,
            published_at=str(message.get("Date") or "").strip() or None,
        )
    ]
