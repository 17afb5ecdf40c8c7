"""Tests of the document readers (tasks/readers): PDF, DOCX, ODT, RTF, DOC, e-mail, NewsML-G2, NITF, feeds, sniffing."""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.extract import extract_file
from newsetl.tasks.readers.base import ExtractionResult
from newsetl.tasks.readers.pdf import pdf_date
from newsetl.tasks.readers.unicode import valid_unicode
from newsetl.tasks.records import (
    BAD_XML,
    BINARY,
    ENCRYPTED,
    INVALID_UNICODE,
    NO_TEXT,
    NO_TEXT_LAYER,
    UNSUPPORTED,
    UNSUPPORTED_LEGACY_FORMAT,
    ExtractedArticle,
    Quarantine,
    SourceFile,
)
from newsetl.testdocs import article_pdf, docx_bytes, eml_bytes, odt_bytes, pdf_bytes, rtf_bytes
from tests.conftest import corpus

SETTINGS = ExtractSettings()
COUNCIL = (
    "The regional council voted on Tuesday to approve a transportation budget that doubles spending on "
    "bicycle infrastructure over the next five years, officials said after the meeting."
)
OPPOSITION = (
    "Opposition members criticised the decision, arguing that the administration had underestimated "
    "maintenance costs and overlooked the needs of rural communities entirely."
)
RESIDENTS = (
    "Residents who spoke at the public hearing were divided: several welcomed safer routes to schools, "
    "while shop owners worried about losing parking spaces on the main street."
)
# Nine different paragraphs: a running header repeats from page to page, a story does not.
STORY = (
    COUNCIL,
    OPPOSITION,
    RESIDENTS,
    "The mayor defended the plan in a statement, saying that the city had fallen behind its neighbours and "
    "that every study of the past decade pointed to the same conclusion about traffic.",
    "Construction of the first protected lanes is expected to begin in April, starting with the corridor "
    "between the railway station and the university campus north of the river.",
    "Cyclists' associations called the vote historic but warned that money alone would not change habits "
    "unless the police enforced the new rules at junctions and roundabouts.",
    "A separate motion to study a congestion charge for the old town was postponed until the autumn, "
    "after members of the finance committee asked for a fuller assessment.",
    "Local businesses will be consulted during the winter on delivery zones, loading hours and the "
    "placement of cargo-bike parking near the covered market.",
    "The budget must still be confirmed by the regional assembly, which meets in February and has "
    "rarely overturned a decision of the council in recent years.",
)


def extracted(tmp_path: Path, name: str, data: bytes) -> ExtractionResult | Quarantine:
    path = tmp_path / name
    path.write_bytes(data)
    info = path.stat()
    return extract_file(SourceFile(str(path), str(tmp_path), info.st_size, info.st_mtime, info.st_ino), SETTINGS)


def only_article(outcome: ExtractionResult | Quarantine) -> ExtractedArticle:
    assert isinstance(outcome, ExtractionResult), outcome
    assert len(outcome.articles) == 1, outcome
    return outcome.articles[0]


# --- PDF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [1, 2])
def test_pdf_text_in_reading_order_without_running_header_page_numbers_or_hyphens(tmp_path: Path, columns: int) -> None:
    # Two columns are written row by row across the page: the content stream's order is not the reading order.
    data = article_pdf(
        "Council doubles cycling budget",
        STORY,
        columns=columns,
        header="THE EXAMPLE TIMES  Tuesday 3 January 2023",
        lines_per_page=12,
        info={"Author": "Jo Writer", "CreationDate": "D:20230103101500+01'00'"},
    )
    article = only_article(extracted(tmp_path, "story.pdf", data))
    assert article.paragraphs == STORY
    assert article.title == "Council doubles cycling budget"  # no Title in the metadata: the first short block
    assert (article.author, article.published_at, article.published_at_source) == (
        "Jo Writer",
        "2023-01-03T10:15:00+01:00",
        "metadata",
    )
    assert article.source.format == "pdf"


def test_pdf_metadata_title_wins_and_body_keeps_its_first_line(tmp_path: Path) -> None:
    data = article_pdf("Council doubles cycling budget", STORY[:3], info={"Title": "Cycling budget"})
    article = only_article(extracted(tmp_path, "story.pdf", data))
    assert article.title == "Cycling budget" and article.paragraphs[0] == "Council doubles cycling budget"


