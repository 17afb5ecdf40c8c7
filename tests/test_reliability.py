"""Fault injection (issue 9): bad inputs, Elasticsearch outages, killed runs, secrets.

Bad inputs are generated in tmp_path; the interrupted runs use a folder of articles written
from the shared corpora's gold bodies, and compare the index left by a re-run with the index
of one clean run (same ids, same fields except ingested_at, a state for every file).
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import REPO, corpus, free_port

pytestmark = [pytest.mark.elasticsearch, pytest.mark.prefect]

STORY = (
    "The harbour authority approved a plan on Tuesday to dredge the eastern channel before the autumn storms.\n\n"
    "Fishing crews said the silt had grounded three trawlers since spring, and the ferry company cut its "
    "evening crossings while the work was argued over at four council meetings.\n\n"
    "Dredging starts next month and should take six weeks, the authority said, paid for from the port's reserve."
)
FIXED_STORY = (
    "Volunteers repainted the lighthouse at the end of the north pier over two weekends in June.\n\n"
    "The town council paid for the paint and scaffolding; a local bakery fed the thirty people who turned up, "
    "some of them grandchildren of the last keeper.\n\n"
    "The lamp itself is automatic now, but the council wants the tower kept as a landmark for visitors."
)
# Every field an article document must have: a document missing one was written in part.
REQUIRED_FIELDS = {
    "id", "title", "body", "language", "published_at", "published_at_source", "dates_mentioned", "persons",
    "organizations", "locations", "other_entities", "entities", "sources", "cluster_id", "is_canonical",
    "word_count", "ingested_at", "pipeline_version",
}  # fmt: skip
COUNTED = ("written", "unchanged", "duplicates", "quarantined", "failed")


# --- Helpers --------------------------------------------------------------------------------------


def balanced(summary: dict) -> bool:
    return summary["files_seen"] == sum(summary[part] for part in COUNTED)


def newsetl(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsetl.cli", *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO
    )


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def connect_to(url: str):
    from elasticsearch import Elasticsearch

    return Elasticsearch(url, request_timeout=30)


def index_snapshot(url: str, alias: str) -> dict:
    """What a run leaves behind: articles (without ingested_at), file states, quarantine records."""
    client = connect_to(url)
    try:
        names = (alias, f"{alias}-sources", f"{alias}-quarantine")
        client.indices.refresh(index=",".join(names))
        articles = {hit["_id"]: hit["_source"] for hit in scan(client, alias)}
        states = {hit["_source"]["path"]: hit["_source"] for hit in scan(client, f"{alias}-sources")}
        quarantine = [hit["_source"] for hit in scan(client, f"{alias}-quarantine")]
    finally:
        client.close()
    return {"articles": articles, "states": states, "quarantine": quarantine}


def scan(client, index: str) -> list[dict]:
    hits, after = [], None
    while True:
        page = client.search(index=index, size=1000, sort=["_doc"], search_after=after, query={"match_all": {}})
        batch = page["hits"]["hits"]
        hits += batch
        if len(batch) < 1000:
            return hits
        after = batch[-1]["sort"]


def comparable_articles(snapshot: dict) -> dict[str, dict]:
    return {i: {k: v for k, v in doc.items() if k != "ingested_at"} for i, doc in snapshot["articles"].items()}


def assert_same_index(got: dict, clean: dict) -> None:
    """The index a re-run left equals the clean run's: ids, fields but ingested_at, a state per file."""
    got_articles, clean_articles = comparable_articles(got), comparable_articles(clean)
    assert sorted(got_articles) == sorted(clean_articles)
    for article_id, document in clean_articles.items():
        other = got_articles[article_id]
        different = {key for key in document.keys() | other.keys() if document.get(key) != other.get(key)}
        assert not different, f"{article_id}: {sorted(different)} differ"
    assert_whole_documents(got)
    assert sorted(got["states"]) == sorted(clean["states"])
    for path, state in clean["states"].items():
        assert (got["states"][path]["sha256"], got["states"][path]["article_ids"]) == (
            state["sha256"],
            state["article_ids"],
        )
    assert sorted(q["path"] for q in got["quarantine"]) == sorted(q["path"] for q in clean["quarantine"])


