"""The deployments `newsetl serve` registers, prefect.yaml in step with them, and the serve command itself."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import yaml

from newsetl.config.settings import load_settings
from newsetl.flows.deployments import build_deployments
from tests.conftest import REPO

INGEST_PARAMETERS = {"folders", "include", "exclude", "since", "force", "dry_run", "batch_size"}


@pytest.fixture
def file_settings(monkeypatch):
    """Settings from config/settings.toml alone, with the repository as working directory."""
    monkeypatch.chdir(REPO)
    return load_settings(environ={})


def by_name(settings) -> dict:
    return {deployment.name: deployment for deployment in build_deployments(settings)}


def test_nightly_runs_on_the_cron_and_timezone_of_the_settings(file_settings):
    settings = replace(
        file_settings, flow=replace(file_settings.flow, schedule_cron="15 4 * * 1-5", schedule_timezone="Europe/Berlin")
    )
    nightly = by_name(settings)["nightly"]
    assert [(s.schedule.cron, s.schedule.timezone) for s in nightly.schedules] == [("15 4 * * 1-5", "Europe/Berlin")]


def test_manual_and_rebuild_have_no_schedule_and_every_deployment_runs_one_at_a_time(file_settings):
    deployments = by_name(file_settings)
    assert list(deployments) == ["nightly", "manual", "rebuild"]
    assert deployments["manual"].schedules == [] and deployments["rebuild"].schedules == []
    assert {name: d.concurrency_limit for name, d in deployments.items()} == {"nightly": 1, "manual": 1, "rebuild": 1}


def test_ingest_deployments_offer_every_ingest_parameter_with_the_configured_folders(file_settings):
    deployments = by_name(file_settings)
    for name in ("nightly", "manual"):
        assert set(deployments[name]._parameter_openapi_schema.properties) == INGEST_PARAMETERS
        assert deployments[name].parameters == {"folders": list(file_settings.flow.folders)}
    assert set(deployments["rebuild"]._parameter_openapi_schema.properties) == {"folders", "delete_old"}


def test_prefect_yaml_declares_the_deployments_that_serve_registers(file_settings):
    declared = {d["name"]: d for d in yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]}
    served = by_name(file_settings)
    assert list(declared) == list(served)
    for name, deployment in served.items():
        assert declared[name]["entrypoint"] == deployment.entrypoint
        assert declared[name]["concurrency_limit"] == deployment.concurrency_limit
        assert declared[name].get("parameters", {}) == deployment.parameters
        assert [(s["cron"], s["timezone"]) for s in declared[name].get("schedules", [])] == [
            (s.schedule.cron, s.schedule.timezone) for s in deployment.schedules
        ]
        assert (REPO / deployment.entrypoint.split(":")[0]).exists()
        assert declared[name]["work_pool"]["job_variables"]["env"]["DO_NOT_TRACK"] == "1"


# --- newsetl serve ------------------------------------------------------------------------------


@pytest.fixture
def environment(monkeypatch) -> dict[str, str]:
    """os.environ as a copy for this test: what `newsetl serve` sets does not leak into other tests."""
    copy = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DO_NOT_TRACK", "PREFECT_SERVER_ANALYTICS_ENABLED", "PREFECT_LOGGING_EXTRA_LOGGERS"}
    }
    monkeypatch.setattr(os, "environ", copy)
    return copy


@pytest.mark.prefect
def test_serve_runs_the_three_deployments_one_run_at_a_time_with_telemetry_off(prefect_api, environment, monkeypatch):
    import prefect

    from newsetl.cli import main

    served = {}

    def serve(*deployments, **kwargs):
        # What the flow-run subprocesses of `prefect.serve` inherit is the environment at this point.
        served.update(names=[d.name for d in deployments], environ=dict(os.environ), limit=kwargs.get("limit"))

    monkeypatch.setattr(prefect, "serve", serve)
    assert main(["serve"]) == 0
    assert served["names"] == ["nightly", "manual", "rebuild"]
    assert served["limit"] == 1  # one run at a time across the deployments, not only within each
    assert served["environ"]["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert served["environ"]["DO_NOT_TRACK"] == "1"
    assert served["environ"]["PREFECT_LOGGING_EXTRA_LOGGERS"] == "newsetl"


def test_serve_without_a_prefect_api_says_so_in_one_line(environment, capsys):
    from newsetl.cli import main

    environment.pop("PREFECT_API_URL", None)
    assert main(["serve"]) == 1
    assert capsys.readouterr().err.strip() == (
        "newsetl: PREFECT_API_URL is not set: start a Prefect server (`prefect server start`) and point to its /api"
    )


def test_serve_with_an_unreachable_prefect_api_says_so_in_one_line(environment, capsys):
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    from newsetl.cli import main

    environment["PREFECT_API_URL"] = "http://127.0.0.1:9/api"
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api", PREFECT_CLIENT_MAX_RETRIES: 0}):
        assert main(["serve"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("newsetl: no Prefect API at http://127.0.0.1:9/api: ConnectError")
    assert "\n" not in error
