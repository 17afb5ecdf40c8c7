"""Word documents (.docx): paragraphs and tables in order; title, author and creation date from the core properties."""

from __future__ import annotations

import io
import zipfile

from lxml import etree

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.readers.base import ExtractionResult, HtmlExtractor, Problem, RawInput
from newsetl.tasks.readers.documents import DocumentText, document_articles
from newsetl.tasks.records import BAD_DOCUMENT, ENCRYPTED, NO_TEXT

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a password-protected .docx is an OLE file holding the encrypted zip


def docx_articles(
    raw: RawInput, settings: ExtractSettings, html_extractor: HtmlExtractor | None = None
) -> ExtractionResult | Problem:
    return document_articles(raw, docx_documents(raw.data), settings)


def docx_documents(data: bytes) -> list[DocumentText] | Problem:
    # NOTE: python-docx (MIT) reads the body in document order, tables included, and the core
    # properties; headers and footers are parts of their own and stay out of the text.
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    if data.startswith(OLE_MAGIC):
        return Problem(ENCRYPTED, "password-protected Word document")
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, etree.XMLSyntaxError) as error:
        return Problem(BAD_DOCUMENT, f"not a readable DOCX: {type(error).__name__}: {error}"[:200])
    paragraphs: list[str] = []
    styled_title = None
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            paragraphs.extend(p.text for row in block.rows for cell in row.cells for p in cell.paragraphs)
        elif styled_title is None and not paragraphs and block._p.style == "Title":  # the raw style id
            styled_title = block.text
        else:
            paragraphs.append(block.text)
    if not any(p.strip() for p in paragraphs):
        return Problem(NO_TEXT, "the document holds no text")
    properties = document.core_properties
    title = (properties.title or styled_title or "").strip() or None
    return [
        DocumentText(
            title=title,
            paragraphs=tuple(paragraphs),
            author=properties.author or None,
            published_at=properties.created.isoformat() if properties.created else None,
            title_from_body=title is None,
        )
    ]
