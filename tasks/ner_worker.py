"""What an NER worker process runs: the models, loaded once per process, and chunks of (language, text) pairs.

The same functions run in a spawned local worker (ProcessPoolExecutor), on a Dask worker, and in
the driver when NER runs there. Free of Prefect and of Dask: a spawned worker imports only what
NER needs (Prefect alone takes ~0.8 s and ~100 MB to import).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from newsetl.children import die_with_parent
from newsetl.config.settings import EnrichSettings
from newsetl.tasks.entities import ENTITY_LABELS
from newsetl.tasks.ner_models import TextSpans, language_entity_spans, load_models

# (language, text): the unit of work; a chunk is a list of them.
Pair = tuple[str, str]


# Per process: the models of each settings seen (a Dask worker may serve runs with other settings),
# and what this process did, for `worker_report`.
_MODELS: dict[str, Mapping[str, Any]] = {}  # keyed by repr(settings): their models mapping is a dict
_DONE = {"chunks": 0, "texts": 0}


# --- the worker side ------------------------------------------------------------------------


def load_worker_models(settings: EnrichSettings) -> Mapping[str, Any]:
    """The models of these settings in this process, loaded on first call (executor initializer, Dask plugin)."""
    key = repr(settings)
    if key not in _MODELS:
        _MODELS[key] = load_models(settings)
    return _MODELS[key]


def start_local_worker(settings: EnrichSettings) -> None:
    """A local pool worker's start: it dies with the run (a killed run leaves no worker), then loads the models."""
    die_with_parent(multiprocessing.parent_process().pid)
    load_worker_models(settings)


@dataclass(frozen=True)
class FoundSpans:
    """A chunk's result: the spans of each pair, in order, and which worker process found them."""

    worker: str  # host:pid
    spans: list[TextSpans]


def find_entities(settings: EnrichSettings, pairs: Sequence[Pair]) -> FoundSpans:
    """Entity spans of each (language, text) pair, in order; texts of a language go through its model together."""
    models = load_worker_models(settings)
    by_language: dict[str, list[int]] = {}
    for index, (language, _) in enumerate(pairs):
        by_language.setdefault(language, []).append(index)
    spans: list[TextSpans] = [()] * len(pairs)
    for language, indices in by_language.items():
        texts = [pairs[index][1] for index in indices]
        found = language_entity_spans(models, language, texts, ENTITY_LABELS, settings.batch_size)
        for index, text_spans in zip(indices, found, strict=True):
            spans[index] = text_spans
    _DONE["chunks"] += 1
    _DONE["texts"] += len(pairs)
    return FoundSpans(worker_name(), spans)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_report() -> dict[str, Any]:
    """What this process did: chunks and texts through NER, CPU seconds used (read by tests and the bench)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {**_DONE, "pid": os.getpid(), "cpu_seconds": usage.ru_utime + usage.ru_stime}
