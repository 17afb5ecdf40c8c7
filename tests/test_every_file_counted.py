"""Every regular, non-hidden file is seen and counted once: articles, quarantined, or skipped by type (issue 14),
and one poisoned file never stops a run (issue 13)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newsetl.config.settings import DiscoverSettings
from newsetl.flows.report import publish_summary, summary_markdown
from newsetl.tasks.discover import discover_files
from newsetl.tasks.records import RunSummary
from tests.conftest import corpus

SETTINGS = DiscoverSettings()
PAGE = (
    b"<!DOCTYPE html><html><head><title>Harbour</title></head><body><article><h1>Harbour council approves dredging</h1>"
    b"<p>The harbour council approved a dredging plan on Tuesday that will let larger ferries dock in the old port.</p>"
    b"<p>Work is due to start in the spring and last about eighteen months, the council said in a statement.</p>"
    b"</article></body></html>"
)
TEXT = b"Harbour council approves dredging\n\nThe harbour council approved a plan that lets larger ferries dock.\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def make(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def names(paths) -> list[str]:
    return sorted(Path(p).name for p in paths)


def test_files_of_no_article_format_are_skipped_by_type_and_nothing_is_silent(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "a.txt": TEXT,
            "page.shtml": PAGE,
            "page.php": PAGE,
            "STORY": TEXT,
            "report.pdf": b"%PDF-1.4",
            "wire.xml": b"<newsItem/>",
            "photo.jpg": PNG,
            "sub/clip.mp3": b"ID3" + bytes(100),
            "sub/archive.tar.gz": b"\x1f\x8b",
            "core": bytes(range(256)) * 4,
            ".hidden.jpg": PNG,
            ".git/config": TEXT,
        },
    )
    found = discover_files([tmp_path], SETTINGS)
    assert names(f.path for f in found.files) == ["STORY", "a.txt", "page.php", "page.shtml", "report.pdf", "wire.xml"]
    assert sorted(kind for _, kind in found.skipped) == ["(no extension)", ".jpg", ".mp3", ".tar.gz"]
    assert found.quarantined == ()


def test_a_file_given_by_name_is_treated_as_when_found_in_a_folder(tmp_path: Path) -> None:
    make(tmp_path, {"photo.jpg": PNG, "STORY": TEXT, "wire.xml": b"<nitf/>"})
    in_folder = discover_files([tmp_path], SETTINGS)
    by_name = discover_files([tmp_path / "photo.jpg", tmp_path / "STORY", tmp_path / "wire.xml"], SETTINGS)
    assert names(f.path for f in by_name.files) == names(f.path for f in in_folder.files) == ["STORY", "wire.xml"]
    assert [kind for _, kind in by_name.skipped] == [kind for _, kind in in_folder.skipped] == [".jpg"]


def test_a_big_video_is_skipped_not_too_large(tmp_path: Path) -> None:
    make(tmp_path, {"clip.mp4": bytes(2000)})
    found = discover_files([tmp_path], DiscoverSettings(max_file_bytes=1000))
    assert found.skipped == ((str(tmp_path / "clip.mp4"), ".mp4"),) and found.quarantined == ()


def test_the_extension_list_and_globs_still_decide(tmp_path: Path) -> None:
    make(tmp_path, {"a.txt": TEXT, "b.pdf": b"%PDF-1.4", "c.story": PAGE, "d.story": PNG, "drafts/e.txt": TEXT})
    settings = DiscoverSettings(extensions=(".txt", ".story"), exclude=("drafts",))
    found = discover_files([tmp_path], settings)
    # .story is the user's own: read when its content is an article format, skipped when it is an image.
    assert names(f.path for f in found.files) == ["a.txt", "c.story"]
    assert sorted(kind for _, kind in found.skipped) == [".pdf", ".story"]
    only_text = discover_files([tmp_path], DiscoverSettings(include=("*.txt",)))
    assert names(f.path for f in only_text.files) == ["a.txt", "e.txt"] and only_text.skipped == ()


def test_the_summary_counts_skipped_files_in_the_invariant_the_log_and_the_artifact(
    caplog: pytest.LogCaptureFixture,
) -> None:
    summary = RunSummary(files_seen=6, written=2)
    summary.count_quarantine("no_text", "/a")
    for kind in (".jpg", ".jpg"):
        summary.count_skipped(kind)
    assert not summary.is_balanced()
    summary.count_skipped(".mp3")
    assert summary.is_balanced() and summary.skipped_by_type == {".jpg": 2, ".mp3": 1}
    markdown = summary_markdown(summary)
    assert "| skipped | 3 |" in markdown and "| .jpg | 2 |" in markdown and "Warning" not in markdown
    with caplog.at_level(logging.INFO):
        publish_summary(summary, logging.getLogger("test"))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped")]
    assert lines == ["skipped 3 files of no article format: .jpg 2, .mp3 1"]


# --- end to end --------------------------------------------------------------------------------


def newsetl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsetl.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def regular_files(folder: Path) -> list[Path]:
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]


@pytest.mark.slow
@pytest.mark.prefect
def test_process_fscrawler_documents_accounts_for_every_file(tmp_path: Path, prefect_api: str) -> None:
    files = corpus("fscrawler-docs") / "files"
    output = tmp_path / "x.jsonl"
    result = newsetl("process", str(files), "--output", str(output), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["files_seen"] == len(regular_files(files))
    parts = ("written", "unchanged", "duplicates", "quarantined", "failed", "skipped")
    assert summary["files_seen"] == sum(summary[part] for part in parts)
    assert summary["skipped_by_type"] == {".jpg": 1, ".png": 1, ".mp3": 1, ".key": 1}
    articles = [json.loads(line) for line in output.read_text().splitlines()]
    sources = {Path(s["path"]).name: a for a in articles for s in a["sources"]}
    assert "This file also contains text." in sources["test-ocr.pdf"]["body"]
    for office in ("test.doc", "test.rtf"):  # the same text: one article, both files its sources
        assert "This is a sample text available in page 1" in sources[office]["body"]
    quarantined = {
        Path(q["path"]).name: q["reason"]
        for q in map(json.loads, Path(f"{output}.quarantine.jsonl").read_text().splitlines())
    }
    assert quarantined["test-protected.pdf"] == "encrypted" and quarantined["issue-221-doc1.pdf"] == "no_text_layer"
    assert set(sources) | set(quarantined) == {p.name for p in regular_files(files)} - {
        "test.jpg",
        "test-ocr.png",
        "test.mp3",
        "test.key",
    }


POISON_ONE = (
    '{"title": "Ferry timetable \\udc00 changes", "text": "The ferry company published a new winter timetable on '
    'Monday, with fewer crossings on weekdays and an extra late boat on Fridays."}'
)
POISON_MANY = '{"title": "x", "text": "' + "\\udc00" * 300 + ' The rest of this record is garbage."}'


@pytest.mark.slow
@pytest.mark.elasticsearch
@pytest.mark.prefect
def test_a_poisoned_json_file_never_stops_the_run_and_reruns_agree(
    tmp_path: Path, es_settings, prefect_api: str
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(corpus("seed") / "000_5e6e1551d8ebd9d7.txt", folder / "seed.txt")
    stories = {
        "harbour.txt": "Harbour council approves dredging\n\nThe harbour council approved a dredging plan on Tuesday "
        "that will let larger ferries dock in the old port.",
        "library.txt": "Library extends opening hours\n\nThe central library will open until ten in the evening from "
        "March, the city's culture department announced.",
        "market.html": "<html><body><article><h1>Market hall reopens</h1><p>The covered market hall reopened on "
        "Saturday after a two-year renovation that restored its iron roof.</p><p>Traders said the first weekend "
        "brought more visitors than any month before the works began.</p></article></body></html>",
        "bridge.json": '{"title": "Bridge closed for repairs", "text": "The old stone bridge will be closed to cars '
        'for six weeks while engineers repair its eastern arch."}',
        "ferry.json": POISON_ONE,  # one lone surrogate: repaired, the article kept
        "poison.json": POISON_MANY,  # garbage: quarantined, the run goes on
    }
    for name, text in stories.items():
        (folder / name).write_text(text, encoding="utf-8")
    runs = [newsetl("run", str(folder), "--json") for _ in range(2)]
    for result in runs:
        assert result.returncode == 0, result.stderr[-2000:]
        assert "Traceback" not in result.stderr and "The rest of this record" not in result.stderr
    first, second = (json.loads(r.stdout.strip().splitlines()[-1]) for r in runs)
    assert first["files_seen"] == 7 and first["written"] == 6 and first["quarantined"] == 1
    assert first["quarantine_reasons"] == {"invalid_unicode": 1}
    assert second["unchanged"] == 7 and second["written"] == 0
    from newsetl.tasks.es.client import connect

    client = connect(es_settings.es)
    try:
        client.indices.refresh(index=es_settings.es.index)
        hits = client.search(index=es_settings.es.index, size=50, query={"match_all": {}})["hits"]["hits"]
        titles = {hit["_source"]["title"] for hit in hits}
        quarantine = client.search(index=es_settings.es.quarantine_index, size=50)["hits"]["hits"]
    finally:
        client.close()
    assert {
        "Harbour council approves dredging",
        "Library extends opening hours",
        "Market hall reopens",
        "Bridge closed for repairs",
        "Ferry timetable \ufffd changes",
    } <= titles and len(titles) == 6
    assert [(Path(q["_source"]["path"]).name, q["_source"]["reason"]) for q in quarantine] == [
        ("poison.json", "invalid_unicode")
    ]


def test_an_unexpected_error_cleaning_one_article_quarantines_its_file_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from newsetl.config.settings import CleanSettings
    from newsetl.tasks import clean
    from newsetl.tasks.records import ExtractedArticle, ExtractedBatch, FileRead, SourceFile, SourceRef
    from newsetl.tasks.store import MemoryStore

    def article(name: str) -> ExtractedArticle:
        ref = SourceRef(f"/n/{name}", "0" * 64, "text", 1, "2023-01-01T00:00:00Z")
        return ExtractedArticle(
            ref, name, (f"A paragraph of the {name} story with enough words in it to stay.",), "folder:/n"
        )

    real = clean.strip_boilerplate

    def failing(item, *args, **kwargs):
        if item.title == "bad":
            raise ValueError("boom")
        return real(item, *args, **kwargs)

    monkeypatch.setattr(clean, "strip_boilerplate", failing)
    files = tuple(SourceFile(f"/n/{name}", "/n", 1, 0.0) for name in ("good", "bad"))
    batch = ExtractedBatch(files, {f.path: FileRead(f, "0" * 64) for f in files}, (article("good"), article("bad")))
    cleaned = clean.clean_batch(batch, MemoryStore(), CleanSettings())
    assert [a.title for a in cleaned.articles] == ["good"]
    assert [(q.path, q.reason, q.detail) for q in cleaned.quarantined] == [
        ("/n/bad", "clean_error", "ValueError: boom")
    ]
