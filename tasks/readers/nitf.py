"""NITF documents (News Industry Text Format), alone or carried inside NewsML-G2."""

from __future__ import annotations

import re

from lxml import etree

from newsetl.tasks.readers.base import Problem
from newsetl.tasks.readers.documents import DocumentText
from newsetl.tasks.records import NO_TEXT
from newsetl.tasks.text import author_name

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
BLOCKS = frozenset({"p", "hl1", "hl2", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "block"})
ISO_BASIC = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?)?(Z|[+-]\d{4})?$")


def local(tag: object) -> str:
    """An element's name without its namespace ("" for comments and processing instructions)."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def child(element: etree._Element | None, *path: str) -> etree._Element | None:
    """The first child of each name in turn, whatever its namespace."""
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if local(c.tag) == name), None)
    return element


def text_of(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    return " ".join("".join(element.itertext()).split()) or None


def block_paragraphs(element: etree._Element | None) -> list[str]:
    """The text of each outermost paragraph-like element (p, hl2, li...), or the whole text when there is none."""
    if element is None:
        return []
    blocks = [
        e
        for e in element.iter()
        if local(e.tag) in BLOCKS and not any(local(a.tag) in BLOCKS for a in e.iterancestors())
    ]
    if not blocks:
        whole = text_of(element)
        return [whole] if whole else []
    return [text for text in (text_of(block) for block in blocks) if text]


def nitf_document(nitf: etree._Element, known: dict[str, object] | None = None) -> DocumentText | Problem:
    """The article of an <nitf> element; `known` holds what an enclosing NewsML-G2 item already says."""
    known = known or {}
    head, body = child(nitf, "head"), child(nitf, "body")
    body_head = child(body, "body.head")
    paragraphs = block_paragraphs(child(body, "body.content"))
    if not paragraphs:
        return Problem(NO_TEXT, "an NITF document without body.content text")
    abstract = block_paragraphs(child(body_head, "abstract"))
    if abstract and abstract[0] not in paragraphs:
        paragraphs = abstract + paragraphs
    date_issue = child(head, "docdata", "date.issue")
    dateline = child(body_head, "dateline")
    head_elements = list(head.iter()) if head is not None else []
    subjects = [e.get("key") for e in head_elements if local(e.tag) == "keyword"]
    subjects += [
        e.get("tobject.subject.matter") or e.get("tobject.subject.type")
        for e in head_elements
        if local(e.tag) == "tobject.subject"
    ]
    return DocumentText(
        title=known.get("title") or text_of(child(body_head, "hedline", "hl1")) or text_of(child(head, "title")),
        paragraphs=tuple(paragraphs),
        author=known.get("author") or _byline(child(body_head, "byline")),
        published_at=known.get("published_at")
        or iso_extended(date_issue.get("norm") if date_issue is not None else None),
        language=known.get("language") or nitf.get(XML_LANG),
        subjects=tuple(known.get("subjects") or dict.fromkeys(s for s in subjects if s)),
        located=known.get("located") or text_of(child(dateline, "location")),
        dateline=known.get("dateline") or text_of(dateline),
    )


def _byline(byline: etree._Element | None) -> str | None:
    # "By Meredith Jameson, <byttl>Staff Reporter</byttl>": the name, not the job title.
    if byline is None:
        return None
    person = child(byline, "person")
    name = text_of(person) if person is not None else " ".join((byline.text or "").split()).strip(" ,;")
    return author_name(name or text_of(byline))


def iso_extended(value: str | None) -> str | None:
    """NITF's ISO 8601 basic form ("20230105T101500Z", "20230105T101500+0100") in the extended form."""
    if not value:
        return None
    match = ISO_BASIC.match(value.strip())
    if not match:
        return value.strip()
    year, month, day, hour, minute, second, zone = match.groups()
    if hour is None:
        return f"{year}-{month}-{day}"
    stamp = f"{year}-{month}-{day}T{hour}:{minute}:{second or '00'}"
    if zone and zone != "Z":
        zone = f"{zone[:3]}:{zone[3:]}"
    return stamp + (zone or "")