def test_pdf_without_text_is_no_text_layer_and_a_broken_one_is_bad_document(tmp_path: Path) -> None:
    blank = pdf_bytes([[], []])
    assert extracted(tmp_path, "scan.pdf", blank) == Quarantine(
        str(tmp_path / "scan.pdf"), NO_TEXT_LAYER, "2 page(s) without a text layer (scanned? OCR them first)"
    )
    broken = extracted(tmp_path, "broken.pdf", b"%PDF-1.4\n" + b"garbage " * 100)
    assert isinstance(broken, Quarantine) and broken.reason == "bad_document"


def test_fscrawler_pdfs_text_scanned_and_protected(tmp_path: Path) -> None:
    files = corpus("fscrawler-docs") / "files"
    article = only_article(extract_file(_source(files / "test-ocr.pdf"), SETTINGS))
    assert article.paragraphs == ("This file also contains text.", "This second part of the text is in Page 2")
    assert (article.title, article.author) == ("Test Tika title", "David Pilato")
    assert extract_file(_source(files / "test-protected.pdf"), SETTINGS).reason == ENCRYPTED
    assert extract_file(_source(files / "issue-221-doc1.pdf"), SETTINGS).reason == NO_TEXT_LAYER


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("D:20230105120000Z", "2023-01-05T12:00:00Z"),
        ("D:20230105120000+01'00'", "2023-01-05T12:00:00+01:00"),
        ("D:2023", "2023-01-01"),
        ("D:20230105", "2023-01-05"),
        ("yesterday", None),
        (None, None),
    ],
)
def test_pdf_dates(value: str | None, expected: str | None) -> None:
    assert pdf_date(value) == expected


# --- Office and OpenDocument -------------------------------------------------------------------


def test_docx_odt_and_rtf_give_title_paragraphs_author_and_date(tmp_path: Path) -> None:
    documents = {
        "story.docx": docx_bytes("Cycling budget doubled", STORY, author="Jo Writer", created="2023-01-03T10:15:00Z"),
        "story.odt": odt_bytes("Cycling budget doubled", STORY, author="Jo Writer", created="2023-01-03T10:15:00"),
        "story.rtf": rtf_bytes("Cycling budget doubled", STORY, author="Jo Writer"),
    }
    for name, data in documents.items():
        article = only_article(extracted(tmp_path, name, data))
        assert article.title == "Cycling budget doubled", name
        assert article.paragraphs == STORY, name
        assert article.author == "Jo Writer", name
    assert only_article(extracted(tmp_path, "a.docx", documents["story.docx"])).published_at == "2023-01-03T10:15:00Z"
    assert only_article(extracted(tmp_path, "a.odt", documents["story.odt"])).published_at == "2023-01-03T10:15:00"


def test_rtf_escapes_are_decoded_in_the_declared_code_page(tmp_path: Path) -> None:
    text = ("Dès le début, la mairie a promis une révision complète du réseau cyclable de la région.",)
    article = only_article(extracted(tmp_path, "fr.rtf", rtf_bytes("Réseau cyclable", text)))
    assert (article.title, article.paragraphs) == ("Réseau cyclable", text)


def test_encrypted_and_damaged_office_files_say_so(tmp_path: Path) -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    assert extracted(tmp_path, "locked.docx", ole).reason == ENCRYPTED
    assert extracted(tmp_path, "cut.docx", docx_bytes("T", STORY)[:300]).reason == "bad_document"
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("content.xml", "<x/>")
        package.writestr("META-INF/manifest.xml", "<manifest><encryption-data/></manifest>")
    assert extracted(tmp_path, "locked.odt", buffer.getvalue()).reason == ENCRYPTED


def test_legacy_word_documents(tmp_path: Path) -> None:
    article = only_article(extract_file(_source(corpus("fscrawler-docs") / "files" / "test.doc"), SETTINGS))
    assert article.paragraphs == (
        "This is a sample text available in page 1",
        "This second part of the text is in Page 2",
    )
    assert (article.title, article.author, article.published_at) == (
        "Test Tika title",
        "David Pilato",
        "2016-07-07T08:37:00",
    )
    old = extracted(tmp_path, "wordperfect.doc", b"\xffWPC" + b"x" * 200)
    assert old.reason == UNSUPPORTED_LEGACY_FORMAT and "OLE" in old.detail


