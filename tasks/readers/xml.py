"""XML files by their root element: NewsML-G2, NITF, RSS or Atom; any other XML is refused with its root's name."""

from __future__ import annotations

from lxml import etree

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.readers.base import ExtractionResult, HtmlExtractor, Problem, RawInput
from newsetl.tasks.readers.documents import document_articles
from newsetl.tasks.readers.feed import ROOTS as FEED_ROOTS
from newsetl.tasks.readers.feed import feed_documents
from newsetl.tasks.readers.newsml import ROOTS as NEWSML_ROOTS
from newsetl.tasks.readers.newsml import newsml_documents
from newsetl.tasks.readers.nitf import local, nitf_document
from newsetl.tasks.records import BAD_XML, UNSUPPORTED

# NOTE: no entity expansion, no network, no DTD loading: a news file cannot make us fetch or balloon.
SAFE_XML = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True
)


def xml_articles(
    raw: RawInput, settings: ExtractSettings, html_extractor: HtmlExtractor | None = None
) -> ExtractionResult | Problem:
    try:
        root = etree.fromstring(raw.data, SAFE_XML)
    except etree.XMLSyntaxError as error:
        return Problem(BAD_XML, f"not well-formed XML: {error}"[:200])
    name = local(root.tag)
    if name in FEED_ROOTS:
        return document_articles(raw, feed_documents(raw.data), settings)
    if name in NEWSML_ROOTS:
        return document_articles(raw, newsml_documents(root), settings)
    nitf = root if name == "nitf" else next((e for e in root.iter() if local(e.tag) == "nitf"), None)
    if nitf is not None:  # an NITF document, or a fragment of a NewsML-G2 item carrying one
        document = nitf_document(nitf)
        return document_articles(raw, document if isinstance(document, Problem) else [document], settings)
    return Problem(UNSUPPORTED, f"XML of another kind (root <{name}>), not NewsML-G2, NITF, RSS or Atom")
