"""Tests of the clean-up rules that read a name's neighbourhood or shape: context words, demonyms, region heads,
versions of known names; and the evaluation's rule choice and top list (fixtures of our own, no corpus text)."""

from __future__ import annotations

import pytest

from newsetl.tasks.entities import ALL_RULES, canonical_entities, load_knowledge, mentions_in
from newsetl.tasks.records import EntityCount


@pytest.fixture(scope="module")
def knowledge():
    return load_knowledge()


def labels(text, spans, knowledge, rules=ALL_RULES):
    """{name: label} of the article, its spans given as (label, the span's text) found in order."""
    entities = canonical_entities(mentions_in(text, _spans(text, spans)), knowledge, text, rules)
    return {entity.text: entity.label for entity in entities}


def test_the_words_before_of_make_a_name_a_place(knowledge):
    text = "Smoke covered the state of Corvania. Corvania declared an emergency, Corvania officials said."
    spans = [("PERSON", "Corvania"), ("PERSON", "Corvania"), ("ORG", "Corvania")]
    assert labels(text, spans, knowledge) == {"Corvania": "GPE"}  # one mention in context settles all three
    assert labels(text, spans, knowledge, ALL_RULES.switched(place_context=False)) == {"Corvania": "PERSON"}
    text = "Shells fell near the town of Halvik."
    assert labels(text, [("ORG", "Halvik")], knowledge) == {"Halvik": "GPE"}


def test_a_role_right_before_a_name_makes_it_a_person(knowledge):
    text = "The show featured fashion designer Belmondez and the photographer Tarquin Vell."
    spans = [("GPE", "Belmondez"), ("ORG", "Tarquin Vell")]
    assert labels(text, spans, knowledge) == {"Belmondez": "PERSON", "Tarquin Vell": "PERSON"}
    assert labels(text, spans, knowledge, ALL_RULES.switched(person_context=False))["Belmondez"] == "GPE"
    # A role further away says nothing of the name.
    text = "The designer met Belmondez officials."
    assert labels(text, [("ORG", "Belmondez")], knowledge) == {"Belmondez": "ORG"}


def test_a_kind_of_work_before_a_name_makes_it_a_work_and_games_like_a_product(knowledge):
    text = "Her debut graphic novel Lumo Be Kind sold well, and games like Skyforge Legends copied it."
    spans = [("PERSON", "Lumo Be Kind"), ("PERSON", "Skyforge Legends")]
    assert labels(text, spans, knowledge) == {"Lumo Be Kind": "WORK_OF_ART", "Skyforge Legends": "PRODUCT"}
    assert labels(text, spans, knowledge, ALL_RULES.switched(work_context=False)) == {
        "Lumo Be Kind": "PERSON",
        "Skyforge Legends": "PERSON",
    }


def test_after_the_game_a_person_stays_a_person_and_the_maker_of_an_app_an_organisation(knowledge):
    text = "After the game Varlow said the team had played well."
    assert labels(text, [("PERSON", "Varlow")], knowledge) == {"Varlow": "PERSON"}
    text = "Streaming platforms like Sonora Beats grew."
    assert labels(text, [("ORG", "Sonora Beats")], knowledge) == {"Sonora Beats": "ORG"}


def test_a_name_listed_between_two_persons_is_a_person(knowledge):
    text = "Artists such as Ansel Marr, Chuck Dorne, Walker Evin, Robert Lapp and Helmut Nye used it."
    spans = [("PERSON", "Ansel Marr"), ("PERSON", "Chuck Dorne"), ("ORG", "Walker Evin"), ("PERSON", "Robert Lapp")]
    assert labels(text, spans, knowledge)["Walker Evin"] == "PERSON"
    assert labels(text, spans, knowledge, ALL_RULES.switched(person_lists=False))["Walker Evin"] == "ORG"
    # A person on one side only is not enough: "Biden, Congress and the courts".
    text = "Joe Biden, Acme Holdings and the courts disagreed."
    found = labels(text, [("PERSON", "Joe Biden"), ("ORG", "Acme Holdings")], knowledge)
    assert found["Acme Holdings"] == "ORG"