def assert_whole_documents(snapshot: dict) -> None:
    partial = {
        i: sorted(REQUIRED_FIELDS - doc.keys())
        for i, doc in snapshot["articles"].items()
        if REQUIRED_FIELDS - doc.keys()
    }
    assert not partial, f"articles written in part: {partial}"
    paths = [ref["path"] for doc in snapshot["articles"].values() for ref in doc["sources"]]
    assert len(paths) == len(set(paths)), "a file is a source of two articles"


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def zeros_bomb(size: int) -> bytes:
    """gzip of `size` zero bytes, built without holding them in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    parts = [packer.compress(chunk) for _ in range(size >> 20)]
    return b"".join(parts) + packer.flush()


# --- The bad-input folder -------------------------------------------------------------------------

# File (relative to the root) -> the reason it must be quarantined with.
BAD_INPUTS = {
    "empty.txt": "empty",
    "blank.md": "empty",
    "random-bytes.txt": "binary",
    "png-named.html": "binary",
    "control-bytes.txt": "binary",
    "high-byte-noise.txt": "decode_error",
    "broken-utf16.txt": "decode_error",
    "truncated.txt.gz": "bad_gzip",
    "not-gzip.html.gz": "bad_gzip",
    "bomb.html.gz": "too_large",
    "huge.txt": "too_large",
    "book-length.txt": "too_large",
    "no-text.html": "no_text",
    "title-only.txt": "no_text",
    "nested-no-text.html": "no_text",
    "bad.json": "bad_json",
    "bad-lines.jsonl": "bad_json",
    "bad.warc": "bad_warc",
    "fifo.txt": "unreadable",
    "dangling.txt": "unreadable",
    "self-loop.txt": "symlink_loop",
    "sub/back-up": "symlink_loop",
    "escape.txt": "outside_root",
    "escape-folder": "outside_root",
}
GOOD_INPUTS = ("story.txt", "nested-story.html", "undecodable-name-\udcff.txt")
BOMB_CAP = 5_000_000  # NEWSETL_EXTRACT_MAX_DECOMPRESSED_BYTES of the bad-folder runs


def write_bad_folder(base: Path) -> Path:
    """A folder holding one of each kind of bad input, and three good files."""
    root = base / "bad"
    outside = base / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text(f"Private\n\n{STORY}", encoding="utf-8")
    rng = random.Random(9)

    def put(name: str, data: bytes) -> None:
        (root / name).write_bytes(data)

    put("empty.txt", b"")
    put("blank.md", b"  \n\n\t \n")
    put("random-bytes.txt", rng.randbytes(4000))
    put("png-named.html", b"\x89PNG\r\n\x1a\n" + rng.randbytes(600))
    put("control-bytes.txt", b"Title\n\n" + b"text\x01\x02\x03\x04\x05\x06 with control bytes " * 40)
    put("high-byte-noise.txt", bytes(0x80 + (i * 37) % 128 for i in range(2000)))
    put("broken-utf16.txt", codecs.BOM_UTF16_LE + b"\x00\xd8" * 800)  # lone surrogates only
    story_gz = gzip_bytes(f"Harbour\n\n{STORY}".encode())
    put("truncated.txt.gz", story_gz[: len(story_gz) // 2])
    put("not-gzip.html.gz", f"<html><body><p>{STORY}</p></body></html>".encode())
    put("bomb.html.gz", zeros_bomb(4 * BOMB_CAP))
    with (root / "huge.txt").open("wb") as stream:
        stream.truncate(60_000_000)  # sparse: over discover.max_file_bytes, never read
    put(
        "no-text.html",
        b"<html><head><title>Menu</title><script>var x;</script></head><body><nav>Home</nav><div></div></body></html>",
    )
    put("title-only.txt", b"A headline\n\nToo short.")
    put(
        "book-length.txt", ("A very long report\n\n" + "\n\n".join([STORY] * 3000)).encode()
    )  # over extract.max_text_chars
    put("nested-no-text.html", b"<html><body>" + b"<div>" * 100_000 + b"</div>" * 100_000 + b"</body></html>")
    put("bad.json", b'{"title": "Cut", "body": "The harbour authority appro')
    put("bad-lines.jsonl", b'{not json}\n[1, 2\n{"title": "Cut\n')
    put("bad.warc", b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n" * 10)
    os.mkfifo(root / "fifo.txt")
    (root / "dangling.txt").symlink_to(root / "gone.txt")
    (root / "self-loop.txt").symlink_to(root / "self-loop.txt")
    (root / "sub" / "back-up").symlink_to(root)
    (root / "escape.txt").symlink_to(outside / "secret.txt")
    (root / "escape-folder").symlink_to(outside)
    # Good files next to the bad ones: a plain story, a story under 3000 nested elements, a name that is not UTF-8.
    put("story.txt", f"Harbour dredging approved\n\n{STORY}".encode())
    nested = "<div>" * 3000 + "".join(f"<p>{p}</p>" for p in FIXED_STORY.split("\n\n")) + "</div>" * 3000
    put(
        "nested-story.html",
        f"<html><head><title>Lighthouse repainted</title></head><body>{nested}</body></html>".encode(),
    )
    odd = os.fsencode(str(root)) + b"/undecodable-name-\xff.txt"
    with open(odd, "wb") as stream:
        stream.write(b"Ferry timetable changes\n\n" + STORY.replace("harbour authority", "ferry company").encode())
    return root


def sorted_records(snapshot: dict) -> list[dict]:
    return sorted(snapshot["quarantine"], key=lambda record: (record["path"], record["detail"]))


def quarantine_by_path(snapshot: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for record in snapshot["quarantine"]:
        found.setdefault(record["path"], []).append(record)
    return found


@pytest.fixture
def bad_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEWSETL_EXTRACT_MAX_DECOMPRESSED_BYTES", str(BOMB_CAP))
    return write_bad_folder(tmp_path)


def test_bad_inputs_end_in_quarantine_and_only_changed_ones_are_retried(es_settings, prefect_api, bad_folder):
    from newsetl.flows.ingest import ingest

    run = newsetl("run", str(bad_folder), "--json")
    assert run.returncode == 0, run.stderr[-3000:]
    first = last_json(run.stdout)
    snapshot = index_snapshot(es_settings.es.url, es_settings.es.index)
    records = quarantine_by_path(snapshot)
    assert balanced(first) and first["files_seen"] == len(BAD_INPUTS) + len(GOOD_INPUTS)
    assert first["written"] == len(GOOD_INPUTS) and first["quarantined"] == len(BAD_INPUTS)
    assert first["quarantine_reasons"] == dict(Counter(BAD_INPUTS.values()))
    # One record per problem in `<alias>-quarantine`, with path, reason and detail.
    assert {os.path.relpath(path, bad_folder): [r["reason"] for r in rs] for path, rs in records.items()} == {
        name: [reason] for name, reason in BAD_INPUTS.items()
    }
    assert all(r["detail"] for r in snapshot["quarantine"])
    assert sorted(d["title"] for d in snapshot["articles"].values()) == [
        "Ferry timetable changes", "Harbour dredging approved", "Lighthouse repainted",
    ]  # fmt: skip
    assert_whole_documents(snapshot)

    second = ingest(folders=[str(bad_folder)])
    assert second["unchanged"] == second["files_seen"] == first["files_seen"] and balanced(second)
    assert sorted_records(index_snapshot(es_settings.es.url, es_settings.es.index)) == sorted_records(snapshot)

    (bad_folder / "empty.txt").write_text(
        f"Lighthouse keepers remembered\n\n{FIXED_STORY} Their logbooks go on show.", encoding="utf-8"
    )
    third = ingest(folders=[str(bad_folder)])
    after = index_snapshot(es_settings.es.url, es_settings.es.index)
    assert third["written"] == 1 and third["unchanged"] == third["files_seen"] - 1 and balanced(third)
    assert str(bad_folder / "empty.txt") not in quarantine_by_path(after)
    assert len(after["quarantine"]) == len(snapshot["quarantine"]) - 1
    assert [d["title"] for d in after["articles"].values() if d["sources"][0]["path"].endswith("/empty.txt")] == [
        "Lighthouse keepers remembered"
    ]

    # Files gone from the folder leave the quarantine index too, refused or read.
    for name in ("huge.txt", "escape.txt", "random-bytes.txt"):
        (bad_folder / name).unlink()
    fourth = ingest(folders=[str(bad_folder)])
    assert fourth["deleted_sources"] == 3 and fourth["unchanged"] == fourth["files_seen"] == third["files_seen"] - 3
    gone = {str(bad_folder / name) for name in ("huge.txt", "escape.txt", "random-bytes.txt")}
    assert not gone & set(quarantine_by_path(index_snapshot(es_settings.es.url, es_settings.es.index)))


# --- Files that fail while they are read --------------------------------------------------------


def test_files_that_fail_while_read_are_quarantined_then_read_again(es_settings, prefect_api, tmp_path, monkeypatch):
    """A file replaced, grown, removed or failing with EIO mid-run is quarantined; the next run reads it again."""
    import newsetl.tasks.extract
    from newsetl.flows.ingest import ingest

    folder = tmp_path / "news"
    folder.mkdir()
    names = ["replaced.txt", "growing.txt", "vanishing.txt", "io-error.txt", "reader-crash.txt", "story.txt"]
    for number, name in enumerate(names):
        (folder / name).write_text(f"Story number {number}\n\n{STORY} Reported for file {name}.", encoding="utf-8")
    replaced, growing = folder / "replaced.txt", folder / "growing.txt"
    before = replaced.stat()
    real_read, real_extract, real_stat, real_open = (
        newsetl.tasks.extract.read_source,
        newsetl.tasks.extract.extract_articles,
        os.stat,
        os.open,
    )

    def read_with_faults(source, settings):
        name = os.path.basename(source.path)
        if name == "replaced.txt" and "Story number 0" in replaced.read_text(encoding="utf-8"):
            # Like rsync: the new version is written aside and renamed over the old one, with the
            # same size and mtime, between discovery and reading.
            text = replaced.read_text(encoding="utf-8").replace("Story number 0", "Story number X")
            (folder / ".replaced.tmp").write_text(text, encoding="utf-8")
            os.utime(folder / ".replaced.tmp", ns=(before.st_atime_ns, before.st_mtime_ns))
            os.replace(folder / ".replaced.tmp", replaced)
        elif name == "vanishing.txt" and os.path.exists(source.path):
            os.unlink(source.path)
        return real_read(source, settings)

    # A run reads each file twice (boilerplate counts first, then the batch): the faults hit every read.
    def stat_while_growing(path, *args, **kwargs):
        if os.fspath(path) == str(growing):
            with open(growing, "ab") as stream:  # another process appends while we read
                stream.write(b"\n\nA late paragraph arrived while the file was being read.")
        return real_stat(path, *args, **kwargs)

    def open_failing(path, *args, **kwargs):
        if os.fspath(path).endswith("io-error.txt"):
            raise OSError(5, "Input/output error", os.fspath(path))
        return real_open(path, *args, **kwargs)

    def extract_crashing(raw, settings, *args, **kwargs):
        if raw.source.path.endswith("reader-crash.txt"):
            raise RuntimeError("a reader bug")
        return real_extract(raw, settings, *args, **kwargs)

    with monkeypatch.context() as faults:
        faults.setattr(newsetl.tasks.extract, "read_source", read_with_faults)
        faults.setattr(newsetl.tasks.extract, "extract_articles", extract_crashing)
        faults.setattr(os, "stat", stat_while_growing)
        faults.setattr(os, "open", open_failing)
        first = ingest(folders=[str(folder)])
    records = quarantine_by_path(index_snapshot(es_settings.es.url, es_settings.es.index))
    reasons = {os.path.basename(path): [r["reason"] for r in rs] for path, rs in records.items()}
    assert balanced(first) and first["written"] == 1 and first["quarantined"] == 5
    assert reasons == {
        "replaced.txt": ["changed_while_read"], "growing.txt": ["changed_while_read"], "vanishing.txt": ["unreadable"],
        "io-error.txt": ["unreadable"], "reader-crash.txt": ["extract_error"],
    }  # fmt: skip

    second = ingest(folders=[str(folder)])
    after = index_snapshot(es_settings.es.url, es_settings.es.index)
    # Files whose failure may pass are read again even when their size and mtime say "unchanged";
    # the vanished file is gone with its record; the reader bug waits for the file to change.
    assert balanced(second) and second["written"] == 3 and second["unchanged"] == 2 and second["deleted_sources"] == 1
    assert {os.path.basename(p) for p in quarantine_by_path(after)} == {"reader-crash.txt"}
    titles = {d["title"] for d in after["articles"].values()}
    assert {"Story number X", "Story number 1", "Story number 3", "Story number 5"} == titles
    assert any("late paragraph" in d["body"] for d in after["articles"].values())


def test_a_written_file_that_turns_bad_gives_up_its_article(es_settings, prefect_api, tmp_path):
    from newsetl.flows.ingest import ingest

    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "harbour.txt").write_text(f"Harbour dredging approved\n\n{STORY}", encoding="utf-8")
    (folder / "harbour-copy.txt").write_text(f"Harbour dredging approved\n\n{STORY}", encoding="utf-8")
    (folder / "lighthouse.txt").write_text(f"Lighthouse repainted\n\n{FIXED_STORY}", encoding="utf-8")
    ingest(folders=[str(folder)])
    (folder / "harbour.txt").write_bytes(b"")  # truncated by a failed copy
    (folder / "lighthouse.txt").write_bytes(random.Random(1).randbytes(3000))  # overwritten with junk
    summary = ingest(folders=[str(folder)])
    after = index_snapshot(es_settings.es.url, es_settings.es.index)
    assert summary["quarantined"] == 2 and summary["unchanged"] == 1 and balanced(summary)
    # The files no longer hold their articles: the copy keeps the harbour story, nothing keeps the lighthouse.
    assert {d["title"]: [os.path.basename(s["path"]) for s in d["sources"]] for d in after["articles"].values()} == {
        "Harbour dredging approved": ["harbour-copy.txt"]
    }
    assert after["states"][str(folder / "harbour.txt")]["article_ids"] == []


# --- Interrupted runs -----------------------------------------------------------------------------

ARTICLES = 64
BATCH = 10
NEAR_COPIES = (2, 12, 22, 32)  # each copied, a little edited, 15 files later (a later batch), with an older mtime
EXACT_COPIES = (5, 40)


def headline(url: str, body: str) -> str:
    slug = url.rstrip("/").rsplit("/", 1)[-1].split("?")[0].rsplit(".", 1)[0]
    words = [w for w in slug.replace("_", "-").split("-") if w.isalpha()]
    if len(words) < 3:
        words = body.split()[:8]
    return " ".join(words).capitalize()


def shortened(body: str, chars: int = 1000) -> str:
    paragraphs, length = [], 0
    for paragraph in body.split("\n"):
        if paragraph.strip():
            paragraphs.append(paragraph.strip())
            length += len(paragraph)
        if length >= chars:
            break
    return "\n\n".join(paragraphs)


def write_articles_folder(folder: Path) -> list[Path]:
    """News articles as .txt files (gold bodies of a shared corpus), near and exact copies in later batches."""
    gold = json.loads(
        (corpus("scrapinghub-article-extraction-benchmark") / "ground-truth.json").read_text(encoding="utf-8")
    )
    folder.mkdir()
    base = 1_700_000_000
    texts = []
    for number, (_, item) in enumerate(sorted(gold.items())[:ARTICLES]):
        body = shortened(item["articleBody"])
        texts.append(f"{headline(item['url'], body)}\n\n{body}\n")
        write_with_mtime(folder / f"a{number:03d}.txt", texts[-1], base + number * 3600)
    for number in NEAR_COPIES:
        edited = texts[number].rstrip("\n") + " Editors added this sentence in a later edition.\n"
        write_with_mtime(folder / f"a{number + 15:03d}n.txt", edited, base - 86400)
    for number in EXACT_COPIES:
        write_with_mtime(folder / f"a{number + 15:03d}c.txt", texts[number], base + 7 * 86400)
    return sorted(folder.iterdir())


def write_with_mtime(path: Path, text: str, mtime: float) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime, mtime))


def run_env(url: str, alias: str, **extra: str) -> dict[str, str]:
    """The environment of a `newsetl run` subprocess against one node and alias."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSETL_")}
    env.update(
        NEWSETL_ES_URL=url, NEWSETL_INDEX=alias, NEWSETL_FLOW_BATCH_SIZE=str(BATCH),
        NEWSETL_ES_MAX_RETRIES="2", NEWSETL_ES_RETRY_BACKOFF_SECONDS="0.2", **extra,
    )  # fmt: skip
    return env


