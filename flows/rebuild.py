"""The rebuild flow: a new index version, filled, then the alias switched to it with no downtime."""

from __future__ import annotations

import time

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from newsetl.config.settings import ElasticsearchSettings, load_settings
from newsetl.flows.ingest import resolve_roots, run_pipeline, summary_dict
from newsetl.tasks.es.admin import copy_documents, create_next_version, switch_alias
from newsetl.tasks.es.client import connect
from newsetl.tasks.es.store import ElasticsearchStore


@task(name="create-version", cache_policy=NONE)
def create_version_task(es: ElasticsearchSettings) -> tuple[str | None, str]:
    """A new empty index of the next version, from the current template."""
    client = connect(es)
    try:
        return create_next_version(client, es)
    finally:
        client.close()


@task(name="copy-documents", cache_policy=NONE)
def copy_documents_task(es: ElasticsearchSettings, source: str, target: str) -> int:
    """Copy the articles of the current version into the new one, client-side."""
    client = connect(es)
    try:
        return copy_documents(client, es, source, target)
    finally:
        client.close()


@task(name="switch-alias", cache_policy=NONE)
def switch_alias_task(es: ElasticsearchSettings, old: str | None, new: str, delete_old: bool) -> None:
    """Move the alias atomically; optionally drop the old version."""
    client = connect(es)
    try:
        switch_alias(client, es, old, new)
        if delete_old and old:
            client.indices.delete(index=old)
    finally:
        client.close()


@flow(name="rebuild")
def rebuild(folders: list[str] | None = None, delete_old: bool = False) -> dict:
    """Build the next index version (from the source folders, or by copying documents) and switch the alias."""
    started = time.monotonic()
    settings = load_settings()
    old, new = create_version_task(settings.es)
    if folders:
        with ElasticsearchStore(connect(settings.es), settings.es, articles_index=new) as store:
            summary = summary_dict(run_pipeline(resolve_roots(folders), settings, store, force=True, since=None))
    else:
        summary = {"copied": copy_documents_task(settings.es, old, new) if old else 0}
    switch_alias_task(settings.es, old, new, delete_old)
    get_run_logger().info("alias %s now points to %s (was %s)", settings.es.index, new, old)
    return {"old_index": old, "new_index": new, "seconds": round(time.monotonic() - started, 3), **summary}
