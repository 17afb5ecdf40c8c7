"""Article extraction from HTML pages (tasks/readers/html_page.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trafilatura

from newsetl.config.settings import CleanSettings, ExtractSettings
from newsetl.tasks.clean import BoilerplateModel, strip_boilerplate
from newsetl.tasks.readers.html_page import declared_language, extract_html, parse_html, site_group
from newsetl.tasks.records import SourceRef

FIXTURES = Path(__file__).parent / "fixtures" / "html"
SETTINGS = ExtractSettings()
SOURCE = SourceRef(path="/data/page.html", sha256="0" * 64, format="html", size=1, modified="2024-01-01T00:00:00Z")


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_article_blocks_and_metadata() -> None:
    article = extract_html(fixture("article.html"), SOURCE, "folder:pages", SETTINGS)
    assert article is not None
    paragraphs = article.paragraphs
    # paragraphs, the subheading and each list item are blocks of their own, in page order
    assert "Repairs ahead of schedule" in paragraphs
    assert "Boarding now takes place from the northern end of the pier." in paragraphs
    assert paragraphs.index("Repairs ahead of schedule") < paragraphs.index(
        "The authority listed the changes passengers will notice:"
    )
    assert any(
        p.startswith("\"We have been sleeping on my sister's sofa") for p in paragraphs
    )  # apostrophes normalised
    # navigation, the footer, the related-links aside and the in-body list of links are not the article
    text = "\n".join(paragraphs)
    for absent in ("Home", "Privacy policy", "All rights reserved", "Storm leaves thousands", "Coastal path reopens"):
        assert absent not in text
    # a single linked line inside the story is the story's
    assert "The full winter timetable is on the harbour authority's website" in paragraphs

    assert article.title == "Ferry service to the islands resumes after storm repairs"
    assert article.site_name == "The Riverside Post"
    assert article.author == "Jo Marlow"
    assert article.url == "https://www.riversidepost.example/news/2023/09/14/ferry-service-resumes"
    assert article.group == "site:riversidepost.example"
    assert article.language == "en"
    assert article.published_at is not None and article.published_at.startswith("2023-09-14")
    assert article.published_at_source == "html_meta"
    assert article.source == SOURCE


def test_what_trafilatura_keeps_in_the_body_is_cleaned_afterwards() -> None:
    article = extract_html(fixture("article.html"), SOURCE, "folder:pages", SETTINGS)
    assert article is not None
    promo = "Riverside Plus: read every story without adverts. Start your free trial today."
    assert promo in article.paragraphs  # trafilatura keeps it...
    cleaned = strip_boilerplate(article, BoilerplateModel(), CleanSettings())
    assert cleaned is not None
    assert promo not in cleaned.paragraphs  # ...the boilerplate step does not
    assert cleaned.paragraphs[0].startswith("The ferry linking the mainland harbour")  # headline repeat gone
    assert "Repairs ahead of schedule" in cleaned.paragraphs
    assert cleaned.removed_paragraphs == 2


def test_body_split_by_an_ad_row_is_extracted_whole() -> None:
    html = fixture("split_body.html")
    first_half_only = trafilatura.extract(html) or ""
    assert "Restoring the full length" not in first_half_only  # the case this handles
    article = extract_html(html, SOURCE, "folder:pages", SETTINGS)
    assert article is not None
    assert len(article.paragraphs) == 6
    assert article.paragraphs[0].startswith("For sixty years")
    assert article.paragraphs[3].startswith("Restoring the full length")
    assert "Advertisement" not in article.paragraphs


def test_a_script_inside_a_paragraph_is_not_text() -> None:
    # An ad's script inside a paragraph of the part trafilatura leaves out (found again as a continuation).
    ad = "<ins class=\"ad\"></ins><script>(ads = window.ads || []).push({});</script>"
    html = fixture("split_body.html").replace(
        "coins they paid at each lock.</p>", f"coins they paid at each lock. {ad}The end.</p>"
    )
    article = extract_html(html, SOURCE, "folder:pages", SETTINGS)
    assert article is not None and article.paragraphs[-1].endswith("coins they paid at each lock. The end.")
    assert not any("window" in paragraph for paragraph in article.paragraphs)


def test_embedded_tweet_is_kept_with_its_attribution() -> None:
    story = "".join(
        f"<p>Paragraph {n} of a story about the council vote, long enough to count as article text here.</p>"
        for n in range(4)
    )
    tweet = (
        '<blockquote class="twitter-tweet"><p lang="en">The bridge vote passed by nine to two.</p>'
        '&mdash; Town Hall Reporter (@townhall) <a href="https://x.example/1">May 3, 2024</a></blockquote>'
    )
    body = f'<div class="article-body">{story}{tweet}<p>The work starts in June.</p></div>'
    html = f"<html><body><article>{body}</article></body></html>"
    article = extract_html(html, SOURCE, "folder:pages", SETTINGS)
    assert article is not None
    assert "The bridge vote passed by nine to two." in article.paragraphs
    assert "— Town Hall Reporter (@townhall) May 3, 2024" in article.paragraphs
    assert article.paragraphs.index("The bridge vote passed by nine to two.") < article.paragraphs.index(
        "The work starts in June."
    )


def test_page_without_article_text_is_none() -> None:
    nav_only = '<html><body><nav><a href="/">Home</a> <a href="/news">News</a></nav></body></html>'
    assert extract_html(nav_only, SOURCE, "folder:pages", SETTINGS) is None
    assert extract_html("", SOURCE, "folder:pages", SETTINGS) is None


def test_deep_markup_is_flattened_not_lost() -> None:
    deep = "<div>" * 300 + "<p>" + "Deeply nested words of a real paragraph. " * 6 + "</p>" + "</div>" * 300
    tree = parse_html(f"<html><body>{deep}</body></html>", max_depth=50)
    assert tree is not None
    assert max(len(list(element.iterancestors())) for element in tree.iter()) <= 50
    assert "Deeply nested words" in tree.text_content()
    article = extract_html(
        f"<html><body>{deep}</body></html>", SOURCE, "folder:pages", ExtractSettings(max_html_depth=50)
    )
    assert article is not None and "Deeply nested words of a real paragraph." in article.paragraphs[0]


@pytest.mark.parametrize(
    ("url", "site_name", "expected"),
    [
        ("https://www.Example.com:8080/news/1", None, "site:example.com"),
        ("https://m.example.co.uk/a", "Example", "site:example.co.uk"),
        ("example.org", None, "site:example.org"),
        (None, "The Daily Ledger", "site:the-daily-ledger"),
        (None, None, "folder:news"),
        ("file:///tmp/page.html", None, "folder:news"),
    ],
)
def test_site_group(url: str | None, site_name: str | None, expected: str) -> None:
    assert site_group(url, site_name, "folder:news") == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<html lang="en-GB"><body><p>x</p><p>y</p></body></html>', "en"),
        ('<html lang="DE"><body><p>x</p><p>y</p></body></html>', "de"),
        ('<html><head><meta http-equiv="Content-Language" content="fr"></head><body><p>x</p></body></html>', "fr"),
        ("<html><body><p>x</p><p>y</p></body></html>", None),
        ('<html lang="x-klingon"><body><p>x</p><p>y</p></body></html>', None),
    ],
)
def test_declared_language(html: str, expected: str | None) -> None:
    tree = parse_html(html, 400)
    assert tree is not None
    assert declared_language(tree) == expected


# --- issue 15: the headline from the best evidence, standfirsts, drop caps ---------------------

BODY = "".join(
    f"<p>{sentence} The harbour board met on the quay and agreed the plan after a long debate with residents.</p>"
    for sentence in ("First of all, the ferry will run again.", "Then the pier reopens.", "Finally the fees change.")
)


def page(head: str, before_body: str = "", body: str = BODY) -> str:
    return (
        f"<html><head>{head}</head><body><nav><a href='/'>Home</a></nav><main><article>"
        f"{before_body}<div class='story-body'>{body}</div></article></main></body></html>"
    )


def test_title_is_the_heading_that_the_title_element_names_without_site_or_kicker() -> None:
    html = page(
        "<title>Harbour news: Ferry returns to the north pier - The Coast Courier</title>",
        "<h1>Ferry returns to the north pier</h1>",
    )
    article = extract_html(html, SOURCE, "folder:pages", SETTINGS, url="https://coastcourier.example/ferry")
    assert article is not None and article.title == "Ferry returns to the north pier"


def test_a_generic_page_name_in_the_metadata_loses_to_the_pages_heading() -> None:
    html = page(
        "<title>About Us - Shorewatch</title><meta property='og:title' content='About Us - Shorewatch'>",
        "<h1>The strategic think tank for coastal towns</h1>",
    )
    article = extract_html(html, SOURCE, "folder:pages", SETTINGS, url="https://shorewatch.example/about")
    assert article is not None and article.title == "The strategic think tank for coastal towns"


def test_a_site_heading_is_not_the_headline() -> None:
    html = page(
        "<title>Ferry returns to the north pier | Pier Diaries</title>"
        "<meta property='og:title' content='Ferry returns to the north pier'>",
        "<h1>Pier Diaries</h1>",
    )
    article = extract_html(html, SOURCE, "folder:pages", SETTINGS, url="https://pierdiaries.example/2024/ferry")
    assert article is not None and article.title == "Ferry returns to the north pier"


def test_headline_is_not_repeated_as_the_first_paragraph() -> None:
    html = page(
        "<title>Ferry returns to the north pier - The Coast Courier</title>", "<h1>Ferry returns to the north pier</h1>"
    )
    article = extract_html(html, SOURCE, "folder:pages", SETTINGS, url="https://coastcourier.example/ferry")
    assert article is not None
    cleaned = strip_boilerplate(article, BoilerplateModel(), CleanSettings())
    assert cleaned is not None and not cleaned.body.startswith("Ferry returns")


def test_standfirst_between_headline_and_body_is_kept() -> None:
    standfirst = "Passengers will be able to board from the north pier again from Monday, the harbour board said."
    html = page("<title>Ferry returns</title>", f"<h1>Ferry returns</h1><div class='lead'><p>{standfirst}</p></div>")
    article = extract_html(html, SOURCE, "folder:pages", SETTINGS)
    assert article is not None and standfirst in article.paragraphs
    assert article.paragraphs.index(standfirst) < article.paragraphs.index(
        next(p for p in article.paragraphs if p.startswith("First of all"))
    )


def test_a_lost_drop_cap_is_joined_back() -> None:
    body = (
        "<div class='dropcap' aria-hidden='true'>T</div>"
        "<p>urkey, Poland and three islands were added to the quarantine list, the ministry said on Thursday.</p>"
        + BODY
    )
    article = extract_html(page("<title>Quarantine list</title>", body=body), SOURCE, "folder:pages", SETTINGS)
    assert article is not None
    assert not any(p.startswith("urkey") for p in article.paragraphs)
    assert article.paragraphs[0].startswith("Turkey, Poland") and "T" not in article.paragraphs
