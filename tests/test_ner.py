"""Tests of tasks.ner: chunks of (language, text) pairs to one executor, spans kept for the latest batches.

The Dask executor is tested with a real scheduler and workers in tests/test_cluster.py.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import pytest

from newsetl.config.settings import ClusterSettings, EnrichSettings
from newsetl.tasks.ner import LOCAL, PROCESSES, InlineExecutor, NerRunner, _chunks, open_executor
from newsetl.tasks.ner_worker import find_entities

SENTENCE = "Margaret Holloway met officials of the European Central Bank in Lisbon on Tuesday."


@pytest.fixture(scope="module")
def settings() -> EnrichSettings:
    return EnrichSettings()


def test_pairs_go_out_in_chunks_of_about_the_configured_characters():
    pairs = [("en", "x" * 400)] * 10
    chunks = list(_chunks(pairs, 1_000))
    assert [len(chunk) for chunk in chunks] == [3, 3, 3, 1]
    assert [pair for chunk in chunks for pair in chunk] == pairs


def test_nothing_configured_runs_here_and_processes_run_in_a_spawned_pool(settings):
    here = open_executor(settings, ClusterSettings())
    pool = open_executor(replace(settings, processes=2), ClusterSettings())
    try:
        assert (here.kind, isinstance(here.executor, InlineExecutor), here.ahead) == (LOCAL, True, False)
        assert (pool.kind, isinstance(pool.executor, ProcessPoolExecutor), pool.ahead) == (PROCESSES, True, True)
        assert pool.executor._mp_context.get_start_method() == "spawn"
    finally:
        here.close()
        pool.close()


def test_a_pair_asked_for_again_goes_through_ner_once_and_older_batches_are_forgotten(settings):
    with NerRunner(settings, ClusterSettings()) as runner:
        first = [("en", SENTENCE), ("en", "Nothing here.")]
        assert runner.send(first, batch=0) == 2
        assert runner.send([("en", SENTENCE)], batch=1) == 0  # found already (a copy in the next batch)
        spans = runner.spans([("en", SENTENCE)], batch=1)
        assert ("PERSON", 0, len("Margaret Holloway")) in spans[("en", SENTENCE)]
        runner.forget_before(1)
        assert runner.send(first, batch=2) == 1  # "Nothing here." was only batch 0's
        assert runner.describe() == {"executor": LOCAL, "workers": 1}


def test_texts_of_each_language_go_through_its_model_and_keep_their_order(settings):
    pairs = [("en", SENTENCE), ("en", "Nothing here."), ("en", "Lisbon is in Portugal.")]
    found = find_entities(settings, pairs)
    assert [bool(spans) for spans in found.spans] == [True, False, True]
    assert found.spans[2][0][0] == "GPE"