def drop_alias(es_url: str, alias: str) -> None:
    client = connect_to(es_url)
    try:
        names = list(client.indices.get(index=f"{alias}-*", allow_no_indices=True, expand_wildcards="all").body)
        if names:
            client.indices.delete(index=",".join(names))
        client.options(ignore_status=404).indices.delete_index_template(name=alias)
    finally:
        client.close()


@pytest.fixture(scope="module")
def articles_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("interrupted") / "articles"
    write_articles_folder(folder)
    return folder


@pytest.fixture(scope="module")
def clean_run(es_node, prefect_api, articles_folder) -> dict:
    """The index one uninterrupted run leaves (its own alias on the session node)."""
    alias = f"test-clean-{uuid.uuid4().hex[:8]}"
    run = newsetl("run", str(articles_folder), "--json", env=run_env(es_node.es.url, alias))
    assert run.returncode == 0, run.stderr[-3000:]
    summary = last_json(run.stdout)
    snapshot = index_snapshot(es_node.es.url, alias)
    assert balanced(summary) and summary["written"] > 0 and summary["near_duplicates"] == len(NEAR_COPIES)
    yield snapshot
    drop_alias(es_node.es.url, alias)


class WatchedRun:
    """`newsetl run` as a subprocess whose Prefect log lines are watched as they come."""

    FINISHED = re.compile(r"Task run '([a-z-]+)-[0-9a-f]+' - Finished in state Completed")

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        # --verbose: the task lines this class watches are hidden by default.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsetl.cli", *args, "--verbose"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env, cwd=REPO, start_new_session=True,
        )  # fmt: skip
        self.stderr: list[str] = []
        self.stdout = ""
        self.finished: Counter[str] = Counter()
        self.ended = False  # stderr closed: every line is read
        self.changed = threading.Condition()
        self.readers = [threading.Thread(target=read, daemon=True) for read in (self._read_stderr, self._read_stdout)]
        for reader in self.readers:
            reader.start()

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            with self.changed:
                self.stderr.append(line.rstrip("\n"))
                if match := self.FINISHED.search(line):
                    self.finished[match.group(1)] += 1
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def _read_stdout(self) -> None:
        self.stdout = self.process.stdout.read()

    def wait_for(self, task: str, times: int, timeout: float = 120) -> None:
        """Return as soon as the `task` task has finished `times` times in this run."""
        with self.changed:
            done = self.changed.wait_for(lambda: self.finished[task] >= times or self.ended, timeout)
        tail = "\n".join(self.stderr[-20:])
        assert done and self.finished[task] >= times, f"{task} finished {self.finished[task]} times:\n{tail}"

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the run's own process group (start_new_session)
        except ProcessLookupError:
            pass  # it had ended already
        self.wait()

    def wait(self, timeout: float = 120) -> int:
        code = self.process.wait(timeout)
        for reader in self.readers:
            reader.join(10)
        return code


