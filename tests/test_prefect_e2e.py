"""`newsetl serve` end to end: a real Prefect server, its UI in headless Chromium, the local Elasticsearch."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from newsetl.config.settings import Settings, load_settings
from newsetl.flows.report import SUMMARY_ARTIFACT_KEY
from tests.conftest import REPO, SAMPLES, free_port

pytestmark = [pytest.mark.prefect, pytest.mark.elasticsearch, pytest.mark.slow]

CHROMIUM = Path(os.environ.get("NEWSETL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOT = REPO / "test-artifacts" / "prefect-completed-run.png"
FAILURE_SCREENSHOT = REPO / "test-artifacts" / "prefect-ui-at-failure.png"
# Not the defaults, so the test shows the schedule comes from settings.
NIGHTLY_CRON = "17 3 * * 1-5"
NIGHTLY_TIMEZONE = "Europe/Berlin"
RUN_TIMEOUT = 150.0


# --- helpers ------------------------------------------------------------------------------------


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll until check() returns something truthy; fail with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@contextmanager
def serving(api_url: str, es_url: str, alias: str, home: Path, **extra_env: str) -> Iterator[dict[str, Any]]:
    """`newsetl serve` as a user runs it, until its deployments are registered; stopped on exit."""
    env = {k: v for k, v in os.environ.items() if k not in {"DO_NOT_TRACK", "PREFECT_SERVER_ANALYTICS_ENABLED"}}
    env.update(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(home / "prefect-client"),
        PREFECT_RUNNER_POLL_FREQUENCY="1",  # pick up new runs within a second, not ten
        NEWSETL_ES_URL=es_url,
        NEWSETL_INDEX=alias,
        NEWSETL_FLOW_SCHEDULE_CRON=NIGHTLY_CRON,
        NEWSETL_FLOW_SCHEDULE_TIMEZONE=NIGHTLY_TIMEZONE,
        **extra_env,
    )
    log_path = home / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "newsetl.cli", "serve"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:

        def served() -> bool:
            if process.poll() is not None:
                pytest.fail(f"newsetl serve exited with {process.returncode}: {log_path.read_text()[-2000:]}")
            return "being served" in log_path.read_text()

        wait_for(served, 90, "newsetl serve to register its deployments")
        with prefect_client() as client:
            deployments = {d.name: d for d in client.read_deployments() if d.name in {"nightly", "manual", "rebuild"}}
        yield {"deployments": deployments, "log": log_path, "process": process}
    finally:
        # The whole group: a flow run still going is a child process of the serve.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def prefect_client():
    # NOTE: Playwright's sync API runs an event loop in this thread: only the sync client works here.
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def wait_for_final_state(run_id: UUID, timeout: float = RUN_TIMEOUT):
    def final():
        with prefect_client() as client:
            run = client.read_flow_run(run_id)
        return run if run.state and run.state.is_final() else None

    return wait_for(final, timeout, f"flow run {run_id} to finish")


def run_artifacts(run_id: UUID) -> list:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with prefect_client() as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))


def progress_of(run_id: UUID) -> float | None:
    values = [float(a.data) for a in run_artifacts(run_id) if a.type == "progress"]
    return values[0] if values else None


def run_logs(run_id: UUID) -> list:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with prefect_client() as client:
        return client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))


def source_paths_in_index(settings: Settings) -> set[str]:
    """Every file path named in the `sources` of the alias's articles."""
    from newsetl.tasks.es.client import connect

    client = connect(settings.es)
    try:
        client.indices.refresh(index=settings.es.index)
        hits = client.search(index=settings.es.index, size=1000, query={"match_all": {}}, source=["sources.path"])
        return {source["path"] for hit in hits["hits"]["hits"] for source in hit["_source"]["sources"]}
    finally:
        client.close()


def files_under(folder: Path) -> set[str]:
    return {str(path) for path in folder.rglob("*") if path.is_file()}


@pytest.fixture
def browser_available() -> None:
    pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency: make setup installs it")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set NEWSETL_CHROMIUM)")


# --- a custom run from the UI -------------------------------------------------------------------


