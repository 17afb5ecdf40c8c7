"""Tests of tasks.search: the query syntax and search body (pure), and searches on the real node."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newsetl.tasks.entities import Known
from newsetl.tasks.search import (
    ParsedQuery,
    QuerySyntaxError,
    SearchRequest,
    Term,
    parse_query,
    search_body,
)

FIXTURES = Path(__file__).parent / "fixtures" / "search"


# --- the syntax ---------------------------------------------------------------------------------


def test_a_search_loads_neither_prefect_nor_the_pipeline():
    """`newsetl search` is typed by hand: importing Prefect (~2.5 s) for it made every search take 4-6 s."""
    code = (
        "import sys; import newsetl.cli; from newsetl.tasks.search import search_articles; "
        "from newsetl.tasks.es.client import connect; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect' or m.startswith('spacy')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"



def test_words_are_anded_and_quotes_make_a_phrase():
    assert parse_query('"money laundering" bank') == ParsedQuery(
        clauses=((Term("money laundering", phrase=True),), (Term("bank"),))
    )


def test_or_joins_the_words_on_each_side_and_minus_excludes():
    assert parse_query('sanctions OR embargo -"North Korea" -oil') == ParsedQuery(
        clauses=((Term("sanctions"), Term("embargo")),),
        excluded=(Term("North Korea", phrase=True), Term("oil")),
    )


def test_an_empty_query_or_only_exclusions_match_everything_else():
    assert parse_query("") == ParsedQuery()
    assert parse_query("  -sport ") == ParsedQuery(excluded=(Term("sport"),))


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ('"money laundering', "unbalanced quote"),
        ('money"', "unbalanced quote"),
        ('""', "empty phrase"),
        ("OR bank", "OR needs"),
        ("bank OR", "OR needs"),
        ("bank OR OR fund", "OR needs"),
        ("bank OR -fund", "excluded word cannot"),
        ("bank - fund", "'-' needs a word"),
    ],
)
def test_syntax_errors_are_one_line(query, reason):
    with pytest.raises(QuerySyntaxError, match=reason) as raised:
        parse_query(query)
    assert "\n" not in str(raised.value)


# --- the body -----------------------------------------------------------------------------------


def test_each_word_must_match_a_phrase_is_a_phrase_and_exclusions_are_must_not():
    query = search_body(SearchRequest('"money laundering" bank -fund'))["query"]["bool"]
    phrase, word = query["must"]
    assert phrase["multi_match"]["type"] == "phrase" and phrase["multi_match"]["query"] == "money laundering"
    assert word["multi_match"]["operator"] == "and" and word["multi_match"]["query"] == "bank"
    assert [clause["multi_match"]["query"] for clause in query["must_not"]] == ["fund"]
    assert {"body", "body.exact", "body_fr", "body_de", "body_cjk"} <= set(word["multi_match"]["fields"])


def test_cjk_words_are_searched_as_phrases():
    (clause,) = search_body(SearchRequest("北京大学"))["query"]["bool"]["must"]
    assert clause["multi_match"]["type"] == "phrase"


def test_entity_filters_match_folded_names_aliases_and_canonical_names():
    known = {"america": Known("United States", "GPE")}
    request = SearchRequest("", persons=("biden",), locations=("America",))
    filters = search_body(request, known)["query"]["bool"]["filter"]
    person, place = filters[0]["bool"]["should"], filters[1]["bool"]["should"]
    assert person == [{"terms": {"persons.folded": ["biden"]}}, {"terms": {"aliases.persons": ["biden"]}}]
    assert place[0] == {"terms": {"locations.folded": ["America", "United States"]}}


def test_entity_filters_forgive_a_leading_the_and_hyphens():
    request = SearchRequest("", persons=("ocasio-cortez",), organizations=("The  New York Times",))
    filters = search_body(request, {})["query"]["bool"]["filter"]
    person, org = (f["bool"]["should"][0]["terms"] for f in filters[:2])
    assert person == {"persons.folded": ["ocasio-cortez", "ocasio cortez"]}
    assert org == {"organizations.folded": ["The New York Times", "New York Times"]}


def test_a_full_name_also_finds_articles_naming_the_person_by_surname_alone():
    request = SearchRequest("", persons=("Joe Biden",))
    person = search_body(request, {})["query"]["bool"]["filter"][0]["bool"]["should"]
    assert {"term": {"persons.folded": "Biden"}} in person  # a lone "Biden": that article's person
    assert {"terms": {"aliases.persons": ["Joe Biden"]}} in person  # not aliases: "Biden" of Hunter Biden


def test_documents_hold_hyphenated_names_with_spaces_too():
    from newsetl.tasks.es.documents import entity_aliases
    from newsetl.tasks.records import EntityCount

    aliases = entity_aliases([EntityCount("Alexandria Ocasio-Cortez", "PERSON", 2, ("Ocasio-Cortez",))])
    assert set(aliases["persons"]) == {"Ocasio-Cortez", "Ocasio Cortez", "Alexandria Ocasio Cortez"}


def test_results_say_when_the_date_is_only_the_files_and_count_copies_in_words():
    from newsetl.cli import render_search

    hit = {
        "title": "Ferry timetable", "id": "a" * 40, "site_name": None, "author": None, "snippets": [], "persons": [],
        "published_at": "2026-12-02T10:00:00Z", "published_at_source": "file_mtime", "url": None,
        "sources": ["/news/a.txt", "/news/copy/a.txt"],
    }  # fmt: skip
    shown = render_search({"total": 1, "hits": [hit], "facets": {}})
    assert "2026-12-02 (the file's date: the article states none)" in shown and "(+1 copy)" in shown
    assert shown.startswith("1 article\n")


def test_facets_are_ordered_by_count_then_most_recent_article():
    aggs = search_body(SearchRequest("x"))["aggs"]
    assert aggs["persons"]["terms"]["order"] == [{"_count": "desc"}, {"latest": "desc"}]
    assert aggs["persons"]["aggs"]["latest"] == {"max": {"field": "published_at"}}


def test_results_carry_site_url_author_and_date():
    source = search_body(SearchRequest("x"))["_source"]
    assert {"url", "site_name", "author", "published_at", "title"} <= set(source)


# --- on the real node ------------------------------------------------------------------------------


def newsetl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newsetl.cli", *args], capture_output=True, text=True, timeout=300)


def search_json(*args: str) -> dict:
    result = newsetl("search", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.elasticsearch
@pytest.mark.prefect
@pytest.mark.slow
def test_searches_users_know_on_the_real_node(es_settings, prefect_api, tmp_path):
    from newsetl.flows.ingest import ingest

    folder = tmp_path / "news"
    shutil.copytree(FIXTURES, folder)
    summary = ingest(folders=[str(folder)])
    assert summary["written"] == 5

    laundering, laundry = "Regional bank fined over money laundering", "Laundry startup raises money"
    summit = "Kim Jong-un travels to Vladivostok for talks"
    from newsetl.tasks.es.client import connect
    from newsetl.tasks.search import search_articles

    client = connect(es_settings.es)

    def find(query: str = "", **filters: tuple[str, ...]) -> set[str]:
        return {hit.title for hit in search_articles(client, es_settings.es, SearchRequest(query, **filters)).hits}

    try:
        assert find('"money laundering"') == {laundering}
        assert find("money laundering") == {laundering, laundry}  # both words, not only "money"
        assert find("money -laundering") == {"City council debates the budget"}
        assert find("vladivostok OR laundry") == {summit, laundry}
        assert find(persons=("biden",)) == find(persons=("joe biden",)) == find(persons=("Joe Biden",)) == {laundering}
        assert find(persons=("KIM JONG-UN",)) == {summit}
        one_place = [find(locations=(name,)) for name in ("US", "U.S.", "United States", "america")]
        assert one_place[0] == {laundering, laundry, summit} and all(found == one_place[0] for found in one_place)
        result = search_articles(client, es_settings.es, SearchRequest("", locations=("U.S.",)))
        assert [f for f in result.facets["locations"] if f[0] in {"US", "U.S.", "America", "United States"}] == [
            ("United States", 3)
        ]
        french = search_articles(client, es_settings.es, SearchRequest("maires")).hits
        assert [hit.language for hit in french] == ["fr"] and "Emmanuel Macron" in french[0].persons
        assert find(persons=("macron",)) == {french[0].title}
    finally:
        client.close()

    hit = search_json('"money laundering"')["hits"][0]
    assert "<em>" not in hit["title"] and "<em>" in " ".join(hit["snippets"])
    bad = newsetl("search", '"money laundering')
    assert bad.returncode == 1 and "unbalanced quote" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.elasticsearch
def test_the_local_node_analyses_every_language_of_the_template_and_folds_names(es_node):
    from newsetl.tasks.es.client import connect

    template = json.loads((Path(__file__).parents[1] / "config" / "index_template.json").read_text())
    properties = template["template"]["mappings"]["properties"]
    analyzers = {
        field["analyzer"] for field in properties.values() if field.get("type") == "text" and "analyzer" in field
    }
    assert {"english", "french", "german", "spanish", "italian", "portuguese", "dutch", "cjk"} <= analyzers
    client = connect(es_node.es)
    try:
        tokens = {
            analyzer: [
                t["token"] for t in client.indices.analyze(analyzer=analyzer, text="Les chevaux 北京大学")["tokens"]
            ]
            for analyzer in analyzers
        }
        folded = client.indices.analyze(tokenizer="standard", filter=["lowercase", "asciifolding"], text="Jong-Ün")
    finally:
        client.close()
    assert tokens["french"][:1] == ["cheval"] and "北京" in tokens["cjk"]
    assert [t["token"] for t in folded["tokens"]] == ["jong", "un"]