@pytest.fixture
def watch():
    """Start watched runs; any still running when the test ends is killed."""
    runs: list[WatchedRun] = []

    def start(args: list[str], env: dict[str, str]) -> WatchedRun:
        runs.append(WatchedRun(args, env))
        return runs[-1]

    yield start
    for run in runs:
        if run.process.poll() is None:
            run.kill()


def article_of(snapshot: dict, file_name: str) -> dict:
    (article,) = [d for d in snapshot["articles"].values() if d["sources"][0]["path"].endswith(f"/{file_name}")]
    return article


def wait_until_written(url: str, alias: str, article_id: str, run: WatchedRun, timeout: float = 60) -> None:
    """Poll with realtime GETs (no refresh) until the document exists."""
    client = connect_to(url)
    deadline = time.monotonic() + timeout
    try:
        while not client.options(ignore_status=404).exists(index=alias, id=article_id):
            assert run.process.poll() is None and time.monotonic() < deadline, (
                "the run ended before writing the article"
            )
            time.sleep(0.001)
    finally:
        client.close()


def batch_of(files: list[Path], name: str) -> int:
    return [f.name for f in files].index(name) // BATCH


@pytest.mark.slow
def test_runs_killed_at_any_point_then_rerun_leave_one_clean_runs_index(es_settings, clean_run, articles_folder, watch):
    """kill -9 after discovery, during a batch's bulk write, between batches; the last re-run completes."""
    files = sorted(articles_folder.iterdir())
    first_near = batch_of(files, f"a{NEAR_COPIES[0] + 15:03d}n.txt")  # its bulk write moves a canonical
    assert first_near > batch_of(files, f"a{NEAR_COPIES[0]:03d}.txt")
    # One bulk request per action: a kill lands between the new documents and the updates of old ones.
    env = run_env(es_settings.es.url, es_settings.es.index, NEWSETL_ES_BULK_CHUNK_SIZE="1")
    url, alias = es_settings.es.url, es_settings.es.index
    left = []

    run = watch(["run", str(articles_folder)], env)
    run.wait_for("discover", 1)
    run.kill()
    left.append(index_snapshot(url, alias))

    run = watch(["run", str(articles_folder)], env)
    run.wait_for("enrich", first_near + 1)  # the batch's index task starts now
    # Killed as soon as the new canonical is written: before the update of the old one, if in time.
    canonical = article_of(clean_run, f"a{NEAR_COPIES[0] + 15:03d}n.txt")
    wait_until_written(url, alias, canonical["id"], run)
    run.kill()
    left.append(index_snapshot(url, alias))
    original = left[-1]["articles"].get(article_of(clean_run, f"a{NEAR_COPIES[0]:03d}.txt")["id"], {})
    print("killed between the new canonical and the old one's update:", original.get("is_canonical"))

    run = watch(["run", str(articles_folder)], env)
    run.wait_for("index", 2)  # killed between two batches of this re-run
    run.kill()
    left.append(index_snapshot(url, alias))

    for snapshot in left:
        assert_whole_documents(snapshot)
    print("after each kill (articles, file states):", [(len(s["articles"]), len(s["states"])) for s in left])
    final = newsetl("run", str(articles_folder), "--json", env=env)
    assert final.returncode == 0, final.stderr[-3000:]
    assert balanced(last_json(final.stdout))
    assert_same_index(index_snapshot(url, alias), clean_run)


