"""Tests of tasks.entities: the clean-up of an article's NER mentions (pure; knowledge file and gazetteer are real)."""

from __future__ import annotations

import pytest

from newsetl.tasks.entities import (
    ALL_RULES,
    Mention,
    canonical_entities,
    clean_entity_text,
    fold,
    load_knowledge,
    mentions_in,
)
from newsetl.tasks.ner_models import LABEL_NAMES


@pytest.fixture(scope="module")
def knowledge():
    return load_knowledge()


def entities_of(mentions, knowledge, text="", rules=ALL_RULES):
    """{name: (label, count)} of the article's entities."""
    found = canonical_entities([Mention(*mention) for mention in mentions], knowledge, text, rules)
    return {entity.text: (entity.label, entity.count) for entity in found}


def test_fold_ignores_case_accents_and_dots():
    assert fold("KIM JONG-UN") == fold("Kim Jong-un") == "kim jong un"
    assert fold("Gérald Darmanin") == "gerald darmanin"
    assert fold("U.S.") == fold("US") == "us"


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        ("Tanaiste Leo Varadkar", "PERSON", "Leo Varadkar"),
        ("President Joe Biden", "PERSON", "Joe Biden"),
        ("Prime Minister Rishi Sunak", "PERSON", "Rishi Sunak"),
        ("Dr. Anthony Fauci", "PERSON", "Anthony Fauci"),
        ("King Charles", "PERSON", "King Charles"),  # a regnal title stays with a lone given name
        ("Mr Putin's", "PERSON", "Putin"),
        ("Yonhap news agency", "ORG", "Yonhap"),
        ("The World Health Organisation (WHO", "ORG", "World Health Organisation"),
        ("U.S.", "GPE", "U.S."),
        ("Martine Bulard &", "PERSON", "Martine Bulard"),  # a byline's "X & Y" cut after the ampersand
        ("AT&T", "ORG", "AT&T"),
    ],
)
def test_titles_possessives_brackets_and_trailing_common_words_are_stripped(knowledge, text, label, expected):
    assert clean_entity_text(text, label, knowledge) == expected


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("#TravelCorridor", "PERSON"),
        ("@newsdesk", "PERSON"),
        ("super().setUpClass", "PERSON"),
        ("getElementById", "ORG"),
        ("A]t", "PERSON"),
        ("Zotac, Asus and Gigabyte", "PERSON"),
        ("Scientology on French", "ORG"),
        ("UTC", "ORG"),
        ("USB", "ORG"),  # hardware words, not companies
        ("Email", "PERSON"),
        ("He", "PERSON"),
        ("2024", "ORG"),
        ("Wednesday", "PERSON"),
        ("the government", "ORG"),
    ],
)
def test_junk_is_never_a_name(knowledge, text, label):
    assert clean_entity_text(text, label, knowledge) is None


def test_aliases_of_the_knowledge_file_are_one_place(knowledge):
    mentions = [
        ("GPE", "US"),
        ("GPE", "U.S."),
        ("GPE", "the United States"),
        ("GPE", "America"),
        ("GPE", "UK"),
        ("GPE", "Britain"),
    ]
    assert entities_of(mentions, knowledge) == {"United States": ("GPE", 4), "United Kingdom": ("GPE", 2)}


def test_platforms_and_products_are_never_persons_or_places(knowledge):
    mentions = [("PERSON", "Twitter"), ("GPE", "Reddit"), ("GPE", "Windows"), ("PERSON", "Docker"), ("ORG", "Python")]
    assert entities_of(mentions, knowledge) == {
        "Twitter": ("ORG", 1),
        "Reddit": ("ORG", 1),
        "Windows": ("PRODUCT", 1),
        "Docker": ("PRODUCT", 1),
        "Python": ("PRODUCT", 1),
    }


