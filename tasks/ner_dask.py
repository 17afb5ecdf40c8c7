"""The Dask side of NER execution: connecting to a scheduler, and the plugin that loads the models on each worker."""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import Executor
from typing import Any

from distributed import Client
from distributed.diagnostics.plugin import WorkerPlugin

from newsetl.config.settings import ClusterSettings, EnrichSettings
from newsetl.tasks.errors import NewsetlError
from newsetl.tasks.ner_worker import load_article_reader, load_worker_models


class ClusterUnavailable(NewsetlError):
    """The Dask scheduler cannot be reached, was lost mid-run, or has no workers."""


class LoadNerModels(WorkerPlugin):
    """Loads the NER models, the language, date and entity tools, and the cleaning and reading code, once in
    each worker process. Workers that join (or restart) later load them too."""

    idempotent = False  # registered again by each run: its settings may differ

    def __init__(self, settings: EnrichSettings) -> None:
        self.settings = settings
        # One plugin per distinct settings (their models mapping is a dict: hashed through its repr).
        digest = hashlib.sha1(repr(settings).encode()).hexdigest()[:8]
        self.name = f"newsetl-ner-{digest}"

    def setup(self, worker: Any) -> None:
        load_worker_models(self.settings)
        load_article_reader(self.settings)
        # Cleaning, sketching and the readers load now, not in the first batch a run waits for.
        import newsetl.tasks.cluster_cleaning  # noqa: F401


def connect(cluster: ClusterSettings, enrich: EnrichSettings) -> tuple[Client, Executor]:
    """A client of the scheduler at cluster.address, its workers holding the models; (client, its executor).

    Raises ClusterUnavailable (one line naming the address) when the scheduler does not answer
    within cluster.connect_timeout or no worker joins it within that time.
    """
    # NOTE: prefect-dask's client is a distributed.Client that also takes Prefect tasks; NER chunks
    # go as plain functions (a Prefect task run per chunk costs ~1,000x more: see the README).
    # Imported here: a worker unpickling the plugin then imports Dask only, not Prefect.
    from prefect_dask import PrefectDaskClient

    # Our error names the address; distributed's own log lines would repeat it with a traceback.
    logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
    address = cluster.address
    try:
        client = PrefectDaskClient(address, timeout=cluster.connect_timeout, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ClusterUnavailable(f"Dask scheduler at {address} unreachable: {error}") from None
    try:
        client.wait_for_workers(1, timeout=cluster.connect_timeout)
        client.register_plugin(LoadNerModels(enrich))
    except (OSError, TimeoutError) as error:
        client.close()
        raise ClusterUnavailable(
            f"Dask scheduler at {address}: no worker joined within {cluster.connect_timeout:g} s ({error})"
        ) from None
    return client, client.get_executor(pure=False)


def worker_count(client: Client) -> int:
    """Workers connected to the scheduler now."""
    return len(client.scheduler_info(n_workers=-1).get("workers", {}))