# --- e-mail ------------------------------------------------------------------------------------


def test_email_plain_part_subject_sender_and_date(tmp_path: Path) -> None:
    data = eml_bytes(
        "Council doubles cycling budget",
        "Jo Writer <jo@example.org>",
        "Tue, 03 Jan 2023 10:15:00 +0000",
        text="\n\n".join(STORY),
        html="<p>" + "</p><p>".join(STORY) + "</p>",
    )
    article = only_article(extracted(tmp_path, "tip.eml", data))
    assert (article.title, article.author, article.published_at) == (
        "Council doubles cycling budget",
        "Jo Writer",
        "2023-01-03T10:15:00Z",
    )
    assert article.paragraphs == STORY


def test_email_with_only_html_reads_its_paragraphs_not_its_style(tmp_path: Path) -> None:
    html = (
        "<html><head><style>p { color: red }</style></head><body><p>" + "</p><p>".join(STORY[:3]) + "</p></body></html>"
    )
    article = only_article(
        extracted(
            tmp_path, "tip.eml", eml_bytes("Budget", "desk@example.org", "Tue, 03 Jan 2023 10:15:00 +0000", html=html)
        )
    )
    assert article.paragraphs == STORY[:3] and article.author == "desk@example.org"


# --- NewsML-G2 and NITF ------------------------------------------------------------------------

G2 = 'xmlns="http://iptc.org/std/nar/2006-10-01/"'


def news_item(item_class: str, headline: str, text: str = "", guid: str = "urn:x:1") -> str:
    content = (
        (
            f'<contentSet><inlineXML contenttype="application/nitf+xml"><nitf xmlns="http://iptc.org/std/NITF/2006-10-18/">'
            f"<body><body.content><p>{text}</p></body.content></body></nitf></inlineXML></contentSet>"
        )
        if text
        else ""
    )
    return (
        f'<newsItem {G2} guid="{guid}" standard="NewsML-G2"><itemMeta><itemClass qcode="ninat:{item_class}"/>'
        f"<firstCreated>2023-01-03T09:00:00Z</firstCreated></itemMeta><contentMeta>"
        f"<contentCreated>2023-01-02T18:00:00Z</contentCreated><headline>{headline}</headline>"
        '<subject qcode="medtop:11000000"><name>politics</name></subject>'
        '<located qcode="geo:1"><name>Springfield</name></located>'
        f"</contentMeta>{content}</newsItem>"
    )


def test_newsml_message_with_several_items_gives_each_text_item_and_says_why_not_the_picture(tmp_path: Path) -> None:
    items = (
        news_item("text", "Budget approved", " ".join(STORY[:3]), "urn:x:1")
        + news_item("picture", "Council chamber")
        + news_item("text", "Opposition reacts", " ".join(STORY[3:6]), "urn:x:3")
    )
    message = f'<?xml version="1.0"?><newsMessage {G2}><header/><itemSet>{items}</itemSet></newsMessage>'
    data = message.encode()
    outcome = extracted(tmp_path, "wire.xml", data)
    assert isinstance(outcome, ExtractionResult)
    assert [a.title for a in outcome.articles] == ["Budget approved", "Opposition reacts"]
    assert [a.source.record for a in outcome.articles] == ["item 1", "item 3"]
    first = outcome.articles[0]
    # firstCreated (when the story first went out) wins over contentCreated.
    assert (first.published_at, first.published_at_source) == ("2023-01-03T09:00:00Z", "metadata")
    assert (first.subjects, first.located) == (("politics",), "Springfield")
    (problem,) = outcome.problems
    assert problem.reason == NO_TEXT and problem.detail.startswith("item 2: a NewsML-G2 picture item")