def test_surnames_and_given_names_resolve_to_the_full_name_whatever_their_label(knowledge):
    mentions = [
        ("PERSON", "Joe Biden"),
        ("ORG", "Biden"),
        ("PERSON", "President Biden"),
        ("PERSON", "Valeska Paris"),
        ("GPE", "Valeska"),
        ("PERSON", "Kim Jong-un"),
        ("PERSON", "Mr Kim"),
    ]
    assert entities_of(mentions, knowledge) == {
        "Joe Biden": ("PERSON", 3),
        "Valeska Paris": ("PERSON", 2),
        "Kim Jong-un": ("PERSON", 2),
    }


def test_one_label_per_name_by_vote(knowledge):
    mentions = [
        ("ORG", "Holloway"),
        ("PERSON", "Holloway"),
        ("PERSON", "Holloway"),
        ("GPE", "Athens"),
        ("GPE", "Athens"),
    ]
    assert entities_of(mentions, knowledge) == {"Holloway": ("PERSON", 3), "Athens": ("GPE", 2)}


def test_the_gazetteer_settles_places(knowledge):
    mentions = [("ORG", "Slovakia"), ("PERSON", "Paraná"), ("PERSON", "Sanders")]
    assert entities_of(mentions, knowledge) == {"Slovakia": ("GPE", 1), "Paraná": ("GPE", 1), "Sanders": ("PERSON", 1)}


def test_head_words_make_places_events_media_and_works(knowledge):
    mentions = [
        ("ORG", "the National Air and Space Museum"),
        ("ORG", "Museum of Flight"),
        ("PERSON", "Castlefrank Road"),
        ("ORG", "Taipei Lantern Festival"),
        ("PERSON", "Edmonton Sun"),
        ("PERSON", "Space Shuttle Atlantis"),
        ("PERSON", "STS-134"),
        ("PERSON", "Stuart Hall"),  # a surname, not a hall
    ]
    assert entities_of(mentions, knowledge) == {
        "National Air and Space Museum": ("FAC", 1),
        "Museum of Flight": ("FAC", 1),
        "Castlefrank Road": ("FAC", 1),
        "Taipei Lantern Festival": ("EVENT", 1),
        "Taipei": ("GPE", 1),  # the place inside the event's name (nested_places)
        "Edmonton Sun": ("ORG", 1),
        "Space Shuttle Atlantis": ("PRODUCT", 1),
        "STS-134": ("PRODUCT", 1),
        "Stuart Hall": ("PERSON", 1),
    }


def test_head_words_make_organisations_whatever_place_in_front(knowledge):
    mentions = [
        ("GPE", "Saudi Interior Ministry"),
        ("NORP", "Scottish Labour Party"),
        ("PERSON", "University of Sheffield"),
        ("FAC", "Oval Office"),  # a room, named as one
        ("PERSON", "John Church"),  # a surname, not a church
    ]
    found = entities_of(mentions, knowledge)
    assert found["Saudi Interior Ministry"] == ("ORG", 1)
    assert found["Scottish Labour Party"] == ("ORG", 1)
    assert found["University of Sheffield"] == ("ORG", 1)
    assert found["Oval Office"] == ("FAC", 1)
    assert found["John Church"] == ("PERSON", 1)


def test_names_differing_only_in_case_are_one_name_in_the_usual_spelling(knowledge):
    mentions = [("PERSON", "KIM JONG-UN"), ("PERSON", "Kim Jong-un"), ("ORG", "NASA"), ("ORG", "NASA"), ("ORG", "Nasa")]
    assert entities_of(mentions, knowledge) == {"Kim Jong-un": ("PERSON", 2), "NASA": ("ORG", 3)}
    assert entities_of([("PERSON", "MACRON")], knowledge) == {"MACRON": ("PERSON", 1)}  # the only form there is


