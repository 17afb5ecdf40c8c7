"""Scale-out on Dask: a real `dask scheduler` and two `dask worker` processes on free local ports.

The flow through them leaves the index a local run leaves; the workers did the NER (their own CPU
time and counters); a worker killed mid-run is replaced and its work rescheduled; a scheduler that
does not answer, or dies mid-run, fails the run with one line naming it, and the next run completes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import corpus, delete_indices, free_port

from newsetl.config.settings import ClusterSettings, load_settings

pytestmark = [pytest.mark.slow, pytest.mark.elasticsearch, pytest.mark.prefect]

ARTICLES = 30
BATCH_SIZE = 6
SMALL_CHUNK_CHARS = 2_000  # many small chunks: work is spread over both workers and a kill lands mid-run


@pytest.fixture(scope="module")
def articles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 generated articles of ~200 words from the shared corpora's sentences, 3 byte copies and 3 near copies."""
    from newsetl.bench import build_corpus, source_sentences

    sentences = source_sentences(corpus("scrapinghub-article-extraction-benchmark").parent)
    bench = replace(load_settings().bench, words_per_article=200, files_per_folder=10)
    root = tmp_path_factory.mktemp("scale") / "articles"
    build_corpus(root, ARTICLES, bench, sentences)
    return root


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory):
    """`newsetl cluster start --workers 2` on a free port, in a temporary home; stopped after the module."""
    from newsetl import cluster

    settings = ClusterSettings(
        home=str(tmp_path_factory.mktemp("cluster")), workers=2, scheduler_port=free_port(), connect_timeout=60.0
    )
    state = cluster.start(settings)
    yield replace(settings, address=state.address)
    cluster.stop(settings)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import newsetl.tasks.ner as ner_module

    monkeypatch.setattr(ner_module, "CHUNK_CHARS", SMALL_CHUNK_CHARS)


def documents(settings, alias: str) -> dict[str, dict]:
    """The alias's articles by id, without the one field that differs between runs."""
    from newsetl.tasks.es.client import connect

    client = connect(settings.es)
    try:
        client.indices.refresh(index=alias)
        hits = client.search(index=alias, size=1000, query={"match_all": {}})["hits"]["hits"]
    finally:
        client.close()
    return {hit["_id"]: {k: v for k, v in hit["_source"].items() if k != "ingested_at"} for hit in hits}


def ingest_into(alias: str, folder: Path, monkeypatch: pytest.MonkeyPatch, address: str = "") -> dict:
    from newsetl.flows.ingest import ingest

    monkeypatch.setenv("NEWSETL_INDEX", alias)
    monkeypatch.setenv("NEWSETL_DASK_ADDRESS", address)
    return ingest(folders=[str(folder)], batch_size=BATCH_SIZE)


@pytest.fixture(scope="module")
def local_run(es_node, prefect_api, articles):
    """The reference: the folder ingested locally (NER in this process) into an alias of its own, once."""
    alias = f"test-{uuid.uuid4().hex[:10]}"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("NEWSETL_ES_URL", es_node.es.url)
        summary = ingest_into(alias, articles, monkeypatch)
        assert summary["ner"]["executor"] == "local"
        yield documents(es_node, alias)
    delete_indices(es_node, alias)


def worker_reports(address: str) -> dict[str, dict]:
    from distributed import Client

    from newsetl.tasks.ner_worker import worker_report

    with Client(address, timeout=30, set_as_default=False) as client:
        return client.run(worker_report)


def test_a_run_on_two_dask_workers_leaves_the_index_a_local_run_leaves_and_they_did_the_ner(
    es_settings, local_run, articles, dask_cluster, small_chunks, monkeypatch
):
    before = worker_reports(dask_cluster.address)
    summary = ingest_into(es_settings.es.index, articles, monkeypatch, dask_cluster.address)
    after = worker_reports(dask_cluster.address)

    assert documents(es_settings, es_settings.es.index) == local_run
    enriched = summary["ner"].pop("articles_enriched")
    assert summary["ner"] == {"executor": "dask", "workers": 2, "address": dask_cluster.address}
    # Whole enrichments made on the workers, not only spans: also of articles cleaning changed (asked first).
    assert enriched["on_workers"] > 0 and enriched["here"] == 0
    assert len(after) == 2
    for worker, report in after.items():
        assert report["texts"] > before.get(worker, {}).get("texts", 0)
        assert report["cpu_seconds"] > before.get(worker, {}).get("cpu_seconds", 0) + 0.2


def test_workers_that_see_the_same_paths_do_all_but_deduplicate_and_index_and_leave_the_same_index(
    es_settings, local_run, articles, dask_cluster, monkeypatch
):
    import newsetl.flows.ingest as ingest_module
    import newsetl.tasks.clean as clean_module
    import newsetl.tasks.ner as ner_module
    import newsetl.tasks.reconcile as reconcile_module

    def not_here(what: str):
        def refuse(*_args, **_kwargs):
            raise AssertionError(f"the driver did {what}")

        return refuse

    # The workers (other processes: these patches do not reach them) read, extract, clean, sketch and enrich.
    monkeypatch.setattr(ingest_module, "extract_batch_task", not_here("extraction"))
    monkeypatch.setattr(clean_module, "story_evidence", not_here("the learning pass's reading of articles"))
    monkeypatch.setattr(clean_module, "clean_batch", not_here("cleaning"))
    monkeypatch.setattr(reconcile_module, "sketch_body", not_here("near-duplicate sketches"))
    monkeypatch.setattr(ner_module, "enrich_with_spans", not_here("entity and date clean-up"))
    monkeypatch.setenv("NEWSETL_CLUSTER_SHARED_PATHS", "true")
    summary = ingest_into(es_settings.es.index, articles, monkeypatch, dask_cluster.address)
    assert summary["written"] + summary["duplicates"] == ARTICLES
    assert documents(es_settings, es_settings.es.index) == local_run


