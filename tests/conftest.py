"""Shared fixtures: the real local Elasticsearch node, per-test aliases, paths of the shared corpora."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from config.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("NEWSETL_CORPORA", REPO.parent / "shared" / "corpora"))
SAMPLES = REPO / "samples" / "articles"
# The suite's own node: another port and folder than a developer's `newsetl es start`.
TEST_ES_URL = os.environ.get("NEWSETL_TEST_ES_URL", "http://127.0.0.1:9250")
TEST_ES_HOME = os.environ.get("NEWSETL_TEST_ES_HOME", str(REPO / ".newsetl" / "test-elasticsearch"))

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def corpus(name: str) -> Path:
    """A folder of ../shared/corpora, or skip the test when the corpora are not there."""
    path = CORPORA / name
    if not path.exists():
        pytest.skip(f"shared corpus {name} not found at {path}")
    return path


@pytest.fixture(scope="session")
def es_node() -> Settings:
    """A running local Elasticsearch node (started for the session unless one answers already)."""
    from newsetl import local_es

    base = load_settings()
    settings = replace(
        base,
        es=replace(base.es, url=TEST_ES_URL, max_retries=2, retry_backoff_seconds=0.2),
        local_es=replace(base.local_es, home=TEST_ES_HOME, heap="512m"),
    )
    was_running = local_es.status(settings.es, settings.local_es).health is not None
    local_es.start(settings.es, settings.local_es)
    yield settings
    if not was_running:
        local_es.stop(settings.es, settings.local_es)


@pytest.fixture
def es_settings(es_node: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings with a fresh alias on the test node; the environment says the same for subprocesses."""
    alias = f"test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("NEWSETL_ES_URL", es_node.es.url)
    monkeypatch.setenv("NEWSETL_INDEX", alias)
    monkeypatch.setenv("NEWSETL_ES_MAX_RETRIES", str(es_node.es.max_retries))
    monkeypatch.setenv("NEWSETL_ES_RETRY_BACKOFF_SECONDS", str(es_node.es.retry_backoff_seconds))
    monkeypatch.setenv("NEWSETL_LOCAL_ES_HOME", es_node.local_es.home)
    yield replace(es_node, es=replace(es_node.es, index=alias))
    from tasks.index import connect

    client = connect(es_node.es)
    client.options(ignore_status=404).indices.delete(index=f"{alias}-*")
    client.options(ignore_status=404).indices.delete_index_template(name=alias)
    client.close()
