"""Normalisation, fingerprints, ids and boilerplate removal (tasks/clean.py)."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest

from newsetl.config.settings import CleanSettings
from newsetl.tasks.clean import (
    BoilerplateModel,
    GroupCounts,
    article_fingerprints,
    article_id,
    boilerplate_reason,
    clean_title,
    learn_boilerplate,
    line_fingerprint,
    normalize_text,
    strip_boilerplate,
)
from newsetl.tasks.records import ExtractedArticle, SourceRef

FIXTURES = Path(__file__).parent / "fixtures" / "clean"
CORPORA = Path(os.environ.get("NEWSETL_CORPORA", Path(__file__).resolve().parents[1].parent / "shared" / "corpora"))
SEED = CORPORA / "seed" / "000_5e6e1551d8ebd9d7.txt"
SETTINGS = CleanSettings(min_group_files=4, repeat_ratio=0.3, min_repeat_files=3)
EMPTY_MODEL = BoilerplateModel()


def text_article(path: Path, group: str = "folder:test") -> ExtractedArticle:
    """A plain-text fixture: headline on the first line, paragraphs separated by blank lines."""
    title, _, rest = normalize_text(path.read_text(encoding="utf-8")).partition("\n")
    paragraphs = tuple(p.strip() for p in re.split(r"\n\s*\n", rest) if p.strip())
    return article(title, paragraphs, group, path=str(path))


def article(
    title: str, paragraphs: tuple[str, ...] | list[str], group: str = "folder:test", path: str = "a.txt", **fields
) -> ExtractedArticle:
    source = SourceRef(path=path, sha256="0" * 64, format="text", size=1, modified="2024-01-01T00:00:00Z")
    return ExtractedArticle(source=source, title=title, paragraphs=tuple(paragraphs), group=group, **fields)


# --- normalize_text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Cafe\u0301 society", "Café society"),  # NFC: e + combining acute -> é
        ("Russia\u2019s far east", "Russia's far east"),
        ("South Korea\u2018s minister", "South Korea's minister"),
        ("\u201cfar-reaching plan\u201d", "\u201cfar-reaching plan\u201d"),  # curly double quotes stay
        ("two\u00a0words\tand\u2009more   spaces", "two words and more spaces"),
        ("zero\u200bwidth\u00ad soft\ufeff", "zerowidth soft"),
        ("  line one  \r\nline two\r\n\r\n\r\n\r\nline three \n", "line one\nline two\n\nline three"),
        ("bell\x07 and null\x00", "bell and null"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_normalize_text_is_idempotent() -> None:
    text = "  A\u00a0“quote”\u2019s  end \n\n\n next "
    assert normalize_text(normalize_text(text)) == normalize_text(text)


# --- fingerprints and ids ------------------------------------------------------------------


def test_line_fingerprint_ignores_case_punctuation_and_numbers() -> None:
    assert line_fingerprint("© 2023 Lowland Courier. All rights reserved.") == line_fingerprint(
        "© 2024 LOWLAND courier - all rights reserved"
    )
    assert line_fingerprint("Sign up now") != line_fingerprint("Sign up later")
    assert line_fingerprint("*** | ---") == ""


def test_article_fingerprints_are_the_distinct_blocks() -> None:
    fingerprints = article_fingerprints(article("t", ["One block.", "one block", "Another block.", "•"]))
    assert fingerprints == {line_fingerprint("One block."), line_fingerprint("Another block.")}


def test_article_id_is_stable_and_follows_the_text() -> None:
    first = article_id("Bridge closes", "First paragraph.\n\nSecond paragraph.")
    assert first == article_id("Bridge closes", "First paragraph.\n\nSecond paragraph.")
    assert first == article_id(
        " Bridge  closes", "First paragraph.\n\n\nSecond\u00a0paragraph. "
    )  # same canonical text
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != article_id("Bridge closes", "First paragraph.\n\nSecond paragraph!")
    assert first != article_id("Bridge closed", "First paragraph.\n\nSecond paragraph.")
    # Golden value: ids are Elasticsearch _ids, so the scheme must not drift between versions.
    assert article_id("Title", "Body") == GOLDEN_ID


GOLDEN_ID = "45777c14d90fa79dc6ce71ceb6f81cce"  # sha256("Title\n\nBody")[:32]


# --- the seed article ----------------------------------------------------------------------

SEED_AD_LINES = ("Amazon Prime logo", "Access unlimited streaming", "Sign up now for a 30-day free trial", "Sign up")


def test_seed_ad_block_goes_and_every_real_paragraph_stays() -> None:
    if not SEED.exists():
        pytest.skip(f"{SEED} missing")
    seed = text_article(SEED, "folder:seed")
    cleaned = strip_boilerplate(seed, learn_boilerplate([seed], SETTINGS), SETTINGS)
    assert cleaned is not None
    ads = [p for p in seed.paragraphs if p.startswith(SEED_AD_LINES)]
    real = [p for p in seed.paragraphs if not p.startswith(SEED_AD_LINES)]
    assert len(ads) == 8 and len(real) > 20
    assert not set(ads) & set(cleaned.paragraphs)
    assert cleaned.paragraphs == real  # all of them, in order, subheading and closing line included
    assert cleaned.removed_paragraphs == 8


# --- boilerplate removal -------------------------------------------------------------------


def test_ad_slot_shown_twice_goes_everywhere_but_a_repeated_question_stays() -> None:
    story = text_article(FIXTURES / "ad_slot_twice.txt")
    cleaned = strip_boilerplate(story, EMPTY_MODEL, SETTINGS)
    assert cleaned is not None
    for line in (
        "Harbourline Outdoor",
        "Waterproof jackets for every season, made on the coast",
        "Shop the autumn range",
    ):
        assert line not in cleaned.paragraphs
    assert cleaned.paragraphs.count("What happens next?") == 2
    assert cleaned.paragraphs[-1] == "The trust will publish its findings in a short report before Christmas."
    assert cleaned.removed_paragraphs == 6


def test_repeated_paragraphs_keep_their_first_copy() -> None:
    paragraphs = [
        "The council met on Monday and agreed to widen the bridge over the river next year.",
        "Work will start in March, the council said.",
        "The council met on Monday and agreed to widen the bridge over the river next year.",
        "Work will start in March, the council said.",
    ]
    cleaned = strip_boilerplate(article("Bridge", paragraphs), EMPTY_MODEL, SETTINGS)
    assert cleaned is not None and cleaned.paragraphs == paragraphs[:2]


def test_pull_quote_repeating_a_paragraph_goes() -> None:
    paragraphs = [
        'The mayor said the decision was final. "We cannot keep paying for a bridge nobody uses,"'
        " she told the meeting.",
        "We cannot keep paying for a bridge nobody uses",
        "The bridge will close in May.",
    ]
    cleaned = strip_boilerplate(article("Bridge", paragraphs), EMPTY_MODEL, SETTINGS)
    assert cleaned is not None and cleaned.paragraphs == [paragraphs[0], paragraphs[2]]


def test_footer_shared_by_a_folder_is_learned_and_removed() -> None:
    folder = [text_article(path, "folder:lowland") for path in sorted((FIXTURES / "shared_footer").glob("*.txt"))]
    assert len(folder) == 5
    model = learn_boilerplate(folder, SETTINGS)
    for story in folder:
        cleaned = strip_boilerplate(story, model, SETTINGS)
        assert cleaned is not None
        body = cleaned.body
        for boilerplate in ("Listen to this story", "Morning Edition", "The day's local news", "owned by its readers"):
            assert boilerplate not in body
        # the story's own lines stay, the credit line too although every file has it
        assert cleaned.paragraphs[-1] == "Additional reporting by Sam Okafor"
        assert len(cleaned.paragraphs) == 4


def test_nothing_is_learned_from_a_group_too_small() -> None:
    folder = [text_article(path, "folder:lowland") for path in sorted((FIXTURES / "shared_footer").glob("*.txt"))[:3]]
    model = learn_boilerplate(folder, SETTINGS)
    cleaned = strip_boilerplate(folder[0], model, SETTINGS)
    assert cleaned is not None and "Morning Edition" in cleaned.paragraphs


def test_versions_of_one_story_do_not_make_it_boilerplate() -> None:
    story = [
        "The old stone bridge over the river will close to traffic for seven days from Monday for repairs.",
        "Buses will divert through the industrial estate, adding around ten minutes to every journey in town.",
        "Pedestrians and cyclists will still be able to cross on a temporary walkway on the northern side.",
    ]
    updated = [*story, "Update: the council now says the work may take a second week if the weather is bad."]
    other = ["A different story about the allotment society, which has won its long fight to keep the land."]
    folder = [
        article("Bridge", story, path="1"),
        article("Bridge", story, path="2"),
        article("Bridge", updated, path="3"),
        article("Bridge", updated, path="4"),
        article("Allotments", other, path="5"),
    ]
    model = learn_boilerplate(folder, SETTINGS)
    assert model.groups["folder:test"].articles == 2
    cleaned = strip_boilerplate(folder[2], model, SETTINGS)
    assert cleaned is not None and cleaned.paragraphs == updated


def test_counts_merge_with_counts_from_earlier_runs() -> None:
    footer = "The Lowland Courier is owned by its readers through the Lowland Media Cooperative."
    tonight = [
        article(
            f"Story {n}",
            [f"Story number {word} is about something else entirely, told in one long paragraph.", footer],
            path=str(n),
        )
        for n, word in enumerate(("one", "two"))
    ]
    earlier = [
        article(
            f"Old {n}",
            [f"An older story, number {word}, about other things that happened in the town.", footer],
            path=f"old{n}",
        )
        for n, word in enumerate(("three", "four"))
    ]
    model_tonight = learn_boilerplate(tonight, SETTINGS)
    assert not model_tonight.is_boilerplate("folder:test", line_fingerprint(footer), SETTINGS)

    persisted = learn_boilerplate(earlier, SETTINGS).to_counts()
    merged = model_tonight.merge(persisted)
    assert merged.groups["folder:test"] == GroupCounts(4, merged.groups["folder:test"].fingerprints)
    assert merged.stories_with("folder:test", line_fingerprint(footer)) == 4
    assert merged.is_boilerplate("folder:test", line_fingerprint(footer), SETTINGS)
    assert BoilerplateModel.from_counts(merged.to_counts()) == merged
    cleaned = strip_boilerplate(tonight[0], merged, SETTINGS)
    assert cleaned is not None and footer not in cleaned.paragraphs


def test_real_subheading_short_closing_line_stay_and_caption_goes() -> None:
    story = text_article(FIXTURES / "subheading_and_credit.txt")
    cleaned = strip_boilerplate(story, EMPTY_MODEL, SETTINGS)
    assert cleaned is not None
    assert "Students welcome the change" in cleaned.paragraphs
    assert "Library staff said they would review the new hours in the spring." in cleaned.paragraphs
    assert cleaned.paragraphs[-1] == "Additional reporting by Sam Okafor"
    assert "Photo: Town council archive" not in cleaned.paragraphs
    assert cleaned.removed_paragraphs == 1


@pytest.mark.parametrize(
    "line",
    [
        "Photo: Reuters",
        "The minister arrives at the summit in Vladivostok. (Getty Images)",
        "Image credit: NASA/JPL",
        "Protesters outside the court. REUTERS/Jane Doe",
        "Advertisement",
        "Story continues below advertisement",
        "Sign up now for a 30-day free trial",
        "Sign up",
        "Click here to read the full report",
        "Share this article",
        "Facebook Twitter Email",
        "Follow us on Twitter and Instagram for the latest news.",
        "Get the best stories delivered to your inbox every morning.",
        "Read more: Storm leaves thousands without power",
        "© 2023 Riverside Post Media",
        "Copyright 2024 The Lowland Courier. All rights reserved.",
        "Amazon Prime logo",
        "Have a tip? Email the newsroom.",
    ],
)
def test_pattern_lines_are_boilerplate(line: str) -> None:
    assert boilerplate_reason(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        "Two leaders agreed to meet again for talks on their military cooperation",
        "Additional reporting by agencies",
        "Reporting by Greg Roumeliotis; editing by Martin Howell",
        "Shares of Getty Images rose 4% after the company reported higher licensing revenue for the quarter, "
        "beating analysts' forecasts for the third time this year.",
        "Readers who subscribe to the print edition will see the new layout from next week.",
        "The club said fans could sign up for the waiting list from Monday.",
        "What happens next?",
    ],
)
def test_story_lines_are_not_boilerplate(line: str) -> None:
    assert boilerplate_reason(line) is None


def test_most_read_list_goes_when_its_headlines_recur() -> None:
    headlines = [
        "Storm leaves thousands without power",
        "Harbour authority appoints engineer",
        "Islanders call for new route",
    ]
    story_lines = [f"Story {word} paragraph with enough words to be a real sentence of the article." for word in "abcd"]
    folder = [
        article(f"S{n}", [story_lines[n], "Most read", *headlines[n % 3 :], *headlines[: n % 3]], path=str(n))
        for n in range(4)
    ]
    model = learn_boilerplate(folder, SETTINGS)
    cleaned = strip_boilerplate(folder[0], model, SETTINGS)
    assert cleaned is not None and cleaned.paragraphs == [story_lines[0]]


def test_nothing_left_is_none() -> None:
    assert strip_boilerplate(article("Ad", ["Advertisement", "Sign up"]), EMPTY_MODEL, SETTINGS) is None


def test_clean_article_fields_and_title_without_site_suffix() -> None:
    story = article(
        "Ferry service resumes | The Riverside Post",
        ["Ferry service resumes", "The ferry carried its first passengers in nine days.", "Advertisement"],
        site_name="The Riverside Post",
        url="https://www.riversidepost.example/news/ferry",
        language="en",
    )
    cleaned = strip_boilerplate(story, EMPTY_MODEL, SETTINGS)
    assert cleaned is not None
    assert cleaned.title == "Ferry service resumes"
    assert cleaned.body == "The ferry carried its first passengers in nine days."  # headline repeat and ad removed
    assert cleaned.removed_paragraphs == 2
    assert cleaned.id == article_id(cleaned.title, cleaned.body)
    assert (cleaned.language, cleaned.url, cleaned.source) == ("en", story.url, story.source)


@pytest.mark.parametrize(
    ("title", "site_name", "url", "expected"),
    [
        ("Ferry resumes - BBC News", "BBC News", None, "Ferry resumes"),
        ("TechCrunch | New York investigates WeWork", "TechCrunch", None, "New York investigates WeWork"),
        ("Ferry resumes – The Riverside Post", None, "https://riversidepost.example/x", "Ferry resumes"),
        ("Ferry resumes | Travel", "The Riverside Post", None, "Ferry resumes | Travel"),
        ("Kim: the summit - a review", None, None, "Kim: the summit - a review"),
    ],
)
def test_clean_title(title: str, site_name: str | None, url: str | None, expected: str) -> None:
    assert clean_title(title, site_name, url) == expected


# --- issue 15: repetition in list-like stories, copies, editor's notes -----------------------


def test_short_lines_repeated_in_a_list_like_story_stay() -> None:
    paragraphs = ["A coach's plan for the week before a first race sets out what to eat at each meal."]
    for day, (first, second) in enumerate(
        (("Porridge with banana", "Chicken and rice"), ("Eggs on toast", "Bean soup"))
    ):
        paragraphs += [
            f"Day {day + 1}",
            "Breakfast",
            first,
            "Eat every 2-3 hours",
            "Lunch",
            second,
            "Eat every 2-3 hours",
        ]
    paragraphs.append("Check with a doctor before changing what you eat, the coach said.")
    cleaned = strip_boilerplate(article("Race week meals", paragraphs), EMPTY_MODEL, SETTINGS)
    assert cleaned is not None
    assert list(cleaned.paragraphs) == paragraphs  # every repeated line kept, once per place


def test_repeated_unit_with_a_call_to_action_goes_everywhere_even_between_short_lines() -> None:
    slot = ["Brightmart", "Weekly deals on fresh produce", "Shop now"]
    paragraphs = ["Opening times", *slot, "Monday 9-5", "Tuesday 9-5", *slot, "Closed on Sundays."]
    cleaned = strip_boilerplate(article("Market hours", paragraphs), EMPTY_MODEL, SETTINGS)
    assert cleaned is not None
    assert not set(slot) & set(cleaned.paragraphs)
    assert "Monday 9-5" in cleaned.paragraphs and "Opening times" in cleaned.paragraphs


VOCABULARY = (
    "harbour council ferry school rent bridge bus park market river tide storm library museum bakery festival "
    "station road clinic garden farm orchard quay pier lighthouse village valley hill forest meadow lake island "
    "mayor teacher nurse driver fisher baker farmer student resident trader builder painter sailor doctor "
    "said agreed planned opened closed built moved asked voted raised cut paid found lost wrote read carried "
    "early late quiet busy cold warm wet dry small large old new long short bright dark green grey slow fast"
).split()


def _story(number: int, topic: str) -> list[str]:
    """Three long paragraphs of made-up words, different for every story number."""
    rng = random.Random(number)
    return [" ".join([topic, *rng.choices(VOCABULARY, k=34)]) + "." for _ in range(3)]


def test_boilerplate_follows_a_syndicated_copy_into_another_folder() -> None:
    pitch = "Journalism like this takes time and money. Readers like you keep the Northern Beacon going."
    topics = ("ferries", "schools", "rents", "bridges", "buses", "parks")
    site = [
        article(f"Beacon {n}", [*_story(n, topic), pitch], group="folder:beacon", path=f"beacon/{n}.txt")
        for n, topic in enumerate(topics)
    ]
    copy = article("Beacon 2, syndicated", [*_story(2, "rents")[:2], pitch], group="folder:wire", path="wire/2.txt")
    own = [
        article(f"Wire {n}", _story(10 + n, "markets"), group="folder:wire", path=f"wire/own{n}.txt") for n in range(4)
    ]
    model = learn_boilerplate([*site, copy, *own], SETTINGS)
    cleaned = strip_boilerplate(copy, model, SETTINGS)
    assert cleaned is not None
    assert pitch not in cleaned.paragraphs
    assert list(cleaned.paragraphs) == _story(2, "rents")[:2]
    alone = strip_boilerplate(copy, learn_boilerplate([copy, *own], SETTINGS), SETTINGS)
    assert alone is not None and pitch in alone.paragraphs  # without the site's folder nothing says it is boilerplate


def test_an_editors_note_in_many_edited_copies_of_one_story_stays() -> None:
    note = "Editor's note: This story has been updated to include comments from the harbour authority."
    base = _story(1, "the new quay")
    versions = []
    for version in range(8):
        edited = [p.replace("today", ["now", "again", "still", "later"][version % 4]) + f" ({version})" for p in base]
        versions.append(article(f"Quay v{version}", [*edited, note], path=f"v{version}.txt"))
    others = [article(f"Other {n}", _story(20 + n, "something else"), path=f"o{n}.txt") for n in range(6)]
    model = learn_boilerplate([*versions, *others], SETTINGS)
    for version in versions:
        cleaned = strip_boilerplate(version, model, SETTINGS)
        assert cleaned is not None and cleaned.paragraphs[-1] == note


@pytest.mark.parametrize(
    "line",
    [
        "Get The Lakeside Tribune's Daily Edition by email and never miss our top stories",
        "Simply pop your email into the box and we'll do the rest.",
        "Make a tax-deductible donation today.",
        "Subscribe to continue reading this story.",
    ],
)
def test_subscription_pitches_and_newsletter_boxes_are_boilerplate(line: str) -> None:
    assert boilerplate_reason(line) == "cta"


def test_never_miss_in_a_sentence_of_the_story_is_not_a_pitch() -> None:
    assert boilerplate_reason("He said he would never miss a home game, even in the rain.") is None


def test_site_suffix_chain_is_cut_at_the_part_naming_the_site() -> None:
    title = "Driver killed in crash on the causeway - WSVN 7News | Miami News, Weather, Sports | Fort Lauderdale"
    assert clean_title(title, None, "https://wsvn.com/news/local/crash/") == "Driver killed in crash on the causeway"


def test_a_web_page_holding_only_a_caption_is_quarantined_no_article(tmp_path: Path) -> None:
    from newsetl.config.settings import load_settings
    from newsetl.tasks.clean import clean_batch
    from newsetl.tasks.discover import discover_files
    from newsetl.tasks.extract import extract_batch
    from newsetl.tasks.records import NO_ARTICLE
    from newsetl.tasks.store import MemoryStore

    caption = "A man walks past a mural in the old harbour district on Tuesday afternoon. Photo: Staff photographer"
    story = " ".join(f"Sentence {n} of the council's long report on the harbour and its ferries." for n in range(8))
    (tmp_path / "caption.html").write_text(
        f"<html><head><title>Mural | The Courier</title></head><body><main><figure><img src='m.jpg'></figure>"
        f"<p>{caption}</p></main></body></html>",
        encoding="utf-8",
    )
    (tmp_path / "story.html").write_text(
        f"<html><body><article><p>{story}</p></article></body></html>", encoding="utf-8"
    )
    (tmp_path / "note.txt").write_text(
        "Short note\n\nThe ferry runs again from Monday, the harbour board said.\n", encoding="utf-8"
    )
    settings = load_settings()
    batch = extract_batch(discover_files([str(tmp_path)], settings.discover).files, settings.extract)
    cleaned = clean_batch(batch, MemoryStore(), settings.clean)
    reasons = {Path(q.path).name: q.reason for q in cleaned.quarantined}
    assert reasons == {"caption.html": NO_ARTICLE}
    assert {Path(a.source.path).name for a in cleaned.articles} == {"story.html", "note.txt"}  # a short text file stays
