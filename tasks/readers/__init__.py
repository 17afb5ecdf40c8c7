"""Format readers, one module per format: the registry from format name to reader.

A new format is one new module with a function of the Reader interface (tasks/readers/base.py),
and one line here; tasks/discover.py names the files of the format.
"""

from __future__ import annotations

from newsetl.tasks.readers.base import Reader
from newsetl.tasks.readers.html import html_articles
from newsetl.tasks.readers.json import json_articles
from newsetl.tasks.readers.text import text_articles
from newsetl.tasks.readers.warc import warc_articles

READERS: dict[str, Reader] = {
    "text": text_articles,
    "json": json_articles,
    "jsonl": json_articles,
    "html": html_articles,
    "warc": warc_articles,
}


def reader_for(format: str) -> Reader | None:
    """The reader of a format name (as tasks.discover.file_format gives it), or None."""
    return READERS.get(format)