@contextmanager
def browser_page(playwright) -> Iterator[Any]:
    """A page in headless Chromium; on a failure, a screenshot of where it stood goes to test-artifacts/."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)  # a loaded 2-core machine renders the UI slowly
    try:
        yield page
    except BaseException:
        FAILURE_SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(FAILURE_SCREENSHOT))
        raise
    finally:
        browser.close()


def start_custom_run(page, ui_url: str, deployment_id: UUID, default_folder: str, folder: Path) -> None:
    """Deployment page, Run, Custom run: the first item of `folders` replaced by folder, then Submit."""
    from playwright.sync_api import expect

    page.goto(f"{ui_url}/deployments/deployment/{deployment_id}")
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Custom run", exact=True).click()
    folders = page.locator("textarea").first  # the form's first field is the `folders` list
    expect(folders).to_have_value(default_folder)
    folders.fill(str(folder))
    expect(folders).to_have_value(str(folder))
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r"/deployments/deployment/[^/?]+(\?.*)?$"))  # back on the deployment


def screenshot_run(page, ui_url: str, run_id: UUID) -> None:
    """The flow run page with its artifacts tab open, saved as the test's artifact."""
    page.goto(f"{ui_url}/runs/flow-run/{run_id}")
    page.get_by_text("Completed", exact=True).first.wait_for()
    page.get_by_text("Artifacts", exact=True).click()  # NOTE: the UI's tabs are <li>s without a role
    page.get_by_text("newsetl run summary", exact=True).wait_for()  # the summary artifact's card
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))


def flow_run_ids(deployment_id: UUID) -> set[UUID]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with prefect_client() as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
    return {run.id for run in runs}


@pytest.mark.browser
def test_custom_run_from_the_ui_completes_and_its_articles_are_searchable(
    browser_available, es_settings, prefect_api, tmp_path
):
    from playwright.sync_api import sync_playwright

    from newsetl.tasks.es.client import connect
    from newsetl.tasks.search import SearchRequest, search_articles

    articles = tmp_path / "articles"
    shutil.copytree(SAMPLES, articles)
    ui_url = prefect_api.removesuffix("/api")
    with serving(prefect_api, es_settings.es.url, es_settings.es.index, tmp_path) as served:
        manual = served["deployments"]["manual"]
        earlier = flow_run_ids(manual.id)
        with sync_playwright() as playwright, browser_page(playwright) as page:
            start_custom_run(page, ui_url, manual.id, es_settings.flow.folders[0], articles)
            new_runs = wait_for(lambda: flow_run_ids(manual.id) - earlier, 30, "the run submitted in the UI")
            assert len(new_runs) == 1
            run = wait_for_final_state(new_runs.pop())
            assert run.parameters["folders"] == [str(articles)]
            assert run.state.is_completed(), (
                f"{run.state.type}: {run.state.message}\n{served['log'].read_text()[-3000:]}"
            )
            screenshot_run(page, ui_url, run.id)

    assert source_paths_in_index(es_settings) == files_under(articles)
    client = connect(es_settings.es)
    found = search_articles(client, es_settings.es, SearchRequest(query="bridge"))
    client.close()
    assert str(articles / "regional" / "harbour-bridge-reopens.txt") in [
        path for hit in found.hits for path in hit.sources
    ]

    artifacts = run_artifacts(run.id)
    summaries = [a for a in artifacts if a.key == SUMMARY_ARTIFACT_KEY]
    assert len(summaries) == 1
    assert (
        f"| files_seen | {len(files_under(articles))} |" in summaries[0].data and "| failed | 0 |" in summaries[0].data
    )
    assert "| stage | seconds |" in summaries[0].data
    assert progress_of(run.id) == 100.0

    messages = [log.message for log in run_logs(run.id)]
    assert any(message.startswith("files_seen=") for message in messages)
    # Nothing went wrong, so no log line names an input file.
    assert not [m for m in messages if str(articles) in m]
    assert SCREENSHOT.stat().st_size > 10_000


# --- Elasticsearch stops mid-run ----------------------------------------------------------------


def free_node_port() -> int:
    """A free HTTP port whose transport port (+100) is free too."""
    from newsetl.local_es import port_in_use

    while True:
        port = free_port()
        if port < 65000 and not port_in_use("127.0.0.1", port + 100):
            return port


