"""OpenDocument text (.odt): headings and paragraphs of content.xml; title, author and date from meta.xml."""

from __future__ import annotations

import io
import zipfile

from lxml import etree

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.readers.base import ExtractionResult, HtmlExtractor, Problem, RawInput
from newsetl.tasks.readers.documents import DocumentText, document_articles
from newsetl.tasks.records import BAD_DOCUMENT, ENCRYPTED, NO_TEXT

ODF = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
}
TEXT = "{" + ODF["text"] + "}"
LEFT_OUT = {TEXT + "note", TEXT + "tracked-changes"}  # footnotes and deleted text are no part of the story
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)


def odt_articles(
    raw: RawInput, settings: ExtractSettings, html_extractor: HtmlExtractor | None = None
) -> ExtractionResult | Problem:
    return document_articles(raw, odt_documents(raw.data), settings)


def odt_documents(data: bytes) -> list[DocumentText] | Problem:
    # NOTE: zip + lxml rather than odfpy: content.xml's paragraphs are all we need; odfpy builds
    # its own DOM of the whole package and has had no release since 2020.
    try:
        if data.lstrip().startswith(b"<"):  # flat XML OpenDocument (.fodt): content and meta in one file
            content = meta = etree.fromstring(data, SAFE_XML)
        else:
            with zipfile.ZipFile(io.BytesIO(data)) as package:
                names = set(package.namelist())
                if "META-INF/manifest.xml" in names and b"encryption-data" in package.read("META-INF/manifest.xml"):
                    return Problem(ENCRYPTED, "password-protected OpenDocument file")
                content = etree.fromstring(package.read("content.xml"), SAFE_XML)
                meta = etree.fromstring(package.read("meta.xml"), SAFE_XML) if "meta.xml" in names else None
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError) as error:
        return Problem(BAD_DOCUMENT, f"not a readable OpenDocument text: {type(error).__name__}: {error}"[:200])
    body = content.find(".//office:body/office:text", ODF)
    if body is None:
        return Problem(NO_TEXT, "not an OpenDocument text (no office:text)")
    paragraphs = [
        _text(element)
        for element in body.iter(TEXT + "p", TEXT + "h")
        if not any(ancestor.tag in LEFT_OUT for ancestor in element.iterancestors())
    ]
    if not any(p.strip() for p in paragraphs):
        return Problem(NO_TEXT, "the document holds no text")
    title = author = created = None
    if meta is not None:
        title = meta.findtext(".//dc:title", namespaces=ODF)
        author = meta.findtext(".//meta:initial-creator", namespaces=ODF) or meta.findtext(
            ".//dc:creator", namespaces=ODF
        )
        created = meta.findtext(".//meta:creation-date", namespaces=ODF)
    title = (title or "").strip() or None
    return [
        DocumentText(
            title=title,
            paragraphs=tuple(paragraphs),
            author=author or None,
            published_at=created,
            title_from_body=title is None,
        )
    ]


def _text(element: etree._Element) -> str:
    parts = [element.text or ""]
    for child in element:
        if child.tag == TEXT + "s":  # runs of spaces are written as <text:s text:c="n"/>
            parts.append(" " * int(child.get(TEXT + "c", "1") or 1))
        elif child.tag in (TEXT + "tab", TEXT + "line-break"):
            parts.append(" ")
        elif child.tag not in LEFT_OUT:
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)
