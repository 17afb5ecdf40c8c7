"""What a file holds, from its first bytes: for names that do not say (no extension, .php, .shtml, a user's own)."""

from __future__ import annotations

import re
from collections.abc import Callable

HEAD_BYTES = 4096
SIGNATURES = (
    (b"%PDF-", "pdf"),
    (b"{\\rtf", "rtf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "doc"),
    (b"WARC/", "warc"),
)
ZIP_MAGIC = b"PK\x03\x04"
LEADING_MARKUP = re.compile(rb"^(?:\s|<\?[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*", re.DOTALL | re.IGNORECASE)
HTML_START = re.compile(
    rb"^<(?:!doctype\s+html|html|head|body|meta|title|div|p|article|section|h[1-6]|table)[\s>/]", re.IGNORECASE
)
HTML_DOCTYPE = re.compile(rb"<!doctype\s+html", re.IGNORECASE)
XML_ROOT = re.compile(rb"^<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s/>]")
XML_ROOTS = frozenset(
    {
        b"newsItem",
        b"newsMessage",
        b"packageItem",
        b"conceptItem",
        b"knowledgeItem",
        b"planningItem",
        b"catalogItem",
        b"nitf",
        b"rss",
        b"RDF",
        b"feed",
    }
)
MAIL_HEADERS = re.compile(
    rb"^(?:(?:From|To|Subject|Date|Received|Return-Path|Message-ID|MIME-Version|Delivered-To|Reply-To|Cc|Content-Type)"
    rb":[^\n]*\n(?:[ \t][^\n]*\n)*){3,}",
    re.IGNORECASE,
)


def sniff_format(head: bytes, binary_kind: Callable[[bytes], str | None]) -> str | None:
    """The format of content starting with these bytes (text, html, xml, json, eml, pdf...); None for other binary."""
    for signature, name in SIGNATURES:
        if head.startswith(signature):
            return name
    if head.startswith(ZIP_MAGIC):
        if b"word/" in head:
            return "docx"
        if b"application/vnd.oasis.opendocument.text" in head:
            return "odt"
        return None
    if binary_kind(head):
        return None
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        if HTML_DOCTYPE.search(text[:512]):
            return "html"
        body = LEADING_MARKUP.sub(b"", text, count=1)
        root = XML_ROOT.match(body)
        if root and root.group(1) in XML_ROOTS:
            return "xml"
        return "html" if HTML_START.match(body) or re.search(rb"<(?:p|br|div)[\s>/]", body, re.IGNORECASE) else "xml"
    if text[:1] in (b"{", b"["):
        return "json"
    if MAIL_HEADERS.match(text.replace(b"\r\n", b"\n")):
        return "eml"
    return "text"