def test_a_worker_killed_mid_run_is_replaced_and_the_run_leaves_the_same_index(
    es_settings, local_run, articles, dask_cluster, small_chunks, monkeypatch
):
    killed: list[int] = []
    done = threading.Event()

    def kill_a_busy_worker() -> None:
        start = {report["pid"]: report["texts"] for report in worker_reports(dask_cluster.address).values()}
        while not done.is_set() and not killed:
            for report in worker_reports(dask_cluster.address).values():
                if report["texts"] > start.get(report["pid"], 0):  # it has taken this run's chunks
                    os.kill(report["pid"], signal.SIGKILL)
                    killed.append(report["pid"])
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    killer.start()
    try:
        summary = ingest_into(es_settings.es.index, articles, monkeypatch, dask_cluster.address)
    finally:
        done.set()
        killer.join(timeout=30)

    assert killed, "no worker was killed while the run was going"
    assert documents(es_settings, es_settings.es.index) == local_run
    assert summary["written"] + summary["duplicates"] == ARTICLES
    from distributed import Client

    with Client(dask_cluster.address, timeout=30, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=120)  # the nanny starts a new worker process
    assert killed[0] not in {report["pid"] for report in worker_reports(dask_cluster.address).values()}


def test_a_cluster_left_without_workers_fails_the_run_with_one_line(
    es_settings, articles, small_chunks, monkeypatch, tmp_path
):
    """Its own scheduler and one worker without a nanny (nothing restarts it), killed once it took work."""
    from newsetl.tasks.errors import NewsetlError

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    python = [sys.executable, "-m", "dask"]
    scheduler = subprocess.Popen([*python, "scheduler", "--port", str(port), "--no-dashboard"], cwd=tmp_path)
    worker = subprocess.Popen(
        [*python, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"], cwd=tmp_path
    )
    try:
        from distributed import Client

        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=120)

        def kill_the_worker_once_it_took_work() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if any(report["texts"] for report in worker_reports(address).values()):
                    worker.kill()
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_the_worker_once_it_took_work, daemon=True)
        killer.start()
        monkeypatch.setenv("NEWSETL_CLUSTER_CONNECT_TIMEOUT", "3")
        started = time.monotonic()
        with pytest.raises(NewsetlError, match=f"Dask scheduler at {address}: no worker left for 3 s"):
            ingest_into(es_settings.es.index, articles, monkeypatch, address)
        killer.join(timeout=30)
        assert worker.poll() is not None and time.monotonic() - started < 90
    finally:
        for process in (worker, scheduler):
            process.kill()
            process.wait(timeout=30)


def test_cluster_start_again_is_a_no_op(dask_cluster):
    from newsetl import cluster

    running = cluster.status(dask_cluster)
    assert running.workers == 2 and running.address == dask_cluster.address
    assert cluster.start(dask_cluster) == running


def test_a_scheduler_lost_mid_run_or_unreachable_fails_the_run_with_one_line_and_the_next_run_completes_the_work(
    es_settings, local_run, articles, dask_cluster, small_chunks, monkeypatch, capsys
):
    """Last in the module: it kills the module's scheduler, then starts the cluster again on the same port."""
    from newsetl import cluster
    from newsetl.cli import main
    from newsetl.flows.ingest import ingest
    from newsetl.tasks.errors import NewsetlError

    address = dask_cluster.address
    scheduler_pid = cluster.status(dask_cluster).scheduler_pid
    start = {report["pid"]: report["texts"] for report in worker_reports(address).values()}

    def kill_the_scheduler_once_work_started() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(report["texts"] > start.get(report["pid"], 0) for report in worker_reports(address).values()):
                os.kill(scheduler_pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_scheduler_once_work_started, daemon=True)
    killer.start()
    with pytest.raises(NewsetlError, match=f"Dask scheduler at {address} lost mid-run"):
        ingest_into(es_settings.es.index, articles, monkeypatch, address)
    killer.join(timeout=30)

    # Unreachable at start: the Prefect run fails, and the command says why in one line.
    monkeypatch.setenv("NEWSETL_CLUSTER_CONNECT_TIMEOUT", "2")
    state = ingest(folders=[str(articles)], batch_size=BATCH_SIZE, return_state=True)
    assert state.is_failed() and f"Dask scheduler at {address} unreachable" in state.message
    capsys.readouterr()
    assert main(["run", str(articles)]) == 1
    error = capsys.readouterr().err
    assert error.strip().splitlines()[-1].startswith(f"newsetl: Dask scheduler at {address} unreachable")
    assert "Traceback" not in error

    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    cluster.stop(dask_cluster)  # what is left of it (its workers exit once their scheduler is lost); nothing else
    assert not cluster.status(dask_cluster).running and bystander.poll() is None
    bystander.kill()
    assert cluster.start(dask_cluster).address == address
    monkeypatch.setenv("NEWSETL_CLUSTER_CONNECT_TIMEOUT", "60")
    summary = ingest_into(es_settings.es.index, articles, monkeypatch, address)
    assert summary["ner"]["executor"] == "dask"
    assert summary["written"] + summary["duplicates"] + summary["unchanged"] == ARTICLES
    assert documents(es_settings, es_settings.es.index) == local_run