def test_plural_demonyms_are_peoples_not_organisations(knowledge):
    text = "Argentines and Belgians voted; Texans too."
    spans = [("ORG", "Argentines"), ("ORG", "Belgians"), ("ORG", "Texans")]
    assert labels(text, spans, knowledge) == {"Argentines": "NORP", "Belgians": "NORP", "Texans": "NORP"}
    assert labels(text, spans, knowledge, ALL_RULES.switched(demonyms=False))["Argentines"] == "ORG"


def test_places_ending_in_s_and_plural_names_of_no_place_are_no_demonyms(knowledge):
    text = "Flights to the Philippines and Honduras; Mertens scored for Siemens in the Dominus."
    spans = [("ORG", "Philippines"), ("ORG", "Honduras"), ("ORG", "Mertens"), ("ORG", "Siemens"), ("ORG", "Dominus")]
    found = labels(text, spans, knowledge)
    assert found["Philippines"] == found["Honduras"] == "GPE"
    assert found["Mertens"] == found["Siemens"] == found["Dominus"] == "ORG"  # "Dominus" is no plural
    # Only a supposed organisation is turned into a people: "the Americas" tagged LOC stay a place.
    assert labels("Cases rose in the Americas.", [("LOC", "Americas")], knowledge) == {"Americas": "LOC"}


def test_an_organisation_named_by_a_region_word_is_a_place_but_a_city_club_stays_a_club(knowledge):
    text = "Pilgrims reached the Eternal City; Manchester City lost; the Dead Hollow Valley burned."
    spans = [("ORG", "Eternal City"), ("ORG", "Manchester City"), ("ORG", "Dead Hollow Valley")]
    found = labels(text, spans, knowledge)
    assert (found["Eternal City"], found["Manchester City"], found["Dead Hollow Valley"]) == ("LOC", "ORG", "LOC")
    assert labels(text, spans, knowledge, ALL_RULES.switched(place_heads=False))["Eternal City"] == "ORG"


def test_a_known_name_with_a_version_keeps_the_known_label(knowledge):
    text = "The port from Python 2 to Python 3 took years on Windows 10."
    spans = [("ORG", "Python 2"), ("PERSON", "Python 3"), ("GPE", "Windows 10")]
    assert labels(text, spans, knowledge) == {"Python 2": "PRODUCT", "Python 3": "PRODUCT", "Windows 10": "PRODUCT"}


def test_the_rule_choice_switches_off_only_rules_whose_removal_helps():
    from evals.enrichment import _choose_rules

    def f1(rules):  # demonyms hurt, person_context helps, the others change nothing
        return 0.5 + 0.1 * rules.person_context - 0.2 * rules.demonyms

    chosen = _choose_rules(f1)
    assert not chosen.demonyms
    assert all(on for name, on in chosen.__dict__.items() if name != "demonyms")
    assert _choose_rules(lambda rules: 0.7) == ALL_RULES  # ties keep every rule


def test_the_top_list_is_the_same_every_run_ties_to_the_earlier_article():
    from types import SimpleNamespace

    from evals.enrichment import top_names

    def article(*names):
        return SimpleNamespace(persons=names, entities=tuple(EntityCount(name, "PERSON", 1) for name in names))

    enrichments = [article("Zed Ray", "Ann Bo"), article("Cy Dee", "Zed Ray"), article("Bea Lu")]
    assert top_names(enrichments, "persons", 3) == [("Zed Ray", 2), ("Ann Bo", 1), ("Cy Dee", 1)]


def test_a_role_in_apposition_after_a_name_makes_it_a_person(knowledge):
    text = "Corbin Malvar, an editor at the news group, said so. Harwick, the university's president, agreed."
    spans = [("ORG", "Corbin Malvar"), ("ORG", "Harwick")]
    assert labels(text, spans, knowledge) == {"Corbin Malvar": "PERSON", "Harwick": "ORG"}


