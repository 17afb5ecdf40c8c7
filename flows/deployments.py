"""The deployments `newsetl serve` registers: a nightly schedule, manual runs, and rebuilds."""

from __future__ import annotations

from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from newsetl.config.settings import Settings
from newsetl.flows.ingest import ingest
from newsetl.flows.rebuild import rebuild

# At most one ingest run at a time: two runs over the same folders would race on file states.
ONE_AT_A_TIME = 1


def build_deployments(settings: Settings) -> list[RunnerDeployment]:
    """Nightly (cron from settings), manual (parameters from the UI) and rebuild deployments."""
    folders = {"folders": list(settings.flow.folders)}
    shared = {"concurrency_limit": ONE_AT_A_TIME, "tags": ["newsetl"]}
    nightly = ingest.to_deployment(
        name=settings.flow.deployment_name,
        schedules=[Cron(settings.flow.schedule_cron, timezone=settings.flow.schedule_timezone)],
        parameters=folders,
        description="Nightly ingest of the configured folders into Elasticsearch.",
        **shared,
    )
    manual = ingest.to_deployment(
        name="manual",
        parameters=folders,
        description="Run the ingest by hand: set folders, include/exclude patterns, since, force, dry run.",
        **shared,
    )
    rebuild_deployment = rebuild.to_deployment(
        name="rebuild", description="Build a new index version and switch the alias to it.", **shared
    )
    return [nightly, manual, rebuild_deployment]