def own_node(es_node, home: Path):
    """Settings of a node of this test's own, on free ports, so the session node is left alone."""
    from newsetl import local_es

    while True:
        port = free_port()
        if port + 100 < 65536 and not local_es.port_in_use("127.0.0.1", port + 100):
            break
    return replace(
        es_node,
        es=replace(es_node.es, url=f"http://127.0.0.1:{port}"),
        local_es=replace(es_node.local_es, home=str(home), data="", heap="512m"),
    )


@pytest.mark.slow
def test_node_stopped_mid_run_fails_the_run_and_the_rerun_finishes_the_work(
    es_node, clean_run, articles_folder, tmp_path, watch
):
    """An outage longer than the retries fails the run in one line; a re-run rides out a restart and finishes."""
    from newsetl import local_es

    node = own_node(es_node, tmp_path / "node")
    alias = "articles-outage"
    env = run_env(node.es.url, alias, NEWSETL_LOCAL_ES_HOME=node.local_es.home)
    local_es.start(node.es, node.local_es)
    try:
        run = watch(["run", str(articles_folder)], env)
        run.wait_for("index", 1)
        local_es.stop(node.es, node.local_es)
        assert run.wait() != 0
        assert run.stderr[-1].startswith(f"newsetl: Elasticsearch at {node.es.url} unavailable"), run.stderr[-5:]
        assert any("retry 2/2" in line for line in run.stderr)  # backed off before giving up
        assert not any(line.startswith("Traceback") for line in run.stderr)

        local_es.start(node.es, node.local_es)
        partial = index_snapshot(node.es.url, alias)
        assert 0 < len(partial["articles"]) < len(clean_run["articles"])
        assert_whole_documents(partial)
        # Retries over about 30 seconds: the node's restart in the middle of this run is waited out.
        patient = {**env, "NEWSETL_ES_MAX_RETRIES": "6", "NEWSETL_ES_RETRY_BACKOFF_SECONDS": "0.5"}
        rerun = watch(["run", str(articles_folder), "--json"], patient)
        rerun.wait_for("index", 1)
        local_es.stop(node.es, node.local_es)
        local_es.start(node.es, node.local_es)
        assert rerun.wait() == 0, "\n".join(rerun.stderr[-30:])
        assert any("retry 1/6" in line for line in rerun.stderr)  # the restart did hit this run
        assert balanced(last_json(rerun.stdout))
        assert_same_index(index_snapshot(node.es.url, alias), clean_run)
    finally:
        local_es.stop(node.es, node.local_es)


