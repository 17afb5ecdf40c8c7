"""Property: whatever a folder holds, no exception escapes, every file is counted once, no valid article is lost.

Hypothesis writes folders of arbitrary bytes, JSON documents with arbitrary values in every field,
arbitrary (also non-UTF-8) file names, and valid articles among them; the pipeline's steps run on
each folder into an in-memory store. The number of examples is fixed and derandomized, so CI
runs the same examples every time.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import fields, replace

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

EXAMPLES = 60
# The outcome counters of RunSummary that account for a file seen (CONTRACT.md); `skipped` counts
# where the summary has it.
OUTCOMES = ("written", "unchanged", "duplicates", "quarantined", "failed", "skipped")
EXTENSIONS = (".txt", ".md", ".json", ".jsonl", ".html", ".htm", ".warc", ".gz", "", ".bin")
WORDS = (
    "harbour council river bridge market school library festival budget mayor ferry tram rain museum garden "
    "station plan vote crew storm port trawler channel dredging autumn pier lamp tower town"
).split()
FIELDS = (
    "title",
    "headline",
    "body",
    "text",
    "content",
    "date",
    "published",
    "datePublished",
    "url",
    "author",
    "language",
    "lang",
)


def outcome_total(summary) -> int:
    names = {f.name for f in fields(summary)}
    return sum(getattr(summary, name) for name in OUTCOMES if name in names)


def run_steps(roots: list[str], settings, ner):
    """flows.ingest.run_pipeline's steps as plain functions (`.fn`: no Prefect), as `newsetl process` runs them."""
    from newsetl.tasks.clean import RunStore, clean_batch_task, learn_run_boilerplate_task
    from newsetl.tasks.discover import discover_task
    from newsetl.tasks.enrich import enrich_batch_task, start_ner_task
    from newsetl.tasks.extract import extract_batch, extract_batch_task
    from newsetl.tasks.index import index_batch_task, record_quarantine_task, remove_deleted_task
    from newsetl.tasks.reconcile import dedupe_batch_task
    from newsetl.tasks.records import RunSummary
    from newsetl.tasks.source_state import plan_run_task
    from newsetl.tasks.store import MemoryStore

    memory, summary = MemoryStore(), RunSummary()
    found = discover_task.fn(roots, settings.discover, summary)
    plan = plan_run_task.fn(found, memory, roots, True, None, summary)
    record_quarantine_task.fn(found.quarantined, plan.known, memory, summary)
    store = RunStore(memory, [source.path for source in plan.to_read], plan.known)
    size = settings.flow.batch_size
    starts = range(0, len(plan.to_read), size)
    batches = (extract_batch(plan.to_read[start : start + size], settings.extract) for start in starts)
    boilerplate = learn_run_boilerplate_task.fn(batches, settings.clean, summary)
    for start in range(0, len(plan.to_read), size):
        extracted = extract_batch_task.fn(plan.to_read[start : start + size], settings.extract, summary)
        cleaned = clean_batch_task.fn(extracted, store, settings.clean, summary, boilerplate)
        start_ner_task.fn(cleaned, plan.known, ner, summary)
        deduped = dedupe_batch_task.fn(cleaned, plan.known, store, settings.dedupe, summary)
        enriched = enrich_batch_task.fn(deduped, ner, settings.enrich, summary)
        index_batch_task.fn(enriched, store, settings, summary)
    remove_deleted_task.fn(plan.deleted, store, settings, summary)
    return summary, memory


@pytest.fixture(scope="module")
def pipeline():
    from newsetl.config.settings import load_settings
    from newsetl.tasks.ner import NerSession

    base = load_settings({})
    settings = replace(base, flow=replace(base.flow, batch_size=4), enrich=replace(base.enrich, processes=1))
    with NerSession(settings.enrich) as ner:
        yield settings, ner


# --- What a folder may hold ------------------------------------------------------------------------

names = st.binary(min_size=1, max_size=40).map(lambda raw: raw.replace(b"/", b"_").replace(b"\x00", b"_").lstrip(b"."))
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=60)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
json_documents = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6) | json_values


@st.composite
def articles(draw, number: int) -> str:
    """A valid plain-text article: a headline and three paragraphs no other file shares."""

    def sentence() -> str:
        return " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=10, max_size=14))).capitalize() + "."

    paragraphs = [f"Marker{number} " + " ".join(sentence() for _ in range(2)) for _ in range(3)]
    return f"Headline number {number} on the {draw(st.sampled_from(WORDS))}\n\n" + "\n\n".join(paragraphs) + "\n"


@st.composite
def folders(draw) -> tuple[list[tuple[bytes, bytes]], dict[bytes, str]]:
    """(name, content) pairs, and the valid articles among them by name with their marker."""
    files: dict[bytes, bytes] = {}
    valid: dict[bytes, str] = {}
    for number in range(draw(st.integers(min_value=0, max_value=3))):
        name = draw(names) + b".txt"
        if not name.startswith(b".") and name not in files:
            files[name] = draw(articles(number)).encode("utf-8")
            valid[name] = f"Marker{number}"
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        name = draw(names) + draw(st.sampled_from(EXTENSIONS)).encode()
        if name.startswith(b".") or name in files:
            continue
        kind = draw(st.sampled_from(("bytes", "json", "jsonl", "text")))
        if kind == "bytes":
            content = draw(st.binary(max_size=300))
        elif kind == "json":
            content = json.dumps(draw(json_documents)).encode()
        elif kind == "jsonl":
            content = b"\n".join(json.dumps(draw(json_documents)).encode() for _ in range(draw(st.integers(0, 3))))
        else:
            content = draw(st.text(max_size=300)).encode("utf-8")
        files[name] = content
    return sorted(files.items()), valid


@hypothesis_settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)  # fmt: skip
@given(folders())
def test_any_folder_is_accounted_for_and_keeps_its_valid_articles(pipeline, folder):
    settings, ner = pipeline
    files, valid = folder
    root = tempfile.mkdtemp(prefix="newsetl-prop-")
    try:
        for name, content in files:
            with open(os.fsencode(root) + b"/" + name, "wb") as handle:
                handle.write(content)
        summary, store = run_steps([root], settings, ner)
        if "skipped" in {f.name for f in fields(summary)}:
            assert summary.files_seen == len(files)  # every file is seen, article format or not
        else:
            from newsetl.tasks.discover import discover_files

            found = discover_files([root], settings.discover)
            assert summary.files_seen == len(found.files) + len(found.quarantined)
        assert summary.files_seen == outcome_total(summary) and summary.is_balanced()
        for name, marker in valid.items():
            path = os.fsdecode(os.fsencode(root) + b"/" + name)
            holding = [d for d in store.documents.values() if any(s["path"] == path for s in d["sources"])]
            assert holding and marker in holding[0]["body"], (name, summary.problem_files)
        for document in store.documents.values():
            json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogateescape")
    finally:
        shutil.rmtree(root)


def test_a_json_string_with_a_lone_surrogate_is_not_fatal(pipeline, tmp_path):
    settings, ner = pipeline
    (tmp_path / "poison.json").write_text(
        '{"title": "Harbour \\udc00 news", "body": "' + "The ferry runs late. " * 10 + '\\udc00"}'
    )
    (tmp_path / "good.txt").write_text("Ferry news\n\n" + "The harbour ferry runs late on Fridays after the vote. " * 4)
    summary, store = run_steps([str(tmp_path)], settings, ner)
    assert summary.is_balanced() and summary.written >= 1
    assert any("Fridays" in d["body"] for d in store.documents.values())