@pytest.fixture
def own_node(tmp_path) -> Iterator[Settings]:
    """A local node of this test's own (home under tmp_path): stopping it leaves the session node alone."""
    from newsetl import local_es

    base = load_settings()
    settings = replace(
        base,
        es=replace(
            base.es,
            url=f"http://127.0.0.1:{free_node_port()}",
            index="failing",
            max_retries=1,
            retry_backoff_seconds=0.2,
        ),
        local_es=replace(base.local_es, home=str(tmp_path / "elasticsearch"), heap="512m"),
    )
    local_es.start(settings.es, settings.local_es)
    try:
        yield settings
    finally:
        local_es.stop(settings.es, settings.local_es)


def test_run_failing_when_elasticsearch_stops_shows_failed_and_the_next_run_completes(own_node, prefect_api, tmp_path):
    from newsetl import local_es

    folder = tmp_path / "articles"
    for copy in range(3):  # enough one-file batches that the node stops while the run is busy
        shutil.copytree(SAMPLES, folder / f"copy{copy}")
    parameters = {"folders": [str(folder)], "batch_size": 1}
    retries = {"NEWSETL_ES_MAX_RETRIES": "1", "NEWSETL_ES_RETRY_BACKOFF_SECONDS": "0.2"}
    with serving(prefect_api, own_node.es.url, own_node.es.index, tmp_path, **retries) as served:
        manual = served["deployments"]["manual"]
        with prefect_client() as client:
            first = client.create_flow_run_from_deployment(manual.id, parameters=parameters)
        wait_for(lambda: (progress_of(first.id) or 0) > 0, RUN_TIMEOUT, "the first batch to be indexed", interval=0.2)
        local_es.stop(own_node.es, own_node.local_es)
        failed = wait_for_final_state(first.id)
        assert failed.state.is_failed(), f"{failed.state.type}: {failed.state.message}"
        assert f"Elasticsearch at {own_node.es.url} unavailable" in failed.state.message
        assert "Traceback" not in failed.state.message
        assert 0 < progress_of(first.id) < 100
        # newsetl's own retry warning reaches the run's logs (serve forwards the `newsetl` loggers).
        # Logs reach the API in the background: wait for the retry warning rather than read once.
        logs = wait_for(
            lambda: (
                (found := run_logs(first.id))
                and any(log.name == "newsetl.index" and "retry" in log.message for log in found)
                and found
            ),
            30,
            "the retry warning in the run's logs",
        )
        assert not [log.message for log in logs if str(folder) in log.message]  # a down node is no file's fault

        local_es.start(own_node.es, own_node.local_es)  # same home: the first run's writes are still there
        with prefect_client() as client:
            second = client.create_flow_run_from_deployment(manual.id, parameters={"folders": [str(folder)]})
        completed = wait_for_final_state(second.id)
        assert completed.state.is_completed(), f"{completed.state.type}: {completed.state.message}"
    assert source_paths_in_index(own_node) == files_under(folder)
    summary = next(a.data for a in run_artifacts(second.id) if a.key == SUMMARY_ARTIFACT_KEY)
    assert f"| files_seen | {len(files_under(folder))} |" in summary and "| failed | 0 |" in summary


# --- the deployments through the Prefect API ----------------------------------------------------
# Last in the file: the serves above paused the schedule when they stopped; a new serve resumes it.


def test_served_deployments_have_the_configured_cron_and_one_run_at_a_time(es_settings, prefect_api, tmp_path):
    with serving(prefect_api, es_settings.es.url, es_settings.es.index, tmp_path) as served:
        deployments = served["deployments"]
    assert set(deployments) == {"nightly", "manual", "rebuild"}
    nightly = deployments["nightly"]
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in nightly.schedules] == [
        (NIGHTLY_CRON, NIGHTLY_TIMEZONE, True)
    ]
    assert deployments["manual"].schedules == [] and deployments["rebuild"].schedules == []
    assert all(d.global_concurrency_limit.limit == 1 for d in deployments.values())
    assert nightly.parameters == {"folders": list(es_settings.flow.folders)}
    assert set(deployments["manual"].parameter_openapi_schema["properties"]) == {
        "folders", "include", "exclude", "since", "force", "dry_run", "batch_size",
    }  # fmt: skip