def test_a_crash_between_a_new_canonical_and_the_old_ones_flags_heals(es_settings, prefect_api, tmp_path, monkeypatch):
    """Articles written, then the run dies before the updates of older articles and the file states."""
    from newsetl.flows.ingest import ingest
    from newsetl.tasks.es.store import ElasticsearchStore
    from newsetl.tasks.store import ArticleWrites

    folder = tmp_path / "news"
    folder.mkdir()
    base = 1_700_000_000
    write_with_mtime(folder / "a1.txt", f"Harbour dredging approved\n\n{STORY}", base)
    write_with_mtime(folder / "a2.txt", f"Lighthouse repainted\n\n{FIXED_STORY}", base)
    # b1 is a later edition of a1 with an older date: it becomes its cluster's canonical.
    write_with_mtime(
        folder / "b1.txt", f"Harbour dredging approved\n\n{STORY} The vote was seven to two.", base - 86400
    )
    write_with_mtime(folder / "b2.txt", f"Harbour dredging approved\n\n{STORY}", base)  # an exact copy of a1
    real_write = ElasticsearchStore.write_articles

    class Killed(Exception):
        pass

    def write_then_die(store, writes):
        if any(ref["path"].endswith("b1.txt") for d in writes.documents.values() for ref in d["sources"]):
            real_write(store, ArticleWrites(documents=writes.documents))
            raise Killed("the process died after the new documents")
        return real_write(store, writes)

    with monkeypatch.context() as crash:
        crash.setattr(ElasticsearchStore, "write_articles", write_then_die)
        with pytest.raises(Exception, match="died after the new documents"):
            ingest(folders=[str(folder)], batch_size=2)
    broken = index_snapshot(es_settings.es.url, es_settings.es.index)
    assert sum(d["is_canonical"] for d in broken["articles"].values() if d["title"].startswith("Harbour")) == 2

    healed = ingest(folders=[str(folder)], batch_size=2)
    got = index_snapshot(es_settings.es.url, es_settings.es.index)
    monkeypatch.setenv("NEWSETL_INDEX", clean_alias := f"{es_settings.es.index}-clean")
    try:
        ingest(folders=[str(folder)], batch_size=2)
        clean = index_snapshot(es_settings.es.url, clean_alias)
    finally:
        drop_alias(es_settings.es.url, clean_alias)
    assert balanced(healed)
    assert_same_index(got, clean)
    harbour = {
        os.path.basename(d["sources"][0]["path"]): d
        for d in got["articles"].values()
        if d["title"].startswith("Harbour")
    }
    assert harbour["b1.txt"]["is_canonical"] and not harbour["a1.txt"]["is_canonical"]
    assert harbour["a1.txt"]["cluster_id"] == harbour["b1.txt"]["id"]
    assert [os.path.basename(s["path"]) for s in harbour["a1.txt"]["sources"]] == ["a1.txt", "b2.txt"]


# --- The pure parts of the fixes -----------------------------------------------------------------


def test_refused_files_are_unchanged_when_refused_again_for_the_same_reason():
    from newsetl.tasks.records import RETRY_SIZE, Quarantine, SourceFile, SourceState
    from newsetl.tasks.source_state import plan_changes, refused_states

    previous = {
        "/r/big.txt": SourceState("/r/big.txt", RETRY_SIZE, 0.0, status="quarantined", reason="too_large"),
        "/r/link.txt": SourceState("/r/link.txt", 10, 5.0, "s", "written", ("a1",)),
    }
    records = [
        Quarantine("/r/big.txt", "too_large", "9 bytes"),
        Quarantine("/r/link.txt", "outside_root", "symlink to /x"),
    ]
    states, repeated = refused_states(records, previous)
    assert repeated == {"/r/big.txt"}
    assert [(s.size, s.status, s.reason, s.article_ids) for s in states] == [
        (RETRY_SIZE, "quarantined", "too_large", ()),
        (RETRY_SIZE, "quarantined", "outside_root", ("a1",)),  # kept: the article loses it when it goes
    ]
    # Accepted later, a refused file is read even if its size and mtime happen to match.
    accepted = SourceFile("/r/big.txt", "/r", RETRY_SIZE, 0.0)
    assert plan_changes([accepted], {s.path: s for s in states}, ["/r"]).to_read == (accepted,)


