"""Tests of tasks/extract.py and tasks/readers/: reading, decoding, each format, bad input that never raises."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import os
import random
import time
import zlib
from pathlib import Path

import pytest

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.dates import normalize_date, parse_dateline
from newsetl.tasks.extract import extract_articles, extract_file, read_source
from newsetl.tasks.readers.base import ExtractionResult, Problem, RawInput
from newsetl.tasks.readers.decode import declared_charset, decode_text
from newsetl.tasks.readers.html_depth import html_depth, limit_html_depth
from newsetl.tasks.readers.text import unwrap_block
from newsetl.tasks.records import (
    BAD_GZIP,
    BAD_JSON,
    BAD_WARC,
    BINARY,
    CHANGED_WHILE_READ,
    DECODE_ERROR,
    EMPTY,
    NO_TEXT,
    TOO_LARGE,
    UNREADABLE,
    UNSUPPORTED,
    ExtractedArticle,
    Quarantine,
    SourceFile,
    SourceRef,
)

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
CORPORA = Path(os.environ.get("NEWSETL_CORPORA", Path(__file__).resolve().parents[1].parent / "shared" / "corpora"))
SEED = CORPORA / "seed" / "000_5e6e1551d8ebd9d7.txt"
SETTINGS = ExtractSettings()
STORY = " ".join(f"Sentence {i} of a story about the harbour council and its new budget." for i in range(6))


def source_for(path: Path, root: Path | None = None) -> SourceFile:
    info = path.stat()
    return SourceFile(str(path), str(root or path.parent), info.st_size, info.st_mtime, info.st_ino)


def write(tmp_path: Path, name: str, data: bytes) -> SourceFile:
    path = tmp_path / name
    path.write_bytes(data)
    return source_for(path, tmp_path)


def stub_extractor(html: str, source: SourceRef, group: str, settings: ExtractSettings, url: str | None = None):
    """Stands in for tasks.readers.html_page.extract_html: one paragraph per <p>, None when there is none."""
    import re

    paragraphs = tuple(p.strip() for p in re.findall(r"<p>(.*?)</p>", html, re.S) if p.strip())
    if not paragraphs:
        return None
    return ExtractedArticle(source=source, title="stub", paragraphs=paragraphs, group=group, url=url)


def html_page(title: str, paragraphs: int, charset: str = "utf-8") -> str:
    body = "".join(
        f"<p>Paragraph {i} of the report on {title}, long enough to be read as text.</p>" for i in range(paragraphs)
    )
    head = f'<head><meta charset="{charset}"><title>{title}</title></head>'
    return f"<html>{head}<body><article><h1>{title}</h1>{body}</article></body></html>"


def articles_of(outcome: ExtractionResult | Quarantine) -> tuple[ExtractedArticle, ...]:
    assert isinstance(outcome, ExtractionResult), outcome
    return outcome.articles


def test_extract_articles_is_pure_over_raw_input() -> None:
    raw = RawInput(
        SourceFile("/data/news/bbc/a.txt", "/data/news", 99, 0.0),
        "ab" * 32,
        f"Title\n\n{STORY}".encode(),
        "text",
        False,
    )
    (article,) = articles_of(extract_articles(raw, SETTINGS))
    assert article.source == SourceRef("/data/news/bbc/a.txt", "ab" * 32, "text", 99, "1970-01-01T00:00:00Z", None)
    assert article.title == "Title" and article.paragraphs == (STORY,) and article.group == "folder:/data/news/bbc"
    unknown = RawInput(raw.source, raw.sha256, raw.data, "lotus123", False)
    assert extract_articles(unknown, SETTINGS) == Quarantine(
        "/data/news/bbc/a.txt", UNSUPPORTED, "no reader for format 'lotus123'"
    )


# --- plain text and Markdown ----------------------------------------------------------------


def test_seed_article_title_is_its_first_line_and_paragraphs_split_on_blank_lines() -> None:
    if not SEED.exists():
        pytest.skip(f"shared corpora not found at {CORPORA}")
    (article,) = articles_of(extract_file(source_for(SEED), SETTINGS))
    first_line = SEED.read_text(encoding="utf-8").split("\n", 1)[0].strip()
    assert article.title == first_line
    assert 25 <= len(article.paragraphs) <= 40
    assert article.paragraphs[0].startswith("Russian president")
    assert article.published_at is None
    assert article.source.format == "text" and article.source.sha256 == hashlib.sha256(SEED.read_bytes()).hexdigest()
    assert article.source.modified.endswith("Z") and article.group == "folder:" + str(SEED.parent)


def test_text_article_with_dateline_hard_wraps_and_a_list() -> None:
    (article,) = articles_of(extract_file(source_for(FIXTURES / "dated_article.txt", FIXTURES.parent), SETTINGS))
    assert article.title == "Harbour town votes to rebuild its storm-damaged pier"
    assert article.published_at == "2018-10-09" and article.published_at_source == "text"
    assert not any("Published" in p for p in article.paragraphs)
    assert article.paragraphs[0].startswith("Residents of Westmere voted") and article.paragraphs[0].endswith(
        "afford it."
    )
    assert article.paragraphs[2:6] == (
        "Supporters of the plan listed three reasons:",
        "- the pier shelters the fishing fleet",
        "- visitors come for the view from its end",
        "- the lifeboat launches from its slipway",
    )
    assert article.group == "folder:" + str(FIXTURES)


def test_markdown_article_loses_its_markup() -> None:
    (article,) = articles_of(extract_file(source_for(FIXTURES / "markdown_feature.md"), SETTINGS))
    assert article.title == "Night trains return to the northern line"
    assert article.published_at == "2023-09-14T10:00:00"
    body = "\n".join(article.paragraphs)
    assert "**" not in body and "](" not in body and "#" not in body
    assert (
        "The first sleeper service in a decade" in article.paragraphs[0] and "Tickets sold out" in article.paragraphs[0]
    )
    assert "What changes for travellers" in article.paragraphs
    assert "Cabins for two or four people" in article.paragraphs


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Published 9 October 2018", "2018-10-09"),
        ("Updated: 2023-09-14 10:00", "2023-09-14T10:00:00"),
        ("September 14, 2023", "2023-09-14"),
        ("Thursday 14 September 2023 10.30 BST", "2023-09-14"),  # a named local zone: the day only
        ("Posted on Sept. 3rd, 2021 at 5:30 pm UTC", "2021-09-03T17:30:00Z"),
        ("2023-09-14T10:00:00+02:00", "2023-09-14T10:00:00+02:00"),
        ("First published: Mon 4 Mar 2024", "2024-03-04"),
        ("14 May 2023 the minister said", None),  # a sentence, not a dateline
        ("May 2023 was the warmest on record", None),
        ("Published 31 February 2020", None),  # no such day
        ("Sign up now for a 30-day free trial", None),
    ],
)
def test_parse_dateline_is_strict(line: str, expected: str | None) -> None:
    parsed = parse_dateline(line)
    assert (parsed[1] if parsed else None) == expected


def test_dateline_published_wins_over_updated_and_both_leave_the_body(tmp_path: Path) -> None:
    text = f"Headline of the day\nUpdated 2 March 2024\nPublished 1 March 2024\n\n{STORY}\n"
    (article,) = articles_of(extract_file(write(tmp_path, "a.txt", text.encode()), SETTINGS))
    assert article.published_at == "2024-03-01"
    assert article.paragraphs == (STORY,)


def test_a_date_deep_in_the_body_is_not_a_dateline(tmp_path: Path) -> None:
    text = f"Headline\n\n{STORY}\n\nOne\n\nTwo\n\n9 October 2018\n"
    (article,) = articles_of(extract_file(write(tmp_path, "a.txt", text.encode()), SETTINGS))
    assert article.published_at is None and article.paragraphs[-1] == "9 October 2018"


def test_unwrap_joins_hard_wrapped_prose_but_keeps_short_and_long_lines_apart() -> None:
    wrapped = (
        "The council met on Monday evening to discuss the plan for\n"
        "the harbour, which has been argued over for two years by\n"
        "everyone in town."
    )
    assert unwrap_block(wrapped) == [wrapped.replace("\n", " ")]
    assert unwrap_block("Amazing offer logo\nSign up now\nSign up") == ["Amazing offer logo", "Sign up now", "Sign up"]
    long_lines = f"{STORY}\n{STORY[:150]}"
    assert unwrap_block(long_lines) == [STORY, STORY[:150].strip()]


def test_text_edge_cases_blank_lead_dateline_first_and_no_headline(tmp_path: Path) -> None:
    lead = f"  \n\t\n   Headline after blank lines  \n \n\n\n{STORY}\n"
    (article,) = articles_of(extract_file(write(tmp_path, "lead.txt", lead.encode()), SETTINGS))
    assert article.title == "Headline after blank lines" and article.paragraphs == (STORY,)

    dated_first = f"14 March 2024\n\nHeadline below the date\n\n{STORY}\n"
    (article,) = articles_of(extract_file(write(tmp_path, "dated.txt", dated_first.encode()), SETTINGS))
    assert article.title == "Headline below the date" and article.published_at == "2024-03-14"

    one_line = " ".join([STORY] * 3)  # no headline: the first line is a whole paragraph
    (article,) = articles_of(extract_file(write(tmp_path, "flat.txt", one_line.encode()), SETTINGS))
    assert article.title is None and article.paragraphs == (one_line,)


def test_text_file_with_only_a_title_has_no_text(tmp_path: Path) -> None:
    outcome = extract_file(write(tmp_path, "a.txt", b"Just a headline\n"), SETTINGS)
    assert isinstance(outcome, Quarantine) and outcome.reason == NO_TEXT
    assert outcome.detail == "a headline only, no text under it"  # not "0 characters of text"


# --- JSON and JSON lines ---------------------------------------------------------------------


def test_jsonl_keeps_good_lines_and_reports_bad_ones() -> None:
    outcome = extract_file(source_for(FIXTURES / "articles.jsonl"), SETTINGS, html_extractor=stub_extractor)
    assert isinstance(outcome, ExtractionResult)
    first, second, third = outcome.articles
    assert [a.source.record for a in outcome.articles] == ["line 1", "line 3", "line 6"]
    assert first.title == "Library extends opening hours for exam season"
    assert first.url == "https://news.example.com/library-hours" and first.author == "Ana Ruiz"
    assert first.published_at == "2024-05-02T08:30:00Z" and first.published_at_source == "json"
    assert first.language == "en" and len(first.paragraphs) == 2
    assert second.author == "Li Wei, Sam Okafor" and second.published_at == "2024-05-04T09:00:00Z"
    assert third.paragraphs[0].startswith("The covered market hall reopened")  # from content_html
    assert [(q.reason, q.detail.split(":")[0]) for q in outcome.problems] == [(BAD_JSON, "line 2"), (NO_TEXT, "line 4")]
    assert all(a.source.format == "jsonl" and a.group == "folder:" + str(FIXTURES) for a in outcome.articles)


def test_jsonl_with_every_line_bad_is_quarantined(tmp_path: Path) -> None:
    outcome = extract_file(write(tmp_path, "bad.jsonl", b"{not json\n[1, 2\n\n{'single': 'quotes'}\n"), SETTINGS)
    assert isinstance(outcome, Quarantine) and outcome.reason == BAD_JSON and "none of 3 lines" in outcome.detail


def test_json_single_object_and_feed_wrapper() -> None:
    (single,) = articles_of(extract_file(source_for(FIXTURES / "single_article.json"), SETTINGS))
    assert single.title == "Volunteers count the town's swifts" and single.source.record is None
    assert single.author == "Maren Holt" and single.site_name == "The Valley Courier" and single.language == "en"
    assert single.published_at == "2024-06-16" and len(single.paragraphs) == 2

    ferry, bakery = articles_of(extract_file(source_for(FIXTURES / "feed.json"), SETTINGS))
    assert [ferry.source.record, bakery.source.record] == ["item 1", "item 2"]
    assert ferry.site_name == "Coastal News" and ferry.published_at == "2024-03-01T06:00:00+01:00"
    assert bakery.published_at == "2024-03-01T08:00:00Z"  # epoch seconds


def test_json_bodies_plain_with_blank_lines_and_html_fragments(tmp_path: Path) -> None:
    records = [
        {"title": "Plain", "text": f"{STORY}\n\nSecond paragraph of the plain story, also long enough."},
        {"title": {"rendered": "Rendered"}, "content": {"rendered": f"<p>{STORY}</p><p>Second &amp; last.</p>"}},
    ]
    source = write(tmp_path, "wp.json", json.dumps(records).encode())
    plain, rendered = articles_of(extract_file(source, SETTINGS, html_extractor=lambda *a, **k: None))
    assert plain.paragraphs == (STORY, "Second paragraph of the plain story, also long enough.")
    # The extractor found nothing in the fragment: its block tags still give the paragraphs.
    assert rendered.title == "Rendered" and rendered.paragraphs == (STORY, "Second & last.")


def test_json_errors_are_quarantined_not_raised(tmp_path: Path) -> None:
    deep = write(tmp_path, "deep.json", b"[" * 100_000 + b"]" * 100_000)
    assert extract_file(deep, SETTINGS).reason == BAD_JSON
    assert extract_file(write(tmp_path, "broken.json", b'{"title": "x", '), SETTINGS).reason == BAD_JSON
    scalar = extract_file(write(tmp_path, "scalar.json", b'"just a string"'), SETTINGS)
    assert scalar.reason == BAD_JSON and "not an object" in scalar.detail


def test_json_lines_named_json_are_read_as_lines(tmp_path: Path) -> None:
    lines = "\n".join(json.dumps({"title": f"T{i}", "text": STORY}) for i in range(3))
    articles = articles_of(extract_file(write(tmp_path, "dump.json", lines.encode()), SETTINGS))
    assert [a.source.record for a in articles] == ["line 1", "line 2", "line 3"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-09-14", "2023-09-14"),
        ("2023-09-14T10:00:00Z", "2023-09-14T10:00:00Z"),
        ("2023-09-14T10:00:00.123+02:00", "2023-09-14T10:00:00+02:00"),
        ("Tue, 10 Jun 2003 04:00:00 GMT", "2003-06-10T04:00:00Z"),
        (1694685600, "2023-09-14T10:00:00Z"),
        (1694685600000, "2023-09-14T10:00:00Z"),  # milliseconds
        ("14 September 2023", "2023-09-14"),
        ("2023-13-45", None),
        (20230105, "2023-01-05"),  # eight digits are YYYYMMDD, not epoch seconds of 1970
        ("20230105", "2023-01-05"),
        (20231345, None),  # eight digits but no calendar day: rejected, not read as seconds
        ("9999-12-31", None),  # outside 1900 .. tomorrow: a placeholder, never a publication date
        ("0001-01-01", None),
        (0, None),
        ("Published 9 October 1850", None),
        ("soon", None),
        (True, None),
        ({"nested": 1}, None),
    ],
)
def test_normalize_date(value: object, expected: str | None) -> None:
    assert normalize_date(value) == expected


# --- HTML ------------------------------------------------------------------------------------


def test_html_is_decoded_by_its_declared_charset_and_handed_to_the_extractor(tmp_path: Path) -> None:
    page = html_page("Café society", 3, charset="windows-1252").replace("report", "rapport é")
    source = write(tmp_path, "page.html", page.encode("cp1252"))
    (article,) = articles_of(extract_file(source, SETTINGS, html_extractor=stub_extractor))
    assert "rapport é" in article.paragraphs[0]
    assert article.source.format == "html" and article.group == "folder:" + str(tmp_path)


def test_html_without_text_is_no_text(tmp_path: Path) -> None:
    page = b"<html><head><title>x</title></head><body><nav><a href=/>Home</a></nav></body></html>"
    source = write(tmp_path, "empty.html", page)
    assert extract_file(source, SETTINGS, html_extractor=stub_extractor).reason == NO_TEXT
    assert extract_file(source, SETTINGS).reason == NO_TEXT  # the real extractor agrees


def test_html_through_the_real_extractor(tmp_path: Path) -> None:
    source = write(tmp_path, "story.html.gz", gzip.compress(html_page("Council budget", 5).encode()))
    (article,) = articles_of(extract_file(source, SETTINGS))
    assert article.source.format == "html+gzip"
    assert any("Paragraph 3 of the report on Council budget" in p for p in article.paragraphs)


def test_html_depth_estimate_follows_the_parser() -> None:
    assert html_depth("<html><body><div><p>a<p>b<ul><li>x<li>y</ul></div></body></html>") == 5
    assert html_depth("<table><tr><td>" * 10 + "x") == 40  # the parser adds a tbody per table
    assert html_depth("<div><br><img src=x><input/></div><script>'<div><div>'</script>") == 1


def test_deep_html_is_flattened_and_its_text_survives() -> None:
    article = "<article>" + "".join(f"<p>{STORY}</p>" for _ in range(2)) + "</article>"
    deep = "<html><body>" + "<div>x" * 100_000 + "</div>" * 100_000 + article + "</body></html>"
    started = time.perf_counter()
    flattened, depth = limit_html_depth(deep, SETTINGS.max_html_depth)
    assert depth > 100_000 and html_depth(flattened) <= SETTINGS.max_html_depth
    assert flattened.count("x") == deep.count("x") and article in flattened
    assert time.perf_counter() - started < 5


def test_deep_html_file_does_not_crash_the_real_extractor(tmp_path: Path) -> None:
    story = f"<article><h1>Deep</h1><p>{STORY}</p></article>"
    deep = "<html><body>" + "<div><span>" * 50_000 + "</span></div>" * 50_000 + story + "</body></html>"
    (article,) = articles_of(extract_file(write(tmp_path, "deep.html", deep.encode()), SETTINGS))
    assert any(STORY[:60] in p for p in article.paragraphs)


# --- WARC ------------------------------------------------------------------------------------


def build_warc(pages: list[tuple[str, str, str, bytes]], compress: bool = True) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=compress)
    for url, status, content_type, body in pages:
        http = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))
    return buffer.getvalue()


WARC_PAGES = [
    ("https://www.harbour.example/news/pier", "200 OK", "text/html; charset=utf-8", html_page("Pier vote", 4).encode()),
    ("https://www.harbour.example/logo.png", "200 OK", "image/png", b"\x89PNG\r\n\x1a\n"),
    ("https://www.harbour.example/gone", "404 Not Found", "text/html", html_page("Missing", 4).encode()),
    (
        "https://other.example/ferry",
        "200 OK",
        "text/html; charset=iso-8859-1",
        html_page("Ferry café", 3, "iso-8859-1").encode("latin-1"),
    ),
]


def test_warc_html_responses_become_articles(tmp_path: Path) -> None:
    source = write(tmp_path, "crawl.warc.gz", build_warc(WARC_PAGES))
    outcome = extract_file(source, SETTINGS, html_extractor=stub_extractor)
    pier, ferry = articles_of(outcome)
    assert pier.url == "https://www.harbour.example/news/pier" and ferry.url == "https://other.example/ferry"
    assert pier.source.record == "offset 0" and ferry.source.record.startswith("offset ")
    assert pier.source.format == "warc+gzip" and pier.published_at is None  # WARC-Date is the crawl, not publication
    assert "Ferry café" in ferry.paragraphs[0]
    assert outcome.problems == ()


def test_warc_groups_by_site_with_the_real_extractor(tmp_path: Path) -> None:
    source = write(tmp_path, "crawl.warc", build_warc(WARC_PAGES[:1], compress=False))
    (article,) = articles_of(extract_file(source, SETTINGS))
    assert article.group == "site:harbour.example" and article.source.format == "warc"


def test_truncated_warc_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    data = build_warc(
        WARC_PAGES + [("https://other.example/late", "200 OK", "text/html", html_page("Late", 3).encode())]
    )
    outcome = extract_file(write(tmp_path, "cut.warc.gz", data[:-150]), SETTINGS, html_extractor=stub_extractor)
    assert [a.url for a in articles_of(outcome)] == [
        "https://www.harbour.example/news/pier",
        "https://other.example/ferry",
    ]
    assert [q.reason for q in outcome.problems] == [BAD_GZIP]
    early_cut = extract_file(write(tmp_path, "early.warc.gz", data[:120]), SETTINGS, html_extractor=stub_extractor)
    assert isinstance(early_cut, Quarantine) and early_cut.reason in (BAD_WARC, BAD_GZIP)


def test_a_file_that_is_not_a_warc_is_bad_warc(tmp_path: Path) -> None:
    assert extract_file(write(tmp_path, "x.warc", b"GET / HTTP/1.1\r\n\r\n" * 10), SETTINGS).reason == BAD_WARC


# --- reading ---------------------------------------------------------------------------------


def test_read_source_hashes_raw_bytes_and_decompresses(tmp_path: Path) -> None:
    packed = gzip.compress(STORY.encode())
    raw = read_source(write(tmp_path, "a.txt.gz", packed), SETTINGS)
    assert isinstance(raw, RawInput)
    assert raw.sha256 == hashlib.sha256(packed).hexdigest() and raw.data == STORY.encode()
    assert (raw.format, raw.gzipped, raw.format_label) == ("text", True, "text+gzip")


def test_multi_member_gzip_is_read_whole(tmp_path: Path) -> None:
    raw = read_source(write(tmp_path, "a.txt.gz", gzip.compress(b"first ") + gzip.compress(b"second")), SETTINGS)
    assert raw.data == b"first second" and not raw.truncated


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", EMPTY),
        ("blank.txt", b" \n\n\t\n", EMPTY),
        ("empty.txt.gz", gzip.compress(b""), EMPTY),
        ("truncated.html.gz", gzip.compress(html_page("Cut", 40).encode())[:-40], BAD_GZIP),
        ("corrupt.txt.gz", b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4, BAD_GZIP),
        ("not-gzip.json.gz", b'{"title": "plain"}', BAD_GZIP),
    ],
)
def test_read_source_refuses_bad_files(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    outcome = read_source(write(tmp_path, name, data), SETTINGS)
    assert isinstance(outcome, Quarantine) and outcome.reason == reason


def test_gzip_bomb_stops_at_the_cap_quickly(tmp_path: Path) -> None:
    # 300 MB of zeros in 300 gzip members of ~1 kB each, and 20 MB of zeros in one member.
    many_members = gzip.compress(bytes(1 << 20), compresslevel=9) * 300
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    one_member = b"".join(compressor.compress(bytes(1 << 20)) for _ in range(20)) + compressor.flush()
    capped = ExtractSettings(max_decompressed_bytes=10_000_000)
    for name, bomb in (("bomb.jsonl.gz", many_members), ("bomb.html.gz", one_member)):
        started = time.perf_counter()
        outcome = read_source(write(tmp_path, name, bomb), capped)
        assert isinstance(outcome, Quarantine) and outcome.reason == TOO_LARGE and "10000000" in outcome.detail
        assert time.perf_counter() - started < 2
    assert len(many_members) < 400_000


def test_file_over_the_read_cap_is_too_large_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as stream:
        stream.truncate(100 * 1024 * 1024)
    outcome = read_source(source_for(path), ExtractSettings(max_decompressed_bytes=50_000_000))
    assert outcome.reason == TOO_LARGE


def test_file_changed_while_read_is_quarantined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write(tmp_path, "growing.txt", STORY.encode())
    real_stat = os.stat

    def stat_after_append(path, *args, **kwargs):
        result = real_stat(path, *args, **kwargs)
        if str(path) == source.path:  # another process appended while we read
            fields = list(result)
            fields[6] += 10  # st_size
            return os.stat_result(fields)
        return result

    monkeypatch.setattr(os, "stat", stat_after_append)
    outcome = read_source(source, SETTINGS)
    assert isinstance(outcome, Quarantine) and outcome.reason == CHANGED_WHILE_READ


def test_file_replaced_since_discovery_is_not_read(tmp_path: Path) -> None:
    source = write(tmp_path, "story.txt", STORY.encode())
    (tmp_path / "elsewhere.txt").write_text("secret", encoding="utf-8")
    os.replace(tmp_path / "story.txt", tmp_path / "old.txt")
    (tmp_path / "story.txt").symlink_to(tmp_path / "elsewhere.txt")
    outcome = read_source(source, SETTINGS)
    assert isinstance(outcome, Quarantine) and outcome.reason == CHANGED_WHILE_READ


def test_vanished_fifo_and_refused_files_are_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = write(tmp_path, "gone.txt", b"x")
    os.unlink(gone.path)
    assert read_source(gone, SETTINGS).reason == UNREADABLE
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    outcome = read_source(SourceFile(str(fifo), str(tmp_path), 0, 0.0), SETTINGS)  # must not block
    assert outcome.reason == UNREADABLE and outcome.detail == "not a regular file"
    # NOTE: the tests run as root, which reads any file whatever its mode; the refusal is simulated.
    locked = write(tmp_path, "locked.txt", b"x")
    real_open = os.open
    monkeypatch.setattr(
        os, "open", lambda path, *a, **k: _deny(path) if path == locked.path else real_open(path, *a, **k)
    )
    assert read_source(locked, SETTINGS) == Quarantine(locked.path, UNREADABLE, "permission denied")


def _deny(path: str) -> int:
    raise PermissionError(13, "Permission denied", path)


# --- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (codecs.BOM_UTF8 + "Grüße".encode(), "Grüße"),
        ("Grüße".encode("utf-16"), "Grüße"),  # BOM included by the codec
        ("Grüße".encode("utf-32"), "Grüße"),
        (b"plain ascii", "plain ascii"),
        ("Le café était fermé à cause de la grève.".encode("cp1252"), "Le café était fermé à cause de la grève."),
        ("“Quoted” – and dashed".encode("cp1252"), "“Quoted” – and dashed"),
        ("hello wörld, no byte order mark".encode("utf-16-le"), "hello wörld, no byte order mark"),
    ],
)
def test_decode_text(data: bytes, expected: str) -> None:
    assert decode_text(data) == expected


def test_declared_charset_is_used_but_valid_utf8_wins_over_a_wrong_declaration() -> None:
    assert decode_text("Президент".encode("cp1251"), "windows-1251") == "Президент"
    assert decode_text("naïve café".encode(), "iso-8859-1") == "naïve café"
    page = b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
    assert declared_charset(page) == "iso-8859-1"
    assert declared_charset(b'<?xml version="1.0" encoding="windows-1251"?><rss/>') == "windows-1251"
    assert decode_text(b"caf\xe9 \x80", "latin-1") == "café €"  # browsers read latin-1 as windows-1252
    assert decode_text(b"just ascii", "no-such-charset") == "just ascii"


def test_mostly_utf8_with_a_broken_byte_stays_utf8() -> None:
    text = decode_text(("Grüße aus Köln. " * 20).encode() + b"\xff")
    assert isinstance(text, str) and text.startswith("Grüße aus Köln.") and text.endswith("\ufffd")


def test_binary_and_undecodable_bytes_are_problems() -> None:
    assert decode_text(b"\x89PNG\r\n\x1a\n" + bytes(100)) == Problem(BINARY, "PNG image")
    assert decode_text(bytes(range(256)) * 8).reason == BINARY
    assert decode_text(b"text\x01\x02\x03\x04\x05\x06 with control bytes").reason == BINARY
    # High bytes without structure: no charset reads them as text, so no latin-1 guess either.
    noise = bytes(0x80 + (i * 37) % 128 for i in range(2000))
    assert decode_text(noise).reason == DECODE_ERROR


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("binary.txt", random.Random(7).randbytes(4000), BINARY),
        ("image.html", b"\x89PNG\r\n\x1a\n" + bytes(200), BINARY),
        ("noise.txt", bytes(0x80 + (i * 37) % 128 for i in range(2000)), DECODE_ERROR),
        ("noise.json", bytes(0x80 + (i * 37) % 128 for i in range(2000)), DECODE_ERROR),
    ],
)
def test_bad_bytes_with_text_extensions_are_quarantined(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    outcome = extract_file(write(tmp_path, name, data), SETTINGS, html_extractor=stub_extractor)
    assert isinstance(outcome, Quarantine) and outcome.reason == reason


def test_random_and_cut_inputs_never_raise(tmp_path: Path) -> None:
    samples = [
        (FIXTURES / "articles.jsonl").read_bytes(),
        (FIXTURES / "single_article.json").read_bytes(),
        (FIXTURES / "dated_article.txt").read_bytes(),
        html_page("Cut", 5).encode(),
        build_warc(WARC_PAGES, compress=False),
    ]
    names = ["a.jsonl", "a.json", "a.txt", "a.html", "a.warc"]
    rng = random.Random(3)
    for round_ in range(40):
        sample, name = samples[round_ % 5], names[round_ % 5]
        data = bytearray(sample[: rng.randrange(1, len(sample) + 1)])
        for _ in range(rng.randrange(4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        outcome = extract_file(write(tmp_path, name, bytes(data)), SETTINGS, html_extractor=stub_extractor)
        assert isinstance(outcome, (ExtractionResult, Quarantine))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Published 9 October 2018", "2018-10-09"),
        ("Veröffentlicht am 3. August 2024", "2024-08-03"),
        ("Publié le 12 mars 2024", "2024-03-12"),
        ("Publicado el 5 de mayo de 2023", "2023-05-05"),
    ],
)
def test_datelines_in_english_german_french_and_spanish(line: str, expected: str) -> None:
    assert parse_dateline(line)[1] == expected


def test_a_sentence_that_starts_with_a_month_is_not_a_dateline() -> None:
    assert parse_dateline("Mai 2024 war ein guter Monat für den Hafen") is None


def test_json_dates_outside_the_window_are_dropped_and_compact_days_read(tmp_path: Path) -> None:
    records = [
        {"title": "Far future", "date": "9999-12-31", "text": STORY},
        {"title": "Compact", "date": 20230105, "text": STORY},
    ]
    far, compact = articles_of(extract_file(write(tmp_path, "dated.json", json.dumps(records).encode()), SETTINGS))
    assert (far.published_at, far.published_at_source) == (None, None)
    assert (compact.published_at, compact.published_at_source) == ("2023-01-05", "json")
