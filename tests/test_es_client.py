"""The Elasticsearch client's serializer: orjson's speed, the standard library's bytes, surrogates kept."""

from __future__ import annotations

import datetime

import pytest
from elasticsearch.serializer import JsonSerializer

from newsetl.tasks.es.client import DocumentSerializer, connect

DOCUMENTS = [
    {"title": "Élysée: “quotes” and – dashes", "word_count": 870, "score": 1.5, "tags": ["a", None, True]},
    {"published_at": datetime.date(2024, 5, 1), "entities": [{"text": "Ada", "count": 2}]},
    {"path": "/news/caf\udce9.txt"},  # a Latin-1 file name on a UTF-8 system: a lone surrogate (tasks/output.py)
]


@pytest.mark.parametrize("document", DOCUMENTS, ids=["unicode", "date", "surrogate"])
def test_documents_are_the_bytes_the_client_default_sends_and_read_back(document):
    fast, standard = DocumentSerializer(), JsonSerializer()
    sent = fast.dumps(document)
    assert sent == standard.dumps(document)
    assert fast.loads(sent) == standard.loads(sent)


@pytest.mark.elasticsearch
def test_a_surrogate_file_name_goes_into_the_index_and_comes_back(es_settings):
    client = connect(es_settings.es)
    index = f"{es_settings.es.index}-serializer"
    try:
        client.index(index=index, id="1", document={"path": "/news/caf\udce9.txt", "title": "Café"}, refresh=True)
        assert client.get(index=index, id="1")["_source"] == {"path": "/news/caf\udce9.txt", "title": "Café"}
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
        client.close()