def test_only_failures_that_may_pass_are_retried_whatever_the_stat_says():
    from newsetl.tasks.records import Quarantine, SourceFile
    from newsetl.tasks.source_state import plan_changes, quarantined_state

    source = SourceFile("/r/a.txt", "/r", 10, 5.0)
    retried = quarantined_state(Quarantine("/r/a.txt", "changed_while_read", "replaced"), source)
    settled = quarantined_state(Quarantine("/r/a.txt", "binary", "PNG image"), source)
    assert plan_changes([source], {"/r/a.txt": retried}, ["/r"]).to_read == (source,)
    assert plan_changes([source], {"/r/a.txt": settled}, ["/r"]).unchanged == (source,)


def test_articles_of_files_without_a_state_are_clustered_again():
    from newsetl.config.settings import DedupeSettings
    from newsetl.tasks.dedupe import encode_signature, sketch_body
    from newsetl.tasks.reconcile import cluster_changes, interrupted_articles
    from newsetl.tasks.records import CleanArticle, SourceRef, SourceState, StoredArticle
    from newsetl.tasks.store import MemoryStore

    settings = DedupeSettings()
    old_body, new_body = STORY, STORY + " The vote was seven to two."
    old_ref, new_ref = (
        SourceRef("/r/a.txt", "s1", "text", 1, "2024-01-02"),
        SourceRef("/r/b.txt", "s2", "text", 1, "2024-01-01"),
    )
    store = MemoryStore()
    for article_id, body, ref, date in (
        ("old", old_body, old_ref, "2024-01-02"),
        ("new", new_body, new_ref, "2024-01-01"),
    ):
        sketch = sketch_body(body, settings)
        # As a run that died left them: both canonical of their own cluster.
        store.documents[article_id] = {
            "id": article_id, "sources": [{"path": ref.path, "sha256": ref.sha256}],
            "cluster_id": article_id, "is_canonical": True,
            "minhash": encode_signature(sketch.signature), "lsh_bands": list(sketch.band_keys), "published_at": date,
            "word_count": len(body.split()),
        }  # fmt: skip
    stored = store.stored_articles(["old", "new"])
    article = CleanArticle("new", "Harbour", new_body, new_ref, "g")
    known = {"/r/a.txt": SourceState("/r/a.txt", 1, 1.0, "s1", "written", ("old",))}
    assert interrupted_articles([article], known, stored) == ["new"]  # b.txt has no state: never recorded
    changed = {**known, "/r/b.txt": SourceState("/r/b.txt", 1, 1.0, article_ids=("older",))}
    assert interrupted_articles([article], changed, stored) == ["new"]  # its state is of an older version
    recorded = {**known, "/r/b.txt": SourceState("/r/b.txt", 1, 1.0, article_ids=("new",))}
    assert interrupted_articles([article], recorded, stored) == []
    changes = cluster_changes([], [], [], store, settings, recovered=[stored["new"]])
    assert {i: (a.cluster_id, a.is_canonical) for i, a in changes.items()} == {"old": ("new", False)}
    assert isinstance(stored["new"], StoredArticle)


def test_partial_answers_from_a_recovering_node_are_retried_not_trusted():
    from newsetl.config.settings import ElasticsearchSettings
    from newsetl.tasks.errors import ElasticsearchUnavailable
    from newsetl.tasks.es.client import complete, with_retries

    es = ElasticsearchSettings(max_retries=2, retry_backoff_seconds=0.01)
    answers = iter([
        {"docs": [{"_id": "a", "error": {"type": "no_shard_available_action_exception"}}]},
        {"_shards": {"total": 1, "failed": 1}, "hits": {"hits": []}},
        {"docs": [{"_id": "a", "found": True, "_source": {}}]},
    ])  # fmt: skip
    assert with_retries(lambda: complete(next(answers), "get articles"), es, "get articles")["docs"][0]["found"]
    with pytest.raises(ElasticsearchUnavailable, match="shards failed"):
        with_retries(lambda: complete({"_shards": {"total": 1, "failed": 1}}, "read"), es, "read")


# --- Secrets and TLS ------------------------------------------------------------------------------


