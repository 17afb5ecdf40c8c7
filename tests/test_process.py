"""`newsetl process`: the pipeline without Elasticsearch, to JSON lines; file names that are not UTF-8 included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, SAMPLES

pytestmark = [pytest.mark.prefect]

STORY = (
    "The ferry company added a late crossing on Fridays after the council agreed to light the east pier.\n\n"
    "Commuters had asked for it for two years; the last boat used to leave before most shifts ended.\n\n"
    "The trial runs until the end of the summer timetable, the company said on Monday."
)


def newsetl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsetl.cli", *args], capture_output=True, text=True, timeout=300, cwd=REPO
    )


def read_lines(path) -> list[dict]:
    # The files are UTF-8 JSON (undecodable bytes of names are \\udcNN escapes): strict decoding must work.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_process_writes_every_article_and_quarantine_record_with_names_that_are_not_utf8(prefect_api, tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(SAMPLES / "wire", folder / "wire")
    raw_folder = os.fsencode(folder)
    bad_story = raw_folder + b"/ferry-\xff\xfe.txt"  # Latin-1 bytes: not valid UTF-8
    bad_empty = raw_folder + b"/empty-\xe9.txt"
    with open(bad_story, "wb") as handle:
        handle.write(f"Late ferry on Fridays\n\n{STORY}\n".encode())
    open(bad_empty, "wb").close()
    output = tmp_path / "out" / "articles.jsonl"

    result = newsetl("process", str(folder), "--output", str(output), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    articles = read_lines(output)
    quarantine = read_lines(output.with_name("articles.jsonl.quarantine.jsonl"))

    assert summary["files_seen"] == 4 and summary["quarantined"] == 1
    assert (
        summary["files_seen"]
        == summary["written"]
        + summary["unchanged"]
        + summary["duplicates"]
        + summary["quarantined"]
        + summary["failed"]
    )
    assert len(articles) == summary["written"] and all(a["id"] and a["body"] for a in articles)
    sources = {os.fsencode(s["path"]) for a in articles for s in a["sources"]}
    assert bad_story in sources  # the escaped name gives the file's own bytes back
    assert [(os.fsencode(q["path"]), q["reason"]) for q in quarantine] == [(bad_empty, "empty")]
    ferry = next(a for a in articles if any(os.fsencode(s["path"]) == bad_story for s in a["sources"]))
    assert "late crossing on Fridays" in ferry["body"]
    assert "\\udcff\\udcfe" in output.read_text(encoding="utf-8")  # the one form of such names in every output
    assert any(p["path"].endswith("empty-\udce9.txt") for p in summary["problem_files"])


def test_output_that_cannot_be_written_fails_before_any_work(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text(STORY)
    for output, says in ((tmp_path, "is a folder"), (tmp_path / "in" / "a.txt" / "out.jsonl", "cannot write there")):
        result = newsetl("process", str(tmp_path / "in"), "--output", str(output))
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0]


def test_json_text_and_printable_escape_only_lone_surrogates():
    from newsetl.tasks.output import json_text, printable

    name = os.fsdecode(b"/r/caf\xe9-\xc3\xa9.txt")  # one undecodable byte, one valid UTF-8 letter
    line = json_text({"path": name})
    assert line == '{"path": "/r/caf\\udce9-é.txt"}'
    assert os.fsencode(json.loads(line)["path"]) == b"/r/caf\xe9-\xc3\xa9.txt"
    assert printable(name) == "/r/caf\\udce9-é.txt"
    line.encode("utf-8")  # strict: no surrogate left