def test_in_french_a_lone_word_only_ever_opening_sentences_is_no_name(knowledge):
    text = "Heureusement, Lemaire est venu. Lemaire parle. Selon Lemaire, la CGT refuse. Numéro un. Lyon attend."
    spans = [
        ("ORG", "Heureusement"), ("PER", "Lemaire"), ("PER", "Numéro"), ("ORG", "CGT"), ("LOC", "Lyon"),
    ]  # fmt: skip
    found = [(label, text.index(name), text.index(name) + len(name)) for label, name in spans]
    found.append(("PER", text.index("Lemaire parle"), text.index("Lemaire parle") + 7))
    found.append(("PER", text.rindex("Lemaire"), text.rindex("Lemaire") + 7))
    mentions = mentions_in(text, [(LABEL_NAMES.get(label, label), start, end) for label, start, end in found])
    in_french = {entity.text for entity in canonical_entities(mentions, knowledge, text, language="fr")}
    assert in_french == {"Lemaire", "CGT", "Lyon"}  # Lemaire is also inside a sentence; CGT an acronym; Lyon a city
    in_english = {entity.text for entity in canonical_entities(mentions, knowledge, text, language="en")}
    assert {"Heureusement", "Numéro"} <= in_english  # English surnames open sentences too: kept there


def test_a_name_before_a_place_noun_is_that_place(knowledge):
    text = "Fires in the Amazon rainforest grew, Amazon said nothing."
    first, second = text.index("Amazon"), text.rindex("Amazon")
    spans = [("ORG", first, first + 6), ("ORG", second, second + 6)]
    found = canonical_entities(mentions_in(text, spans), knowledge, text)
    assert {(entity.text, entity.label) for entity in found} == {("Amazon rainforest", "LOC"), ("Amazon", "ORG")}


def test_a_capitalised_word_the_article_also_uses_in_lowercase_is_a_common_word(knowledge):
    text = "Ceasefire talks. The ceasefire was agreed at the Treasury."
    mentions = [("ORG", "Ceasefire"), ("ORG", "Treasury")]
    assert entities_of(mentions, knowledge, text) == {"Treasury": ("ORG", 1)}
    assert "Ceasefire" in entities_of(mentions, knowledge, text, ALL_RULES.switched(common_words=False))


def test_part_of_an_office_is_no_organisation(knowledge):
    text = "Shadow Home Secretary Yvette Cooper spoke."
    person = text.index("Yvette")
    found = canonical_entities(mentions_in(text, [("ORG", 0, 11), ("PERSON", person, person + 13)]), knowledge, text)
    assert [(entity.text, entity.label) for entity in found] == [("Yvette Cooper", "PERSON")]


def test_acronyms_and_short_forms_join_the_fullest_name(knowledge):
    mentions = [
        ("ORG", "the Johnson Space Center"),
        ("ORG", "JSC"),
        ("ORG", "Security Council"),
        ("ORG", "the UN Security Council"),
        ("ORG", "National Iodine Nutrition"),
        ("ORG", "National Iodine Nutrition Survey Group"),
    ]
    assert entities_of(mentions, knowledge) == {
        "Johnson Space Center": ("FAC", 2),
        "UN Security Council": ("ORG", 2),
        "National Iodine Nutrition Survey Group": ("ORG", 2),
    }


def test_aliases_name_the_forms_the_article_used_and_the_surname(knowledge):
    found = canonical_entities(
        [Mention("PERSON", "Joe Biden"), Mention("PERSON", "Mr Biden"), Mention("GPE", "U.S.")], knowledge
    )
    aliases = {entity.text: entity.aliases for entity in found}
    assert set(aliases["Joe Biden"]) >= {"Biden", "Mr Biden"}
    assert "U.S." in aliases["United States"]


def test_a_surname_keeps_its_particles(knowledge):
    found = canonical_entities([Mention("PERSON", "Alex de Minaur"), Mention("PERSON", "Ruud van der Berg")], knowledge)
    aliases = {entity.text: entity.aliases for entity in found}
    assert "de Minaur" in aliases["Alex de Minaur"] and "van der Berg" in aliases["Ruud van der Berg"]