def test_no_secret_reaches_logs_artifacts_or_indices(es_settings, prefect_api, bad_folder, tmp_path):
    """Credentials from the environment are sent, never printed, logged, published or indexed."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTimestamp
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH

    from newsetl.config.settings import load_settings
    from newsetl.tasks.es.client import connect

    started = time.time()
    marker = uuid.uuid4().hex
    secrets = {
        "NEWSETL_ES_API_KEY": f"apikey-{marker}",
        "NEWSETL_ES_PASSWORD": f"password-{marker}",
        "KIBANA_PASSWORD": f"kibana-{marker}",
        "KIBANA_API_KEY": f"kibana-key-{marker}",
        "NEWSETL_ES_URL's password": f"in-url-{marker}",
    }
    env = {**os.environ, "NEWSETL_ES_USERNAME": "newsetl-user", "KIBANA_USERNAME": "kibana-user"}
    env.update((name, secret) for name, secret in secrets.items() if name.isidentifier())
    # The local node has no security module: it ignores the Authorization header of either kind.
    settings = load_settings(env)
    for es in (settings.es, replace(settings.es, api_key="")):
        client = connect(es)
        assert client.cluster.health()["status"] in {"green", "yellow"}
        client.close()
    run = newsetl("run", str(bad_folder), "--json", env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    without_key = {k: v for k, v in env.items() if k != "NEWSETL_ES_API_KEY"}  # user and password this time
    search = newsetl("search", "harbour", "--json", env=without_key)
    assert search.returncode == 0 and last_json(search.stdout)["total"] >= 1, search.stderr
    # A failing run: error messages and the failure Prefect persists are where a secret would slip out.
    # Credentials in the URL itself are taken out of it, as if given as username and password.
    url_password = secrets["NEWSETL_ES_URL's password"]
    in_url = f"http://someone:{url_password}@127.0.0.1:9"
    failed = newsetl("run", str(bad_folder), env={**env, "NEWSETL_ES_URL": in_url, "NEWSETL_ES_MAX_RETRIES": "1"})
    assert failed.returncode != 0 and "newsetl: Elasticsearch at http://127.0.0.1:9 unavailable" in failed.stderr
    settings_with_url = load_settings({**env, "NEWSETL_ES_URL": in_url})

    since = LogFilter(timestamp=LogFilterTimestamp(after_=datetime.fromtimestamp(started - 5, UTC)))
    with get_client(sync_client=True) as client:
        logs = every_page(lambda offset: client.read_logs(log_filter=since, limit=200, offset=offset))
        artifacts = every_page(lambda offset: client.read_artifacts(limit=200, offset=offset))
        flow_runs = every_page(lambda offset: client.read_flow_runs(limit=200, offset=offset))
    snapshot = index_snapshot(es_settings.es.url, es_settings.es.index)
    storage = Path(PREFECT_LOCAL_STORAGE_PATH.value()).expanduser()
    persisted = (
        [f for f in storage.glob("*") if f.is_file() and f.stat().st_mtime >= started - 1] if storage.exists() else []
    )
    texts = {
        "run output": run.stdout + run.stderr,
        "failed run output": failed.stdout + failed.stderr,
        "persisted results": "\n".join(readable(f.read_bytes()) for f in persisted),
        "search output": search.stdout + search.stderr,
        "prefect logs": "\n".join(log.message for log in logs),
        "prefect artifacts": "\n".join(f"{a.key} {a.description} {a.data}" for a in artifacts),
        "prefect flow runs": "\n".join(f"{r.parameters} {r.state.message if r.state else ''}" for r in flow_runs),
        "indices": json.dumps(snapshot, ensure_ascii=False),
        "settings": repr(settings) + str(settings) + repr(settings_with_url),
    }
    assert "Finished in state Completed" in texts["prefect logs"] and "ingest-summary" in texts["prefect artifacts"]
    assert snapshot["quarantine"] and snapshot["states"]
    leaks = {where: name for where, text in texts.items() for name, secret in secrets.items() if secret in text}
    assert not leaks
    assert marker not in json.dumps(texts)


def every_page(read_page) -> list:
    """All the records of a paged Prefect API read."""
    records: list = []
    while page := read_page(len(records)):
        records += page
        if len(page) < 200:
            break
    return records


def readable(data: bytes) -> str:
    """Text of a stored result, base64 (Prefect's pickled results) undone where it applies."""
    import base64
    import binascii

    try:
        data += b"\n" + base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        pass
    return data.decode("utf-8", errors="replace")


def test_secrets_come_from_the_environment_only(tmp_path):
    from newsetl.config.settings import SettingsError, load_settings

    with_secret = tmp_path / "with-secret.toml"
    with_secret.write_text('[es]\napi_key = "from-the-file"\n')
    with pytest.raises(SettingsError, match="es.api_key is a secret: set NEWSETL_ES_API_KEY") as refused:
        load_settings({}, with_secret)
    assert "from-the-file" not in str(refused.value)
    settings_file = tmp_path / "settings.toml"
    settings_file.write_text('[es]\nurl = "http://127.0.0.1:9200"\n')
    environ = {"NEWSETL_ES_API_KEY": "k-secret", "NEWSETL_ES_PASSWORD": "p-secret", "KIBANA_PASSWORD": "kp-secret"}
    from_env = load_settings(environ, settings_file)
    assert from_env.es.api_key == "k-secret" and from_env.kibana.password == "kp-secret"
    assert not any(secret in repr(from_env) for secret in ("k-secret", "p-secret", "kp-secret"))


def test_https_connections_verify_certificates_by_default():
    from newsetl.config.settings import ElasticsearchSettings, load_settings
    from newsetl.tasks.es.client import connect

    https = "https://es.example:9200"
    for es in (ElasticsearchSettings(url=https), replace(load_settings({}).es, url=https)):
        node = connect(es).transport.node_pool.all()[0]
        assert node.config.verify_certs and node.pool.cert_reqs == "CERT_REQUIRED"
    ca = REPO / "config" / "settings.toml"  # any existing file: only the option is checked
    node = connect(ElasticsearchSettings(url="https://es.example:9200", ca_certs=str(ca))).transport.node_pool.all()[0]
    assert node.config.ca_certs == str(ca)


def test_a_server_with_an_untrusted_certificate_is_refused_in_one_line(tmp_path):
    """TLS verification really happens: a self-signed server is refused until its CA is given."""
    import http.server
    import ssl

    from newsetl.config.settings import ElasticsearchSettings
    from newsetl.tasks.errors import ConfigurationError
    from newsetl.tasks.es.client import check_reachable

    if subprocess.run(["openssl", "version"], capture_output=True).returncode != 0:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "green", "cluster_name": "fake"}).encode()
            self.send_response(200)
            for name, value in (("Content-Type", "application/json"), ("X-Elastic-Product", "Elasticsearch")):
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        es = ElasticsearchSettings(url=url, max_retries=3, retry_backoff_seconds=5.0)
        started = time.monotonic()
        with pytest.raises(ConfigurationError, match="certificate") as refused:
            check_reachable(es)
        assert "\n" not in str(refused.value) and time.monotonic() - started < 4  # not retried: it will not pass
        check_reachable(replace(es, ca_certs=str(cert)))  # trusted once its CA is configured
    finally:
        server.shutdown()
