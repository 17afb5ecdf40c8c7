"""NewsML-G2: text news items are articles (their text as NITF, XHTML or plain inline data); picture, video,
graphic, audio, package, planning, concept and catalog items are not, and say so."""

from __future__ import annotations

import dataclasses

from lxml import etree

from newsetl.tasks.readers.base import Problem
from newsetl.tasks.readers.documents import DocumentText
from newsetl.tasks.readers.nitf import XML_LANG, block_paragraphs, child, local, nitf_document, text_of
from newsetl.tasks.records import NO_TEXT

ITEMS = frozenset({"newsItem", "packageItem", "conceptItem", "knowledgeItem", "planningItem", "catalogItem"})
NOT_ARTICLES = {
    "packageItem": "a NewsML-G2 package (references to other items, no text of its own)",
    "conceptItem": "a NewsML-G2 concept item (describes a person, place or event; not an article)",
    "knowledgeItem": "a NewsML-G2 knowledge item (a set of concepts; not an article)",
    "planningItem": "a NewsML-G2 planning item (coverage plans; not an article)",
    "catalogItem": "a NewsML-G2 catalog (code lists; not an article)",
    "catalog": "a NewsML-G2 catalog (code lists; not an article)",
    "groupSet": "NewsML-G2 package groups (references to other items, no text of their own)",
    "contentMeta": "NewsML-G2 metadata without content",
    "itemMeta": "NewsML-G2 metadata without content",
}
ROOTS = ITEMS | {"newsMessage"} | set(NOT_ARTICLES)


def newsml_documents(root: etree._Element) -> list[DocumentText | Problem] | Problem:
    """The articles (or per item, why not) of a NewsML-G2 document: one item, or a news message of several."""
    name = local(root.tag)
    if name == "newsMessage":
        items = [element for element in root.iter() if local(element.tag) in ITEMS]
        if not items:
            return Problem(NO_TEXT, "a NewsML-G2 news message without items")
        results: list[DocumentText | Problem] = []
        for number, item in enumerate(items, start=1):
            record = f"item {number}"
            result = _item(item)
            if isinstance(result, Problem):
                results.append(Problem(result.reason, f"{record}: {result.detail}"))
            else:
                results.append(dataclasses.replace(result, record=record))
        return results
    if name in ITEMS:
        result = _item(root)
        return result if isinstance(result, Problem) else [result]
    if name in NOT_ARTICLES:
        return Problem(NO_TEXT, NOT_ARTICLES[name])
    return Problem(NO_TEXT, f"no NewsML-G2 item in <{name}>")


def _item(item: etree._Element) -> DocumentText | Problem:
    kind = local(item.tag)
    if kind != "newsItem":
        return Problem(NO_TEXT, NOT_ARTICLES[kind])
    item_meta, meta = child(item, "itemMeta"), child(item, "contentMeta")
    item_class = child(item_meta, "itemClass")
    qcode = item_class.get("qcode", "") if item_class is not None else ""
    nature = qcode.rsplit(":", 1)[-1].lower()
    if nature and nature != "text":
        return Problem(NO_TEXT, f"a NewsML-G2 {nature} item ({qcode}): no article text")
    language = child(meta, "language")
    known = {
        "title": text_of(child(meta, "headline")),
        "author": text_of(child(meta, "creator", "name")) or text_of(child(meta, "by")),
        "dateline": text_of(child(meta, "dateline")),
        "located": _located(meta),
        "subjects": _subjects(meta),
        # firstCreated: when the story first went out; contentCreated: when its content was made.
        "published_at": text_of(child(item_meta, "firstCreated")) or text_of(child(meta, "contentCreated")),
        "language": (language.get("tag") if language is not None else None) or item.get(XML_LANG),
    }
    for content in child(item, "contentSet") if child(item, "contentSet") is not None else ():
        document = _content(content, known)
        if document is not None:
            return document
    return Problem(NO_TEXT, "a NewsML-G2 text item without inline text (empty, or its content is remote)")


def _content(content: etree._Element, known: dict[str, object]) -> DocumentText | Problem | None:
    kind, content_type = local(content.tag), (content.get("contenttype") or "").lower()
    paragraphs: list[str] = []
    if kind == "inlineXML":
        nitf = next((e for e in content.iter() if local(e.tag) == "nitf"), None)
        if nitf is not None:
            return nitf_document(nitf, known)
        body = next((e for e in content.iter() if local(e.tag) == "body"), None)
        paragraphs = block_paragraphs(body if body is not None else content)
    elif kind == "inlineData" and content_type.startswith("text/"):
        paragraphs = [" ".join(block.split()) for block in (content.text or "").split("\n\n") if block.strip()]
    if not paragraphs:
        return None
    return DocumentText(
        title=known["title"],
        paragraphs=tuple(paragraphs),
        author=known["author"],
        published_at=known["published_at"],
        language=known["language"],
        subjects=known["subjects"],
        located=known["located"],
        dateline=known["dateline"],
    )


def _located(meta: etree._Element | None) -> str | None:
    located = child(meta, "located")
    if located is None:
        return None
    return text_of(child(located, "name")) or located.get("literal") or located.get("qcode")


def _subjects(meta: etree._Element | None) -> tuple[str, ...]:
    names = []
    for subject in meta if meta is not None else ():
        if local(subject.tag) != "subject":
            continue
        concept = child(subject, "mainConcept")
        concept = subject if concept is None else concept
        name = text_of(child(concept, "name")) or concept.get("literal") or concept.get("qcode")
        if name:
            names.append(name)
    return tuple(dict.fromkeys(names))
