"""The records steps pass to each other, as they cross to the workers: pickled and back, equal."""

from __future__ import annotations

import pickle

import numpy as np

from newsetl.tasks.dedupe import BodySketch
from newsetl.tasks.records import (
    CleanArticle,
    DateMention,
    Enrichment,
    EntityCount,
    ExtractedArticle,
    FileRead,
    Quarantine,
    SourceFile,
    SourceRef,
    SourceState,
)

SOURCE = SourceRef("/news/a.html", "ab" * 32, "html", 1200, "2024-05-01T10:00:00Z", record="line 3")
FILE = SourceFile("/news/a.html", "/news", 1200, 1714557600.5, inode=42)


def test_every_record_a_worker_sends_comes_back_equal_with_every_field():
    records = [
        FILE,
        SOURCE,
        Quarantine("/news/b.json", "bad_json", "line 1"),
        ExtractedArticle(SOURCE, "Title", ("One.", "Two."), "site", url="https://x.test/a", subjects=("Politics",)),
        CleanArticle(
            "id1", "Title", "One.\n\nTwo.", SOURCE, "site", language="en", removed_paragraphs=2, text_hash="x"
        ),
        Enrichment(
            "en",
            persons=("Ada Lovelace",),
            entities=(EntityCount("Ada Lovelace", "PERSON", 2, ("Lovelace",)),),
            dates_mentioned=(DateMention("next May", "2025-05-01", 3, 11, "month"),),
            published_at="2024-05-01",
            published_at_precision="day",
        ),
        FileRead(FILE, "cd" * 32, ("site",), ("site:fp",)),
        SourceState("/news/a.html", 1200, 1714557600.5, "ab", article_ids=("id1",), groups=("site",)),
    ]
    for record in records:
        assert pickle.loads(pickle.dumps(record)) == record


def test_a_sketch_comes_back_with_its_signature():
    sketch = BodySketch(np.arange(8, dtype=np.uint32), 12, ("v1:0:ab",))
    back = pickle.loads(pickle.dumps(sketch))
    assert back.signature.dtype == np.uint32 and back.signature.tolist() == list(range(8))
    assert (back.shingles, back.band_keys) == (12, ("v1:0:ab",))
