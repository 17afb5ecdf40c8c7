"""The deployments `newsetl serve` registers: a nightly schedule, manual runs, and rebuilds."""

from __future__ import annotations

from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from config.settings import Settings
from flows.ingest import ingest
from flows.rebuild import rebuild

# At most one ingest run at a time: two runs over the same folders would race on file states.
ONE_AT_A_TIME = 1


def build_deployments(settings: Settings) -> list[RunnerDeployment]:
    """Nightly (cron from settings), manual (parameters from the UI) and rebuild deployments."""
    folders = list(settings.flow.folders)
    nightly = ingest.to_deployment(
        name=settings.flow.deployment_name,
        schedules=[Cron(settings.flow.schedule_cron, timezone=settings.flow.schedule_timezone)],
        parameters={"folders": folders},
        concurrency_limit=ONE_AT_A_TIME,
        description="Nightly ingest of the configured folders into Elasticsearch.",
        tags=["newsetl"],
    )
    manual = ingest.to_deployment(
        name="manual",
        parameters={"folders": folders},
        concurrency_limit=ONE_AT_A_TIME,
        description="Run the ingest by hand: set folders, include/exclude patterns, since, force, dry run.",
        tags=["newsetl"],
    )
    rebuild_deployment = rebuild.to_deployment(
        name="rebuild",
        concurrency_limit=ONE_AT_A_TIME,
        description="Build a new index version and switch the alias to it.",
        tags=["newsetl"],
    )
    return [nightly, manual, rebuild_deployment]