def test_iptc_examples_text_item_and_nitf_article_are_articles_media_items_are_not() -> None:
    files = corpus("iptc-newsml-g2") / "files"
    text_item = only_article(extract_file(_source(files / "LISTING_2_NewsML-G2_Text_Document.xml"), SETTINGS))
    assert text_item.title == 'Fed to halt QE to avert "bubble"'
    assert (text_item.published_at, text_item.published_at_source) == ("2016-11-21T15:21:06-05:00", "metadata")
    assert text_item.author == "Meredith Jameson" and text_item.located == "New York, NY"
    assert "central bank" in text_item.subjects
    nitf = only_article(
        extract_file(_source(files / "LISTING_25_An_NITF_marked-up_article_conveyed_in_inlineXML.xml"), SETTINGS)
    )
    assert nitf.title.startswith("Arizona Diamondbacks (29-23) at Philadelphia Phillies")
    assert any("three-game sweep of the Atlanta Braves" in p for p in nitf.paragraphs)
    for name, kind in [
        ("LISTING_3_Photo_in_NewsML-G2.xml", "picture"),
        ("LISTING_4_Multiple_Renditions_of_a_Video_in_NewsML-G2.xml", "video"),
    ]:
        refused = extract_file(_source(files / name), SETTINGS)
        assert isinstance(refused, Quarantine) and refused.reason == NO_TEXT and f"{kind} item" in refused.detail
    planning = extract_file(_source(files / "LISTING_18_Planning_Item_at_PCL.xml"), SETTINGS)
    assert planning.reason == NO_TEXT and "planning item" in planning.detail


def test_standalone_nitf_with_docdata_date_byline_and_dateline(tmp_path: Path) -> None:
    data = (
        '<?xml version="1.0"?><nitf><head><title>Budget</title><docdata><date.issue norm="20230103T101500+0100"/>'
        '<key-list><keyword key="transport"/></key-list></docdata></head><body><body.head>'
        "<hedline><hl1>Council doubles "
        "cycling budget</hl1></hedline><byline>By <person>Jo Writer</person>, <byttl>City Reporter</byttl></byline>"
        "<dateline><location>SPRINGFIELD</location>, Jan. 3</dateline></body.head><body.content>"
        + "".join(f"<p>{p}</p>" for p in STORY[:3])
        + "</body.content></body></nitf>"
    ).encode()
    article = only_article(extracted(tmp_path, "story.nitf", data))
    assert (article.title, article.author) == ("Council doubles cycling budget", "Jo Writer")
    assert article.published_at == "2023-01-03T10:15:00+01:00"
    assert (article.located, article.dateline, article.subjects) == (
        "SPRINGFIELD",
        "SPRINGFIELD, Jan. 3",
        ("transport",),
    )
    assert article.paragraphs == STORY[:3]


def test_other_xml_is_unsupported_and_broken_xml_is_bad_xml(tmp_path: Path) -> None:
    other = extracted(tmp_path, "mock.xml", b'<?xml version="1.0"?><mock><throw>x</throw></mock>')
    assert (other.reason, other.detail) == (
        UNSUPPORTED,
        "XML of another kind (root <mock>), not NewsML-G2, NITF, RSS or Atom",
    )
    assert extracted(tmp_path, "cut.xml", b"<newsItem><contentMeta>").reason == BAD_XML


def test_xml_entities_are_not_expanded(tmp_path: Path) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE nitf [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<nitf><body><body.content><p>&b;&b;&b;&b;&b;</p></body.content></body></nitf>"
    )
    outcome = extracted(tmp_path, "bomb.xml", bomb)
    assert isinstance(outcome, Quarantine) and outcome.reason == NO_TEXT


# --- feeds -------------------------------------------------------------------------------------

RSS = f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Springfield Gazette</title><language>en</language>
<item><title>Council doubles cycling budget</title><link>https://example.org/budget</link>
<pubDate>Tue, 03 Jan 2023 10:15:00 GMT</pubDate><dc:creator>Jo Writer</dc:creator><category>Transport</category>
<content:encoded><![CDATA[<p>{COUNCIL}</p><p>{OPPOSITION}</p>]]></content:encoded></item>
<item><title>Photo of the day</title><link>https://example.org/photo</link></item>
</channel></rss>""".encode()
ATOM = f"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Gazette</title>
<entry><title>Residents divided</title><link href="https://example.org/residents"/><updated>2023-01-04T08:00:00Z</updated>
<author><name>Sam Reporter</name></author>
<content type="html">&lt;p&gt;{RESIDENTS}&lt;/p&gt;</content></entry></feed>""".encode()


