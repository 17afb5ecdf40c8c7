"""Tests of tasks/dedupe.py: exact groups, MinHash signatures and LSH keys, order-independent clusters."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evals.dedupe import InMemoryIndex
from newsetl.config.settings import DedupeSettings
from newsetl.tasks.dedupe import (
    ClusterAssignment,
    NearDupCandidate,
    candidate_from_article,
    decode_signature,
    encode_signature,
    estimated_jaccard,
    exact_jaccard,
    find_candidate_pairs,
    group_exact_duplicates,
    lsh_band_keys,
    minhash_signature,
    resolve_clusters,
    shingle_hashes,
    sketch_body,
)
from newsetl.tasks.records import CleanArticle, SourceRef

FIXTURES = Path(__file__).parent / "fixtures" / "dedupe"
REPO = Path(__file__).resolve().parents[1]
SETTINGS = DedupeSettings(shingle_words=5, num_perm=128, bands=32, threshold=0.7, min_shingles=20)


def read_fixture(name: str) -> tuple[str, list[str]]:
    title, body = (FIXTURES / name).read_text(encoding="utf-8").strip().split("\n\n", 1)
    return title, body.split("\n\n")


WIRE_TITLE, WIRE = read_fixture("wire_story.txt")
OTHER_TITLE, OTHER = read_fixture("same_headline_other_story.txt")
COMMENTARY_TITLE, COMMENTARY = read_fixture("commentary.txt")


def article(title: str, paragraphs: list[str], path: str, published_at: str | None = None) -> CleanArticle:
    body = "\n\n".join(paragraphs)
    # Stand-in for tasks/clean.py's article_id: same cleaned text, same id.
    article_id = hashlib.sha256(f"{title}\n\n{body}".encode()).hexdigest()
    source = SourceRef(path=path, sha256=hashlib.sha256(path.encode()).hexdigest(), format=path.rsplit(".", 1)[-1],
                       size=len(body), modified="2024-05-01T00:00:00Z")
    return CleanArticle(id=article_id, title=title, body=body, source=source, group="test", published_at=published_at)


def similarity(first: list[str], second: list[str]) -> float:
    signatures = [minhash_signature("\n\n".join(paragraphs), SETTINGS) for paragraphs in (first, second)]
    return estimated_jaccard(*signatures)


def clusters_of(articles: list[CleanArticle]) -> dict[str, ClusterAssignment]:
    candidates = [candidate_from_article(a, sketch_body(a.body, SETTINGS)) for a in articles]
    return resolve_clusters(candidates, [], SETTINGS)


def edited(paragraphs: list[str]) -> list[str]:
    """A lightly edited copy: two words changed, one typo, a sentence added at the end."""
    text = "\n\n".join(paragraphs).replace("Thursday evening", "Thursday night").replace("hardest", "toughest")
    text = text.replace("reservoirs", "resevoirs")
    return text.split("\n\n") + ["The water company did not respond to a request for comment."]


def quoting(host: list[str], quoted: list[str]) -> list[str]:
    return host[:3] + quoted[1:3] + host[3:]


# --- signatures -----------------------------------------------------------------------------------


def test_signature_of_a_fixed_text_has_golden_values():
    body = "\n\n".join(WIRE)
    sketch = sketch_body(body, SETTINGS)
    assert sketch.signature.dtype == np.uint32 and sketch.signature.shape == (128,)
    assert sketch.signature[:4].tolist() == [8174312, 2250539, 27235468, 13433728]
    assert sketch.shingles == 273
    assert sketch.band_keys[:2] == ("b00:995d1e5a9d0d", "b01:6251692f4747")
    assert minhash_signature("The quick brown fox jumps over the lazy dog.", SETTINGS)[:4].tolist() == [
        1280606735, 41394330, 103240103, 239748457
    ]


def test_signature_is_the_same_in_another_process_with_another_hash_seed():
    code = (
        "from newsetl.config.settings import DedupeSettings;"
        " from newsetl.tasks.dedupe import minhash_signature, encode_signature;"
        "print(encode_signature(minhash_signature(open(0).read(), DedupeSettings())))"
    )
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    body = "\n\n".join(WIRE)
    out = subprocess.run([sys.executable, "-c", code], input=body, capture_output=True, text=True, check=True,
                         cwd=REPO, env=environment)
    assert out.stdout.strip() == encode_signature(minhash_signature(body, DedupeSettings()))


def test_shingles_ignore_case_punctuation_and_spacing():
    assert np.array_equal(
        shingle_hashes("The Mayor's  office, said: “no comment” today!", 5),
        shingle_hashes("the mayors office said no\n\ncomment today", 5),
    )
    word_order_matters = shingle_hashes("one two three four five", 5), shingle_hashes("two one three four five", 5)
    assert not np.array_equal(*word_order_matters)


def test_unspaced_scripts_are_shingled_by_character():
    assert len(shingle_hashes("東京都で新しい橋が開通した", 5)) == 13 - 5 + 1


def test_short_and_empty_bodies_get_a_signature_but_no_band_keys():
    short = sketch_body("Subscribe to read the rest of this story.", SETTINGS)
    assert short.shingles == 4 and not short.comparable and short.band_keys == ()
    empty = sketch_body("", SETTINGS)
    assert empty.shingles == 0 and empty.signature.shape == (128,) and not empty.comparable


def test_encode_decode_round_trip():
    signature = minhash_signature("\n\n".join(WIRE), SETTINGS)
    encoded = encode_signature(signature)
    assert isinstance(encoded, str) and len(encoded) == 684  # 128 x 4 bytes in base64
    decoded = decode_signature(encoded)
    assert decoded.dtype == np.uint32 and np.array_equal(decoded, signature)


def test_decode_rejects_a_truncated_signature():
    with pytest.raises(ValueError):
        decode_signature(encode_signature(np.arange(128, dtype=np.uint32))[:-8] + "AAAAAA==")


def test_band_keys_name_their_band_and_change_with_the_scheme():
    signature = minhash_signature("\n\n".join(WIRE), SETTINGS)
    keys = lsh_band_keys(signature, SETTINGS)
    assert len(keys) == 32 and len(set(keys)) == 32
    assert [key[:4] for key in keys[:3]] == ["b00:", "b01:", "b02:"] and all(len(key) == 16 for key in keys)
    other_scheme = dataclasses.replace(SETTINGS, shingle_words=4)
    assert not set(keys) & set(lsh_band_keys(signature, other_scheme))


def test_bands_must_divide_num_perm():
    with pytest.raises(ValueError):
        lsh_band_keys(np.zeros(128, dtype=np.uint32), dataclasses.replace(SETTINGS, bands=30))


def test_estimate_is_close_to_exact_jaccard():
    body, trimmed = "\n\n".join(WIRE), "\n\n".join(WIRE[:-2])
    exact = exact_jaccard(shingle_hashes(body, 5), shingle_hashes(trimmed, 5))
    assert 0.6 < exact < 0.9
    assert abs(similarity(WIRE, WIRE[:-2]) - exact) < 0.12  # three standard deviations at 128 rows


# --- near-duplicate decisions ---------------------------------------------------------------------


def test_reheadlined_edited_copy_is_a_near_duplicate():
    original = article(WIRE_TITLE, WIRE, "/feed/a.html")
    copy = article("Eastmere says yes to seawater plant", edited(WIRE), "/feed/b.txt")
    assert original.id != copy.id
    assignments = clusters_of([original, copy])
    assert assignments[original.id].cluster_id == assignments[copy.id].cluster_id


def test_same_headline_with_a_different_story_is_not_a_duplicate():
    first, second = article(WIRE_TITLE, WIRE, "/feed/a.html"), article(OTHER_TITLE, OTHER, "/feed/b.html")
    assert WIRE_TITLE == OTHER_TITLE and first.id != second.id
    assert similarity(WIRE, OTHER) < 0.1
    assignments = clusters_of([first, second])
    assert assignments[first.id].cluster_id != assignments[second.id].cluster_id


def test_a_story_quoting_two_paragraphs_is_not_a_near_duplicate():
    quoted = article(WIRE_TITLE, WIRE, "/feed/a.html")
    quoter = article(COMMENTARY_TITLE, quoting(COMMENTARY, WIRE), "/feed/b.html")
    assert similarity(WIRE, quoting(COMMENTARY, WIRE)) < 0.3
    assignments = clusters_of([quoted, quoter])
    assert assignments[quoted.id].cluster_id != assignments[quoter.id].cluster_id


def test_quoting_two_of_four_paragraphs_stays_below_the_threshold():
    # A hard quoting case: half of a short story quoted beside two paragraphs of one's own.
    short_story, quoter = WIRE[:4], COMMENTARY[:2] + WIRE[1:3]
    assert 0.3 < similarity(short_story, quoter) < SETTINGS.threshold - 0.15
    assignments = clusters_of([article("A", short_story, "/a"), article("B", quoter, "/b")])
    assert len({a.cluster_id for a in assignments.values()}) == 2


def test_identical_short_bodies_under_other_headlines_are_not_clustered():
    stub = ["This story is for subscribers only. Log in or subscribe to keep reading."]
    stubs = [article(title, stub, f"/paywall/{n}.html") for n, title in enumerate(("Budget passed", "Rail strike"))]
    assignments = clusters_of(stubs)
    assert all(assignment.is_canonical for assignment in assignments.values())


def test_find_candidate_pairs_pairs_copies_and_not_other_stories():
    signatures = {
        "wire": minhash_signature("\n\n".join(WIRE), SETTINGS),
        "copy": minhash_signature("\n\n".join(edited(WIRE)), SETTINGS),
        "other": minhash_signature("\n\n".join(OTHER), SETTINGS),
    }
    assert find_candidate_pairs(signatures, SETTINGS) == {("copy", "wire")}
    assert find_candidate_pairs(signatures, SETTINGS, involving={"other"}) == set()


# --- exact duplicates -----------------------------------------------------------------------------


def test_exact_duplicates_merge_with_sorted_sources_and_a_fixed_representative():
    copies = [
        article(WIRE_TITLE, WIRE, "/feeds/z/story.txt", "2024-05-02"),
        article(WIRE_TITLE, WIRE, "/feeds/a/story.json", "2024-05-03"),
        article(WIRE_TITLE, WIRE, "/feeds/m/story.html", None),
    ]
    other = article(OTHER_TITLE, OTHER, "/feeds/a/other.html")
    for order in (copies + [other], [other] + copies[::-1]):
        groups = group_exact_duplicates(order)
        assert [g.id for g in groups] == sorted([copies[0].id, other.id])
        wire_group = next(g for g in groups if g.id == copies[0].id)
        paths = [s.path for s in wire_group.sources]
        assert paths == ["/feeds/a/story.json", "/feeds/m/story.html", "/feeds/z/story.txt"]
        assert wire_group.representative.source.path == "/feeds/a/story.json" and wire_group.duplicates == 2


def test_the_same_file_listed_twice_is_one_source():
    once = article(WIRE_TITLE, WIRE, "/feeds/a/story.txt")
    (group,) = group_exact_duplicates([once, once])
    assert len(group.sources) == 1


# --- clusters and the canonical rule --------------------------------------------------------------


WIRE_SIGNATURE = minhash_signature("\n\n".join(WIRE), SETTINGS)


def candidate(article_id, published_at, word_count=500, signature=WIRE_SIGNATURE, cluster_id=None) -> NearDupCandidate:
    return NearDupCandidate(article_id, signature, published_at, word_count, cluster_id)


@pytest.mark.parametrize(
    ("members", "canonical"),
    [
        ([("a", "2024-05-02", 500), ("b", "2024-05-01", 100)], "b"),  # earliest wins over longest
        ([("a", None, 900), ("b", "2030-01-01", 100)], "b"),  # no date counts as latest
        ([("a", "2024-05-01", 400), ("b", "2024-05-01", 600)], "b"),  # same date: longest
        ([("b", "2024-05-01", 600), ("a", "2024-05-01", 600)], "a"),  # all equal: smallest id
        ([("a", "2024-05-01T09:00:00+02:00", 500), ("b", "2024-05-01T08:00:00Z", 500)], "a"),  # instants, not strings
        ([("a", "not a date", 900), ("b", None, 100)], "a"),  # unreadable is unknown: then longest
    ],
)
def test_canonical_rule(members, canonical):
    assignments = resolve_clusters([candidate(i, p, w) for i, p, w in members], [], SETTINGS)
    assert {i for i, a in assignments.items() if a.is_canonical} == {canonical}
    assert {a.cluster_id for a in assignments.values()} == {canonical}


def test_an_earlier_new_article_becomes_canonical_of_an_existing_cluster():
    existing = [
        candidate("old1", "2024-05-02", cluster_id="old1"),
        candidate("old2", "2024-05-03", cluster_id="old1"),
    ]
    assignments = resolve_clusters([candidate("new", "2024-05-01")], existing, SETTINGS)
    assert assignments == {
        "new": ClusterAssignment("new", True),
        "old1": ClusterAssignment("new", False),
        "old2": ClusterAssignment("new", False),
    }


def test_an_existing_member_without_a_signature_follows_its_cluster():
    existing = [
        candidate("old", "2024-05-02", cluster_id="old"),
        candidate("short", "2024-05-03", signature=None, cluster_id="old"),
    ]
    assignments = resolve_clusters([candidate("new", "2024-05-01")], existing, SETTINGS)
    assert assignments["short"] == ClusterAssignment("new", False)


def test_a_new_article_bridges_two_existing_clusters():
    words = " ".join(WIRE).split()
    cut = len(words) // 5
    head, tail, whole = words[: len(words) - cut], words[cut:], words
    signature = {name: minhash_signature(" ".join(w), SETTINGS) for name, w in zip("htw", (head, tail, whole))}
    assert estimated_jaccard(signature["h"], signature["t"]) < SETTINGS.threshold
    assert min(estimated_jaccard(signature["w"], signature[x]) for x in "ht") >= SETTINGS.threshold
    existing = [
        candidate("head", "2024-05-03", signature=signature["h"], cluster_id="head"),
        candidate("tail", "2024-05-02", signature=signature["t"], cluster_id="tail"),
    ]
    assignments = resolve_clusters([candidate("whole", "2024-05-04", signature=signature["w"])], existing, SETTINGS)
    assert {a.cluster_id for a in assignments.values()} == {"tail"}
    # Without the bridge the two stay apart.
    apart = resolve_clusters([], existing, SETTINGS)
    assert apart["head"].cluster_id == "head" and apart["tail"].cluster_id == "tail"


def test_existing_articles_must_come_with_their_canonical():
    with pytest.raises(ValueError, match="not among the existing"):
        resolve_clusters([candidate("new", None)], [candidate("old2", None, cluster_id="old1")], SETTINGS)
    with pytest.raises(ValueError, match="both new and existing"):
        resolve_clusters([candidate("a", None)], [candidate("a", None, cluster_id="a")], SETTINGS)


def test_signatures_of_another_length_are_refused():
    with pytest.raises(ValueError):
        resolve_clusters([candidate("a", None, signature=np.zeros(64, dtype=np.uint32))], [], SETTINGS)


# --- order independence ---------------------------------------------------------------------------


def story_set() -> list[CleanArticle]:
    """Copies and non-copies of the fixture stories, with dates that make canonicals move between runs."""
    words = " ".join(WIRE).split()
    cut = len(words) // 5
    return [
        article(WIRE_TITLE, WIRE, "/feed3/wire.html", "2024-05-02T10:00:00Z"),
        article(WIRE_TITLE, WIRE, "/feed1/wire.json", "2024-05-01T10:00:00Z"),  # exact copy sorting first
        article("Eastmere says yes to seawater plant", edited(WIRE), "/feed2/copy.txt", "2024-05-03"),
        article(WIRE_TITLE, WIRE[:-1], "/feed4/trimmed.txt", None),
        article("Head", [" ".join(words[: len(words) - cut])], "/feed5/head.txt", "2024-04-30"),
        article("Tail", [" ".join(words[cut:])], "/feed5/tail.txt", "2024-05-05"),
        article(OTHER_TITLE, OTHER, "/feed2/other.html", "2024-05-01"),
        article("Island water plant approved", OTHER, "/feed6/other.txt", "2024-05-01"),  # re-headlined, same date
        article(COMMENTARY_TITLE, quoting(COMMENTARY, WIRE), "/feed1/commentary.html", "2024-04-01"),
        article("Paywalled", ["Subscribe to read this story."], "/feed7/stub.html", "2024-05-01"),
        # Close to "Tail" only, and the earliest of the chain: arriving last, it moves the whole cluster.
        article("Tail copy", [" ".join(words[cut:-3])], "/feed8/tail.txt", "2024-03-30"),
    ]


def test_shuffled_input_gives_the_same_clusters():
    articles = story_set()
    expected = clusters_of([g.representative for g in group_exact_duplicates(articles)])
    for seed in range(5):
        shuffled = articles[:]
        random.Random(seed).shuffle(shuffled)
        assert clusters_of([g.representative for g in group_exact_duplicates(shuffled)]) == expected
    wire_cluster = expected[articles[0].id].cluster_id
    assert wire_cluster == articles[10].id  # the earliest of the chain wire - head - tail - tail copy
    assert estimated_jaccard(*(minhash_signature(articles[i].body, SETTINGS) for i in (4, 10))) < SETTINGS.threshold
    assert expected[articles[8].id].is_canonical  # the quoting commentary stands alone
    # Re-headlined copy, same date and length: the smaller id is canonical.
    island = min(articles[6].id, articles[7].id)
    assert expected[articles[6].id].cluster_id == expected[articles[7].id].cluster_id == island
    assert expected[articles[6].id].cluster_id != wire_cluster


def test_two_runs_over_two_halves_equal_one_run_over_the_whole():
    articles = story_set()
    whole = InMemoryIndex(SETTINGS)
    whole.ingest(articles)
    for seed in range(6):
        shuffled = articles[:]
        random.Random(seed).shuffle(shuffled)
        halves = InMemoryIndex(SETTINGS)
        halves.ingest(shuffled[: len(shuffled) // 2])
        halves.ingest(shuffled[len(shuffled) // 2 :])
        assert halves.state() == whole.state()
    last_alone = InMemoryIndex(SETTINGS)
    last_alone.ingest(articles[:-1])
    last_alone.ingest(articles[-1:])
    assert last_alone.runs[1]["existing_updated"] >= 4
    assert last_alone.state() == whole.state()
    one_by_one = InMemoryIndex(SETTINGS)
    for single in articles[::-1]:
        one_by_one.ingest([single])
    assert one_by_one.state() == whole.state()


@pytest.mark.slow
def test_evaluation_on_the_shared_corpora_meets_the_targets():
    from evals import dedupe as evaluation

    if not evaluation.CORPORA.is_dir():
        pytest.skip(f"corpora not found at {evaluation.CORPORA}")
    files = evaluation.build_test_set(evaluation.load_stories(evaluation.CORPORA))
    whole = evaluation.run_once(files, SETTINGS)
    scores = evaluation.pairwise_scores(evaluation.cluster_of_files(files, whole), [f.story for f in files])
    assert scores["precision"] >= 0.99 and scores["recall"] >= 0.95
    assert evaluation.run_once(files, SETTINGS, batches=2, seed=1).state() == whole.state()
