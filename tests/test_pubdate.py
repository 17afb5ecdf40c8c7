"""Tests of tasks.pubdate: the publication date of an HTML page."""

from __future__ import annotations

import pytest

from newsetl.tasks.dates import normalise_iso
from newsetl.tasks.pubdate import (
    HTML_META,
    HTML_TEXT,
    publication_date_and_source,
    publication_date_from_html,
    url_date,
)


def page(head: str = "", body: str = "<p>Some article text.</p>") -> str:
    return (
        f"<!DOCTYPE html><html><head><title>A story</title>{head}</head><body><article>{body}</article></body></html>"
    )


def json_ld(payload: str) -> str:
    return f'<script type="application/ld+json">{payload}</script>'


def test_json_ld_date_published_wins_over_date_modified():
    html = page(
        json_ld(
            '{"@type": "NewsArticle", "datePublished": "2021-03-04T10:00:00+01:00", '
            '"dateModified": "2021-06-30T09:00:00+01:00"}'
        )
    )
    assert publication_date_from_html(html) == "2021-03-04T10:00:00+01:00"


def test_json_ld_graph_and_invalid_json_are_read():
    graph = json_ld(
        '{"@context": "https://schema.org", '
        '"@graph": [{"@type": "WebSite"}, {"@type": "Article", "datePublished": "2020-02-02"}]}'
    )
    assert publication_date_from_html(page(graph)) == "2020-02-02"
    trailing_comma = json_ld('{"@type": "Article", "datePublished": "2019-11-05",}')
    assert publication_date_from_html(page(trailing_comma)) == "2019-11-05"


def test_meta_published_time_wins_over_modified_time():
    head = (
        '<meta property="article:modified_time" content="2022-08-01T12:00:00Z">'
        '<meta property="article:published_time" content="2022-07-15T06:30:00Z">'
    )
    assert publication_date_from_html(page(head)) == "2022-07-15T06:30:00+00:00"


def test_microdata_time_element_names_the_publication_day():
    body = (
        '<time itemprop="dateModified" datetime="2018-08-29">29 Aug 2018</time>'
        '<time itemprop="datePublished" datetime="2018-06-22 10:20:00">22 Jun 2018</time><p>Text.</p>'
    )
    assert publication_date_from_html(page(body=body)) == "2018-06-22T10:20:00"


def test_date_in_the_url_is_used_when_the_page_states_none():
    assert publication_date_from_html(page(), url="https://news.example.org/2019/07/21/harbour-reopens") == "2019-07-21"


def test_metadata_contradicted_by_the_url_is_left_to_htmldate():
    html = page(json_ld('{"@type": "Article", "datePublished": "2020-01-10"}'))
    # htmldate trusts a full date in the URL first.
    assert publication_date_from_html(html, url="https://example.org/2020/01/12/story")[:10] == "2020-01-12"


def test_visible_text_date_is_found_when_there_is_no_markup():
    assert (
        publication_date_from_html(page(body="<p class='byline'>Published on 3 May 2018</p><p>Text.</p>"))
        == "2018-05-03"
    )


def test_future_dates_are_not_publication_dates():
    html = page('<meta property="article:published_time" content="2999-01-01T00:00:00Z">')
    assert publication_date_from_html(html) is None


def test_xml_declaration_and_garbage_input():
    declared = '<?xml version="1.0" encoding="UTF-8"?>' + page('<meta name="pubdate" content="2017-05-06">')
    assert publication_date_from_html(declared) == "2017-05-06"
    assert publication_date_from_html("") is None
    assert publication_date_from_html("   ") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-10-18T20:00:25.850Z", "2019-10-18T20:00:25.850000+00:00"),
        ("2023-11-08 22:35:29", "2023-11-08T22:35:29"),
        ("2020-02-19T18:37:32+0100", "2020-02-19T18:37:32+01:00"),
        ("2020/02/19", "2020-02-19"),
        ("11/01/2023 12:43:42", None),  # day and month order unknown: left to htmldate
        ("2021-02-30", None),
        (None, None),
    ],
)
def test_normalise_iso(value, expected):
    assert normalise_iso(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.example.de/home/2017/7/12/unter-uns", "2017-07-12"),
        ("https://example.com/news/2020-04-27/story.html", "2020-04-27"),
        ("https://example.com/2019/res158-interview/", None),
        ("https://example.com/2019/13/40/x", None),
        (None, None),
    ],
)
def test_url_date(url, expected):
    assert url_date(url) == expected


def test_a_date_from_the_pages_text_is_labelled_as_such():
    found = publication_date_and_source(page(body="<p class='byline'>Published on 3 May 2018</p><p>Text.</p>"))
    assert found is not None and found[0] == "2018-05-03" and found[1] in (HTML_META, HTML_TEXT)
    stated = publication_date_and_source(page('<meta property="article:published_time" content="2017-05-06">'))
    assert stated == ("2017-05-06", HTML_META)


def test_when_the_meta_date_is_rejected_a_year_in_the_body_is_not_labelled_html_meta():
    html = page(
        '<meta property="article:published_time" content="9999-12-31T00:00:00Z">',
        "<p>The bridge was built in 1998 and repaired in 2011, the council said in its report.</p>",
    )
    found = publication_date_and_source(html)
    assert found is None or found[1] == HTML_TEXT