def test_rss_items_with_content_are_articles(tmp_path: Path) -> None:
    outcome = extracted(tmp_path, "gazette.rss", RSS)
    assert isinstance(outcome, ExtractionResult)
    (article,) = outcome.articles
    assert (article.title, article.url, article.author) == (
        "Council doubles cycling budget",
        "https://example.org/budget",
        "Jo Writer",
    )
    assert (article.published_at, article.paragraphs, article.subjects) == (
        "2023-01-03T10:15:00Z",
        (COUNCIL, OPPOSITION),
        ("Transport",),
    )
    assert [p.detail for p in outcome.problems] == ["item 2: no content or description"]


def test_atom_entries_are_articles_found_by_content_under_xml(tmp_path: Path) -> None:
    article = only_article(extracted(tmp_path, "gazette.xml", ATOM))
    assert (article.title, article.author, article.published_at, article.paragraphs) == (
        "Residents divided",
        "Sam Reporter",
        "2023-01-04T08:00:00Z",
        (RESIDENTS,),
    )


# --- content decides where the name does not ---------------------------------------------------

PAGE = (
    "<!DOCTYPE html><html><head><title>Budget</title></head><body><article><h1>Council doubles cycling budget</h1>"
    + "".join(f"<p>{p}</p>" for p in STORY[:3])
    + "</article></body></html>"
)


@pytest.mark.parametrize("name", ["story.shtml", "story.php", "story.asp", "story", "story.txt"])
def test_a_saved_page_is_html_whatever_its_name(tmp_path: Path, name: str) -> None:
    article = only_article(extracted(tmp_path, name, PAGE.encode()))
    assert article.source.format == "html" and STORY[0] in article.paragraphs


def test_a_text_file_without_extension_is_a_text_article(tmp_path: Path) -> None:
    article = only_article(
        extracted(tmp_path, "STORY", ("Council doubles cycling budget\n\n" + "\n\n".join(STORY[:3])).encode())
    )
    assert (article.source.format, article.title, article.paragraphs) == (
        "text",
        "Council doubles cycling budget",
        STORY[:3],
    )


def test_binary_content_under_a_text_name_is_binary(tmp_path: Path) -> None:
    outcome = extracted(tmp_path, "story", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    assert isinstance(outcome, Quarantine) and outcome.reason == BINARY


# --- valid Unicode, once for every reader ------------------------------------------------------


def test_valid_unicode_repairs_surrogates_and_drops_nul_and_non_characters() -> None:
    assert valid_unicode("plain text") == ("plain text", 0)
    assert valid_unicode("a\x00b\ufffec\U0010ffffd\x07e\udc00f") == ("ab c d e\ufffdf", 1)
    assert valid_unicode("tab\tand\nlines") == ("tab\tand\nlines", 0)


def test_a_lone_surrogate_in_json_is_repaired_and_many_quarantine_the_record(tmp_path: Path) -> None:
    one = ('{"title": "Budget \\udc00 vote", "text": "' + " ".join(STORY[:3]) + '"}').encode()
    article = only_article(extracted(tmp_path, "one.json", one))
    assert article.title == "Budget \ufffd vote"
    article.title.encode("utf-8")  # encodable: the run's hashing and Elasticsearch accept it
    garbage = ('{"title": "x", "text": "' + "\\udc00" * 200 + " ".join(STORY[:1]) + '"}').encode()
    refused = extracted(tmp_path, "poison.json", garbage)
    assert isinstance(refused, Quarantine) and refused.reason == INVALID_UNICODE
    assert "200 lone surrogates" in refused.detail and COUNCIL[:20] not in refused.detail


def test_nul_bytes_and_controls_never_reach_an_article_whatever_the_reader(tmp_path: Path) -> None:
    data = eml_bytes(
        "Budget\x01 vote",
        "desk@example.org",
        "Tue, 03 Jan 2023 10:15:00 +0000",
        text="\n\n".join(p + "\x00\x0b\x01" for p in STORY[:3]),
    )
    article = only_article(extracted(tmp_path, "story.eml", data))
    assert "\x00" not in article.title and not any("\x01" in p or "\x0b" in p for p in article.paragraphs)


def _source(path: Path) -> SourceFile:
    info = path.stat()
    return SourceFile(str(path), str(path.parent), info.st_size, info.st_mtime, info.st_ino)
