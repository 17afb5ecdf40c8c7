"""A new index version, filled and swapped in behind the alias without a gap."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import SAMPLES

pytestmark = [pytest.mark.elasticsearch, pytest.mark.prefect]


def documents(client, index: str) -> dict[str, dict]:
    client.indices.refresh(index=index)
    hits = client.search(index=index, size=1000, query={"match_all": {}})["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


@pytest.fixture
def ingested(es_settings, prefect_api, tmp_path):
    """The samples ingested into v1: (folder, client, documents)."""
    from newsetl.flows.ingest import ingest
    from newsetl.tasks.es.client import connect

    folder = tmp_path / "articles"
    shutil.copytree(SAMPLES, folder)
    ingest(folders=[str(folder)])
    client = connect(es_settings.es)
    yield folder, client, documents(client, es_settings.es.index)
    client.close()


def test_rebuild_by_copying_moves_the_alias_to_an_equal_next_version(es_settings, ingested):
    from newsetl.flows.ingest import ingest
    from newsetl.flows.rebuild import rebuild
    from newsetl.tasks.es.admin import alias_target

    folder, client, before = ingested
    result = rebuild()
    alias = es_settings.es.index
    assert result["old_index"] == f"{alias}-v1" and result["new_index"] == f"{alias}-v2"
    assert alias_target(client, es_settings.es) == f"{alias}-v2"
    assert documents(client, alias) == before
    assert client.indices.exists(index=f"{alias}-v1")  # kept unless delete_old
    # The next run works against the new version: nothing changed, nothing written.
    assert ingest(folders=[str(folder)])["written"] == 0


def test_rebuild_from_the_files_with_delete_old(es_settings, ingested):
    from newsetl.flows.rebuild import rebuild

    folder, client, before = ingested
    result = rebuild(folders=[str(folder)], delete_old=True)
    after = documents(client, es_settings.es.index)
    assert result["new_index"].endswith("-v2") and not client.indices.exists(index=result["old_index"])

    def without_ingest_time(document: dict) -> dict:
        return {key: value for key, value in document.items() if key != "ingested_at"}

    assert {i: without_ingest_time(d) for i, d in after.items()} == {
        i: without_ingest_time(d) for i, d in before.items()
    }