def test_a_product_noun_after_a_name_the_model_took_for_a_person_makes_it_a_product(knowledge):
    text = "What is up with the Zentra console? Biden phone calls went on."
    spans = [("PERSON", "Zentra"), ("PERSON", "Biden")]
    assert labels(text, spans, knowledge) == {"Zentra": "PRODUCT", "Biden": "PERSON"}


def _spans(text, spans):
    found, position = [], 0
    for label, span in spans:
        start = text.index(span, position)
        found.append((label, start, start + len(span)))
        position = start + len(span)
    return found


def test_a_lone_word_after_the_is_no_person_but_a_modifier_keeps_its_person(knowledge):
    text = "She wrote The Prince and the Tailormaker, then met the Brannock family."
    spans = [("PERSON", "Tailormaker"), ("PERSON", "Brannock")]
    assert labels(text, spans, knowledge) == {"Tailormaker": "MISC", "Brannock": "PERSON"}
    assert labels(text, spans, knowledge, ALL_RULES.switched(the_words=False))["Tailormaker"] == "PERSON"


def test_places_inside_other_names_are_places_of_the_article_too(knowledge):
    text = "A match at the Volgograd Arena; a University of Sheffield study; the Washington Post; Boston Street."
    spans = [
        ("FAC", "Volgograd Arena"),
        ("ORG", "University of Sheffield"),
        ("ORG", "Washington Post"),
        ("FAC", "Boston Street"),
    ]
    found = labels(text, spans, knowledge)
    assert found["Volgograd"] == found["Sheffield"] == "GPE"
    assert "Washington" not in found and "Boston" not in found  # not a paper's city, nor a street's
    assert "Volgograd" not in labels(text, spans, knowledge, ALL_RULES.switched(nested_places=False))


def test_a_nested_place_already_named_alone_is_not_added_twice_and_takes_its_canonical_name(knowledge):
    text = "The U.S. Air Force flew over the U.S. again."
    found = canonical_entities(mentions_in(text, _spans(text, [("ORG", "U.S. Air Force"), ("GPE", "U.S.")])), knowledge)
    assert sorted((entity.text, entity.label) for entity in found) == [
        ("U.S. Air Force", "ORG"),
        ("United States", "GPE"),
    ]
    alone = canonical_entities(mentions_in(text, _spans(text, [("ORG", "U.S. Air Force")])), knowledge)
    assert ("United States", "GPE") in {(entity.text, entity.label) for entity in alone}


def test_a_school_or_street_named_after_someone_is_a_building(knowledge):
    text = "Les élèves du lycée Marcel Vardin et de la rue Solène Brac manifestent."
    spans = [("PERSON", "Marcel Vardin"), ("PERSON", "Solène Brac")]
    assert labels(text, spans, knowledge) == {"Marcel Vardin": "FAC", "Solène Brac": "FAC"}


def test_a_name_after_a_plural_article_is_a_group_and_a_periodical_an_organisation(knowledge):
    text = "Une marche appelée par les Bonnets Verts, selon la Revue Kestrel."
    spans = [("PERSON", "Bonnets Verts"), ("PERSON", "Revue Kestrel")]
    assert labels(text, spans, knowledge) == {"Bonnets Verts": "MISC", "Revue Kestrel": "ORG"}


def test_no_place_from_a_short_first_word_nor_from_a_newspaper_or_a_company_in_apposition(knowledge):
    text = "Crossing at San Ysidro, as USA Today wrote, with Vandelor, a global producer of pumps."
    spans = [("FAC", "San Ysidro"), ("ORG", "USA Today"), ("ORG", "Vandelor")]
    found = labels(text, spans, knowledge)
    assert "San" not in found and "United States" not in found
    assert found["Vandelor"] == "ORG"  # a producer of goods is no person
