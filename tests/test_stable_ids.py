"""Article ids and bodies depend on the folder only: not on batches, and not on how often it was run (issue 15)."""

from __future__ import annotations

import random
import shutil
import uuid
from pathlib import Path

import pytest

from tests.conftest import delete_indices

WORDS = (
    "harbour council river bridge market school library festival budget mayor ferry tram rain museum garden station"
).split()
# Site lines repeated across a folder's stories: what cross-file boilerplate learning removes.
SITE_LINES = (
    "Subscribe to the {site} weekly digest today",
    "Follow the {site} on social media for updates",
    "{site} newsroom tips line open weekdays",
)


def write_sites(root: Path, stories: int = 14) -> None:
    """Two folders (sites) of stories sharing site lines in different shares: some are boilerplate, some not."""
    rng = random.Random(7)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "."

    for site in ("gazette", "courier"):
        folder = root / site
        folder.mkdir(parents=True)
        for number in range(stories):
            paragraphs = [" ".join(sentence() for _ in range(3)) for _ in range(3)]
            if number % 3:
                paragraphs.insert(1, SITE_LINES[0].format(site=site.title()))
            if number % 2:
                paragraphs.append(SITE_LINES[1].format(site=site.title()))
            if number in (2, 5, 9, 12):  # 4 of 14: just under the share that makes a line boilerplate
                paragraphs.append(SITE_LINES[2].format(site=site.title()))
            text = f"Story {number} of the {site} about the {rng.choice(WORDS)}\n\n" + "\n\n".join(paragraphs) + "\n"
            (folder / f"story-{number:02d}.txt").write_text(text, encoding="utf-8")


def test_bodies_do_not_depend_on_batches(tmp_path):
    """The clean step alone: one batch or batches of three give the same bodies and ids."""
    from newsetl.config.settings import load_settings
    from newsetl.tasks.clean import RunStore, clean_batch, learn_run_boilerplate
    from newsetl.tasks.discover import discover_files
    from newsetl.tasks.extract import extract_batch
    from newsetl.tasks.store import MemoryStore

    settings = load_settings({})
    write_sites(tmp_path)
    files = discover_files([tmp_path], settings.discover).files

    def cleaned(batch_size: int) -> set[tuple[str, str]]:
        batches = [extract_batch(files[i : i + batch_size], settings.extract) for i in range(0, len(files), batch_size)]
        run = learn_run_boilerplate(batches, settings.clean)
        store = RunStore(MemoryStore(), [f.path for f in files], {})
        return {(a.id, a.body) for batch in batches for a in clean_batch(batch, store, settings.clean, run).articles}

    whole, in_threes = cleaned(len(files)), cleaned(3)
    assert whole == in_threes and len(whole) == len(files)
    bodies = "\n".join(body for _, body in whole)
    assert "weekly digest" not in bodies and "social media" not in bodies  # learned boilerplate went
    assert bodies.count("newsroom tips line") == 8  # a line in 4 of 14 stories is the stories' own


@pytest.mark.elasticsearch
@pytest.mark.prefect
@pytest.mark.slow
def test_run_force_force_leave_identical_ids_and_bodies(es_settings, prefect_api, tmp_path, monkeypatch):
    from newsetl.flows.ingest import ingest
    from newsetl.tasks.es.client import connect

    write_sites(tmp_path / "sites")
    folder = str(tmp_path / "sites")
    monkeypatch.setenv("NEWSETL_FLOW_BATCH_SIZE", "3")  # batches matter: each sees a few files of a site
    client = connect(es_settings.es)

    def pairs(alias: str) -> set[tuple[str, str]]:
        client.indices.refresh(index=alias)
        hits = client.search(index=alias, size=100, source_includes=["id", "body"])["hits"]["hits"]
        return {(hit["_source"]["id"], hit["_source"]["body"]) for hit in hits}

    first = ingest(folders=[folder])
    after_first = pairs(es_settings.es.index)
    second = ingest(folders=[folder], force=True)
    after_second = pairs(es_settings.es.index)
    third = ingest(folders=[folder], force=True)
    after_third = pairs(es_settings.es.index)
    assert first["written"] == 28 and second["unchanged"] == third["unchanged"] == 28
    assert len(after_first) == 28 and after_first == after_second == after_third
    assert not any("weekly digest" in body for _, body in after_first)

    # Another alias, one batch for the whole folder: the same ids and bodies.
    other = f"test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("NEWSETL_INDEX", other)
    try:
        ingest(folders=[folder], batch_size=200)
        assert pairs(other) == after_first
    finally:
        delete_indices(es_settings, other)
        client.options(ignore_status=404).indices.delete_index_template(name=other)
        client.close()


@pytest.mark.elasticsearch
@pytest.mark.prefect
@pytest.mark.slow
def test_an_article_keeps_its_id_when_cleaning_learns_more_and_its_body_is_updated(
    es_settings, prefect_api, tmp_path, monkeypatch
):
    from newsetl.flows.ingest import ingest
    from newsetl.tasks.es.client import connect

    write_sites(tmp_path / "sites")
    shutil.rmtree(tmp_path / "sites" / "gazette")
    courier = tmp_path / "sites" / "courier"
    monkeypatch.setenv("NEWSETL_FLOW_BATCH_SIZE", "3")
    client = connect(es_settings.es)

    def by_path() -> dict[str, tuple[str, str]]:
        client.indices.refresh(index=es_settings.es.index)
        hits = client.search(index=es_settings.es.index, size=100)["hits"]["hits"]
        return {s["path"]: (h["_source"]["id"], h["_source"]["body"]) for h in hits for s in h["_source"]["sources"]}

    ingest(folders=[str(courier)])
    before = by_path()
    tips = SITE_LINES[2].format(site="Courier")
    assert sum(tips in body for _, body in before.values()) == 4  # in 4 of 14 stories: the stories' own
    subjects = ("ferry pier", "tram depot", "swimming baths", "town hall clock", "north quay", "bus station")
    for number, subject in zip(range(20, 26), subjects, strict=True):  # now in 10 of 20: the site's line
        # six different stories (versions of one story would count once)
        story = f"The {subject} reopened on Monday after {number} weeks of repairs, the council said in a statement."
        (courier / f"extra-{number}.txt").write_text(f"Pier story {number}\n\n{story}\n\n{tips}\n")
    ingest(folders=[str(courier)], force=True)
    after = by_path()
    client.close()
    assert {path: ids for path, (ids, _) in after.items() if path in before} == {
        path: ids for path, (ids, _) in before.items()
    }
    assert not any(tips in body for _, body in after.values())  # the bodies were cleaned again, in place
    assert len(after) == 20 and len({ids for ids, _ in after.values()}) == 20
