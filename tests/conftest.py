"""Shared fixtures: the real local Elasticsearch node, per-test aliases, paths of the shared corpora."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from newsetl.config.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("NEWSETL_CORPORA", REPO.parent / "shared" / "corpora"))
SAMPLES = REPO / "samples" / "articles"
# The suite's own node: another port and folder than a developer's `newsetl es start`. The port
# is free when the session starts, so two checkouts' suites running at once never share a node.
TEST_ES_URL = os.environ.get("NEWSETL_TEST_ES_URL", "")
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
    """The suite's own local Elasticsearch node, started for the session and stopped after it."""
    from newsetl import local_es

    base = load_settings()
    url = TEST_ES_URL or f"http://127.0.0.1:{free_port(also_free=100)}"
    settings = replace(
        base,
        es=replace(base.es, url=url, max_retries=2, retry_backoff_seconds=0.2),
        local_es=replace(base.local_es, home=TEST_ES_HOME, heap="512m"),
    )
    local_es.stop(settings.es, settings.local_es)  # a node an interrupted session left behind holds the data folder
    local_es.start(settings.es, settings.local_es)
    yield settings
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
    delete_indices(es_node, alias)
    from newsetl.tasks.es.client import connect

    client = connect(es_node.es)
    client.options(ignore_status=404).indices.delete_index_template(name=alias)
    client.close()


def delete_indices(settings: Settings, alias: str) -> None:
    """Delete every index of an alias (wildcard deletes are refused by default since 8.0)."""
    from newsetl.tasks.es.client import connect

    client = connect(settings.es)
    names = list(client.indices.get(index=f"{alias}-*", allow_no_indices=True, expand_wildcards="all").body)
    if names:
        client.indices.delete(index=",".join(names))
    client.close()


def free_port(also_free: int = 0) -> int:
    """A free port on 127.0.0.1; with also_free=N, port + N is free too (the node's transport port)."""
    import socket

    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not also_free:
            return port
        if port + also_free <= 65535:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port + also_free)) != 0:
                    return port


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real `prefect server start` (SQLite in a temporary PREFECT_HOME, UI included) for the session."""
    import subprocess
    import sys
    import time
    import urllib.request

    from prefect.settings import PREFECT_API_URL, temporary_settings

    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_UI_API_URL=url,
    )
    log = open(home / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(
                    f"prefect server did not start: {(home / 'server.log').read_text()[-2000:]}"
                ) from None
            time.sleep(0.5)
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield url
        from prefect.logging.handlers import APILogHandler

        APILogHandler().flush()  # send what is queued while the server still listens
    if previous is None:
        os.environ.pop("PREFECT_API_URL", None)
    else:
        os.environ["PREFECT_API_URL"] = previous
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()
