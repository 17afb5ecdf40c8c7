"""The benchmark: its generated corpus, and `newsetl bench --json` end to end on a tiny corpus."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from newsetl.bench import PeakMemory, build_corpus, render_benchmark, source_sentences
from newsetl.config.settings import BenchSettings
from tests.conftest import CORPORA, REPO, corpus

CONTRACT_KEYS = (
    "articles", "articles_per_s", "words_per_s", "bound_articles_per_s", "ratio_to_bound",
    "unchanged_files_per_s", "peak_rss_mb", "stage_seconds",
)  # fmt: skip


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    corpus("scrapinghub-article-extraction-benchmark")
    return source_sentences(CORPORA)


def file_texts(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): path.read_text(encoding="utf-8") for path in sorted(root.rglob("*.txt"))}


def test_the_corpus_holds_the_asked_shares_of_copies_and_near_copies(sentences, tmp_path):
    settings = BenchSettings(exact_duplicate_share=0.1, near_duplicate_share=0.2, files_per_folder=8)
    built = build_corpus(tmp_path / "articles", 40, settings, sentences)
    texts = file_texts(built.root)
    assert len(texts) == built.files == 40
    assert (built.unique, built.exact_duplicates, built.near_duplicates) == (28, 4, 8)
    copies = Counter(texts.values())
    assert sum(count - 1 for count in copies.values()) == 4  # byte copies
    bodies = [text.split("\n\n", 2)[2] for text in copies]
    near = [(a, b) for i, a in enumerate(bodies) for b in bodies[i + 1 :] if _changed_words(a, b) is not None]
    assert len(near) == 8 and all(1 <= _changed_words(a, b) <= 3 for a, b in near)
    assert len({Path(name).parent for name in texts}) == built.folders > 1


def test_articles_are_about_the_asked_length_and_share_no_paragraph(sentences, tmp_path):
    settings = BenchSettings(exact_duplicate_share=0.0, near_duplicate_share=0.0, words_per_article=600)
    built = build_corpus(tmp_path / "articles", 30, settings, sentences)
    paragraphs = Counter()
    for text in file_texts(built.root).values():
        title, dateline, *body = text.strip().split("\n\n")
        assert dateline.startswith("Published ") and title
        assert 540 <= sum(len(paragraph.split()) for paragraph in body) <= 640
        paragraphs.update(body)
    assert max(paragraphs.values()) == 1


def test_peak_memory_counts_the_workers_started_inside_it_not_an_earlier_runs_still_exiting():
    context = multiprocessing.get_context("spawn")
    still_exiting = context.Process(target=time.sleep, args=(30,))
    still_exiting.start()
    try:
        with PeakMemory(interval=0.05) as memory:
            started_inside = context.Process(target=time.sleep, args=(1,))
            started_inside.start()
            started_inside.join()
        assert memory.workers_seen == 1
    finally:
        still_exiting.kill()
        still_exiting.join()


def test_format_samples_are_real_pages_and_laid_out_documents_that_extract(sentences, tmp_path):
    from newsetl.bench import build_format_samples, extraction_ms_per_file
    from newsetl.config.settings import ExtractSettings
    from newsetl.tasks.extract import ExtractionResult, extract_file
    from newsetl.tasks.records import SourceFile

    samples = build_format_samples(tmp_path, CORPORA, sentences, seed=3, count=3)
    assert set(samples) == {"html", "text", "pdf", "docx", "odt", "rtf", "eml"}
    for name, paths in samples.items():
        assert len(paths) == 3, name
        if name == "html":
            continue  # real pages: some may hold too little text to be an article
        for path in paths:
            info = path.stat()
            source = SourceFile(str(path), str(tmp_path), info.st_size, info.st_mtime, info.st_ino)
            outcome = extract_file(source, ExtractSettings())
            assert isinstance(outcome, ExtractionResult), (name, outcome)
            assert sum(map(len, outcome.articles[0].paragraphs)) > 3000, name
    assert set(extraction_ms_per_file(samples, ExtractSettings())) == set(samples)


def _changed_words(first: str, second: str) -> int | None:
    """How many words differ between two bodies of the same length in words, None when unrelated."""
    a, b = first.split(), second.split()
    if len(a) != len(b):
        return None
    changed = sum(x != y for x, y in zip(a, b))
    return changed if changed <= len(a) // 10 else None


@pytest.mark.slow
@pytest.mark.elasticsearch
@pytest.mark.prefect
def test_newsetl_bench_json_has_the_contract_figures(es_settings, prefect_api, sentences):
    environment = {**os.environ, "NEWSETL_BENCH_FILES_PER_FOLDER": "5"}
    run = subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "bench", "--articles", "12", "--json"],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert all(key in result for key in CONTRACT_KEYS)
    assert result["articles"] == 12 and result["processes"] >= 1
    assert result["summary"]["files_seen"] == 12 and result["summary"]["duplicates"] >= 1
    assert result["articles_per_s"] > 0 and result["words_per_s"] > result["articles_per_s"]
    assert result["bound_articles_per_s"] > 0 and 0 < result["ratio_to_bound"] < 10
    assert result["unchanged_files_per_s"] > 0 and result["unchanged_ner_processes"] == 0
    assert {"extract", "clean", "deduplicate", "enrich", "index"} <= set(result["stage_seconds"])
    assert 100 < result["peak_rss_mb"] < 8000
    assert "bare nlp.pipe" in render_benchmark(result)
    # Extraction by format: real web pages, laid-out PDFs and Office files, timed apart from the run.
    assert {"html", "pdf", "docx", "odt", "text"} <= set(result["extract_ms_per_file"])
    assert all(ms > 0 for ms in result["extract_ms_per_file"].values())
    from newsetl.tasks.es.client import connect

    client = connect(es_settings.es)
    try:  # the bench's alias is gone
        assert not list(client.indices.get(index="bench-*", allow_no_indices=True).body)
    finally:
        client.close()
