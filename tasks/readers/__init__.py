"""Format readers, one module per format: the registry from format name to reader.

A new format is one new module with a function of the Reader interface (tasks/readers/base.py),
and one line here; tasks/discover.py names the files of the format.
"""

from __future__ import annotations

from newsetl.tasks.readers.base import Reader
from newsetl.tasks.readers.doc import doc_articles
from newsetl.tasks.readers.docx import docx_articles
from newsetl.tasks.readers.eml import eml_articles
from newsetl.tasks.readers.html import html_articles
from newsetl.tasks.readers.json import json_articles
from newsetl.tasks.readers.odt import odt_articles
from newsetl.tasks.readers.pdf import pdf_articles
from newsetl.tasks.readers.rtf import rtf_articles
from newsetl.tasks.readers.text import text_articles
from newsetl.tasks.readers.warc import warc_articles
from newsetl.tasks.readers.xml import xml_articles

READERS: dict[str, Reader] = {
    "text": text_articles,
    "json": json_articles,
    "jsonl": json_articles,
    "html": html_articles,
    "warc": warc_articles,
    "pdf": pdf_articles,
    "docx": docx_articles,
    "odt": odt_articles,
    "rtf": rtf_articles,
    "doc": doc_articles,
    "eml": eml_articles,
    "xml": xml_articles,  # NewsML-G2, NITF, RSS and Atom, by root element
}


def reader_for(format: str) -> Reader | None:
    """The reader of a format name (as tasks.discover.file_format gives it), or None."""
    return READERS.get(format)
