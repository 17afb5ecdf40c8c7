"""An HTML page's article: trafilatura's main text as blocks, plus the page's metadata."""

from __future__ import annotations

import html as html_entities
import json
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.clean import TITLE_SEPARATORS, clean_title
from newsetl.tasks.dates import normalize_date
from newsetl.tasks.pubdate import HTML_TEXT, publication_date_and_source
from newsetl.tasks.readers.html_depth import limit_html_depth
from newsetl.tasks.records import ExtractedArticle, SourceRef
from newsetl.tasks.text import author_name, comparison_form, normalize_text

# Options for trafilatura: comments are not the article; tables are (results, figures);
# the balanced default of precision and recall, because the boilerplate step (tasks/clean.py)
# removes what trafilatura keeps too much, while nothing brings back what it drops.
# NOTE: include_links=True changes what trafilatura extracts (a paragraph breaks at a link and
# loses the space after it), so link density is measured on the page's own elements instead.
# NOTE: trafilatura's `deduplicate` keeps a module-global LRU cache across documents, which
# makes one page's output depend on what was extracted before it; cross-page repeats are
# the boilerplate model's job instead (tasks/clean.py), which is deterministic.
TRAFILATURA_OPTIONS = {
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    "include_formatting": False,
    "favor_precision": False,
    "favor_recall": False,
    "deduplicate": False,
    "with_metadata": True,
}
# A short block that is (nearly) all link text is a link to another story, not the story.
LINK_BLOCK_DENSITY = 0.8
LINK_BLOCK_MAX_WORDS = 25
# Continuation containers (an article body split by an ad row into several same-class divs).
CONTINUATION_MIN_CHARS = 150
CONTINUATION_MAX_LINK_DENSITY = 0.3
CONTINUATION_TAGS = ("p", "h2", "h3", "h4")
SKIPPED_ANCESTORS = frozenset(
    {"aside", "nav", "footer", "form", "figure", "figcaption", "header", "button", "noscript"}
)
PARSER_MAX_DEPTH = 256
HOST_PREFIXES = re.compile(r"^(www\d?|m|mobile|amp)\.")
LANGUAGE_TAG = re.compile(r"^([a-zA-Z]{2})(?:[-_][a-zA-Z0-9]+)*$")
LOWER_START = re.compile(r"^[a-zà-öø-ÿ]")


def extract_html(
    html: str, source: SourceRef, group: str, settings: ExtractSettings, url: str | None = None
) -> ExtractedArticle | None:
    """The page's article as text blocks and metadata, or None when it has no main text."""
    tree = parse_html(html, settings.max_html_depth)
    if tree is None:
        return None
    # NOTE: bare_extraction works on a copy when given a tree, so `tree` stays whole for the
    # language attribute and the continuation search below.
    document = trafilatura.bare_extraction(tree, url=url, **TRAFILATURA_OPTIONS)
    if document is None or document.body is None:
        return None
    blocks = body_blocks(document.body)
    elements = _match_page_elements(tree, blocks)
    _mark_link_blocks(blocks, elements)
    missed = _missed_blocks(tree, blocks, elements) + _standfirst(tree, blocks, elements)
    if missed:
        blocks = _in_page_order(tree, blocks, elements, missed)
    paragraphs = tuple(text for text in (normalize_text(block.text) for block in _without_link_runs(blocks)) if text)
    if sum(len(p) for p in paragraphs) < settings.min_text_chars:
        return None

    paragraphs = join_drop_caps(tree, paragraphs)
    page_url = url or document.url
    fallback_title = normalize_text(document.title) if document.title else None
    title = best_title(tree, fallback_title, document.sitename, page_url, paragraphs[0])
    published_at, published_at_source = _publication_date(html, page_url, document.date)
    return ExtractedArticle(
        source=source,
        title=title,
        paragraphs=paragraphs,
        group=site_group(page_url or document.hostname, document.sitename, group),
        url=page_url,
        author=author_name(document.author),
        site_name=normalize_text(document.sitename) if document.sitename else None,
        published_at=published_at,
        published_at_source=published_at_source,
        language=declared_language(tree),
    )


def parse_html(html: str, max_depth: int) -> HtmlElement | None:
    """The page's lxml tree (bare fragments wrapped), no deeper than `max_depth`; None if not HTML."""
    # NOTE: libxml2's HTML parser silently drops everything nested deeper than 256 elements,
    # so a page that reaches that depth is flattened as markup and parsed again.
    limit = min(max_depth, PARSER_MAX_DEPTH - 6)
    tree = _load(html)
    if tree is not None and _depth(tree) >= limit:
        tree = _load(limit_html_depth(html, limit)[0])
    return tree


def _load(html: str) -> HtmlElement | None:
    tree = load_html(html)
    if tree is None or len(tree) == 0:
        tree = load_html(f"<html><body>{html}</body></html>")
    return tree


def _depth(tree: HtmlElement) -> int:
    depth = deepest = 0
    for event, _ in etree.iterwalk(tree, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    return deepest


@dataclass(slots=True)
class Block:
    """One text block of the extracted body: its text, whether it is mostly a link, its page position."""

    text: str
    is_link: bool = False
    position: int = -1


def body_blocks(body: etree._Element) -> list[Block]:
    """Paragraphs, headings, list items, quotes and table rows of trafilatura's body, in order."""
    blocks: list[Block] = []
    if body.text and body.text.strip():
        blocks.append(Block(body.text))
    for element in body:
        _collect_blocks(element, blocks)
        if element.tail and element.tail.strip():
            blocks.append(Block(element.tail))
    return blocks


def _collect_blocks(element: etree._Element, blocks: list[Block]) -> None:
    tag = element.tag
    if tag == "list":
        for item in element.iterchildren("item"):
            _add_text_blocks(item, blocks)
    elif tag == "table":
        for row in element.iter("row"):
            cells = [" ".join(_text_lines(cell)) for cell in row.iterchildren("cell")]
            text = " | ".join(cell for cell in cells if cell.strip())
            if text.strip():
                blocks.append(Block(text))
    elif tag == "quote" and any(child.tag in ("p", "list", "head", "quote", "table") for child in element):
        if element.text and element.text.strip():
            blocks.append(Block(element.text))
        for child in element:
            _collect_blocks(child, blocks)
            if child.tail and child.tail.strip():
                blocks.append(Block(child.tail))
    elif tag != "graphic":
        _add_text_blocks(element, blocks)


def _add_text_blocks(element: etree._Element, blocks: list[Block]) -> None:
    # Line breaks inside a block split it (sites that build paragraphs with <br><br>), except
    # where the next line continues a sentence (starts lower-case).
    lines: list[str] = []
    for line in _text_lines(element):
        if lines and LOWER_START.match(line):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
    blocks.extend(Block(line) for line in lines)


def _text_lines(element: etree._Element) -> list[str]:
    parts: list[str] = []
    _append_text(element, parts, top=True)
    return [line.strip() for line in "".join(parts).split("\n") if line.strip()]


def _append_text(element: etree._Element, parts: list[str], top: bool = False) -> None:
    if element.tag == "lb" or (element.tag in ("list", "item", "p", "head", "quote", "row") and not top):
        parts.append("\n")
    if element.text:
        parts.append(element.text)
    for child in element:
        _append_text(child, parts)
    if not top and element.tail:
        parts.append(element.tail)


MATCHED_TAGS = ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "dd", "dt", "blockquote", "figcaption")


def _match_page_elements(tree: HtmlElement, blocks: list[Block]) -> dict[str, etree._Element]:
    """The page element each extracted block came from, by comparison form (first match wins)."""
    wanted = {comparison_form(block.text) for block in blocks}
    wanted.discard("")
    found: dict[str, etree._Element] = {}
    for element in tree.iter(*MATCHED_TAGS):
        form = comparison_form(_visible_text(element))
        if form in wanted and form not in found:
            found[form] = element
    return found


def _mark_link_blocks(blocks: list[Block], elements: dict[str, etree._Element]) -> None:
    # A short block that is (nearly) all link text on the page links to another story.
    for block in blocks:
        element = elements.get(comparison_form(block.text))
        if element is not None and len(block.text.split()) <= LINK_BLOCK_MAX_WORDS:
            block.is_link = _html_link_density(element) >= LINK_BLOCK_DENSITY


def _without_link_runs(blocks: list[Block]) -> list[Block]:
    # Two or more link lines in a row are a list of other stories; one link line alone may be
    # the story's own (a petition, a source, an event page) and stays.
    kept = []
    for index, block in enumerate(blocks):
        neighbours = blocks[max(0, index - 1) : index] + blocks[index + 1 : index + 2]
        if not (block.is_link and any(n.is_link for n in neighbours)):
            kept.append(block)
    return kept


def _missed_blocks(
    tree: HtmlElement, blocks: list[Block], elements: dict[str, etree._Element]
) -> list[tuple[etree._Element, str]]:
    """Article text trafilatura left out: continuation containers and embedded posts, with their page elements."""
    paragraphs = [element for element in elements.values() if element.tag == "p" and element.getparent() is not None]
    if not paragraphs:
        return []
    container, _ = Counter(p.getparent() for p in paragraphs).most_common(1)[0]
    extracted = {comparison_form(block.text) for block in blocks}
    missed = _continuations(tree, container, extracted) + _embedded_posts(
        _article_region(paragraphs, container), extracted
    )
    return missed


STANDFIRST_MIN_WORDS = 8
STANDFIRST_MAX_WORDS = 120
STANDFIRST_MAX_BLOCKS = 2
STANDFIRST_TAGS = ("p", "div", "h2", "h3", "span", "strong")
BLOCK_CHILDREN = ("p", "div", "ul", "ol", "table", "h1", "h2", "h3", "h4", "section", "article", "br")


def _standfirst(
    tree: HtmlElement, blocks: list[Block], elements: dict[str, etree._Element]
) -> list[tuple[etree._Element, str]]:
    # The standfirst (lead, teaser, intro) stands between the headline and the body, often
    # outside the body's container, so trafilatura leaves it out: prose between the page's
    # <h1> and the first extracted block is added back.
    first = next((elements[form] for block in blocks if (form := comparison_form(block.text)) in elements), None)
    if first is None:
        return []
    position = {element: index for index, element in enumerate(tree.iter())}
    end = position.get(first, -1)
    headings = [h for h in tree.iter("h1") if position.get(h, end) < end]
    if not headings:
        return []
    start = position[headings[-1]]
    extracted = {comparison_form(block.text) for block in blocks}
    added: list[tuple[etree._Element, str]] = []
    for element in tree.iter(*STANDFIRST_TAGS):
        index = position.get(element, -1)
        if not start < index < end or any(a.tag in STANDFIRST_SKIPPED for a in element.iterancestors()):
            continue
        marks = (f"{e.get('class') or ''} {e.get('id') or ''}" for e in _self_and_parents(element, 2))
        if not any(LEAD_HINT.search(mark) for mark in marks):
            continue  # only what the page marks as a lead, intro or summary: not bylines, pitches, scripts
        taken = [e for e, _ in added]
        nested = any(
            child.tag in BLOCK_CHILDREN or child.tag in ("script", "style") for child in element.iterdescendants()
        )
        if nested or any(ancestor in taken for ancestor in element.iterancestors()):
            continue
        text = normalize_text(_visible_text(element))
        words = len(text.split())
        if not STANDFIRST_MIN_WORDS <= words <= STANDFIRST_MAX_WORDS or comparison_form(text) in extracted:
            continue
        if _html_link_density(element) > CONTINUATION_MAX_LINK_DENSITY or not SENTENCE_LIKE.search(text):
            continue
        added.append((element, text))
        if len(added) >= STANDFIRST_MAX_BLOCKS:
            break
    return added


STANDFIRST_SKIPPED = (SKIPPED_ANCESTORS - {"header"}) | {"script", "style", "template"}
LEAD_HINT = re.compile(
    r"lead|intro|standfirst|teaser|summary|\bdek\b|deck|excerpt|sub-?title|subhead|preface|abstract|chapo|"
    r"chapeau|vorspann|__subt|description",
    re.IGNORECASE,
)


def _self_and_parents(element: etree._Element, levels: int) -> list[etree._Element]:
    found = [element]
    for _ in range(levels):
        parent = found[-1].getparent()
        if parent is None:
            break
        found.append(parent)
    return found


SENTENCE_LIKE = re.compile(r"[.!?…\"”»。！？]\W*$")


def _continuations(
    tree: HtmlElement, container: etree._Element, extracted: set[str]
) -> list[tuple[etree._Element, str]]:
    # An article body split into several same-class containers (an ad row between them)
    # comes out of trafilatura as its first container only; the others are added back when
    # they hold prose rather than links.
    css_class = (container.get("class") or "").strip()
    if not css_class:
        return []
    added: list[tuple[etree._Element, str]] = []
    for other in tree.iter(container.tag):
        if other is container or (other.get("class") or "").strip() != css_class or _related(other, container):
            continue
        texts = [
            (element, normalize_text(_visible_text(element)))
            for element in other.iter(*CONTINUATION_TAGS)
            if not any(ancestor.tag in SKIPPED_ANCESTORS for ancestor in element.iterancestors())
        ]
        fresh = [(element, text) for element, text in texts if text and comparison_form(text) not in extracted]
        if (
            sum(len(text) for _, text in fresh) >= CONTINUATION_MIN_CHARS
            and _html_link_density(other) <= CONTINUATION_MAX_LINK_DENSITY
        ):
            added.extend(fresh)
    return added


def _article_region(paragraphs: list[etree._Element], container: etree._Element) -> etree._Element:
    """The closest element holding all matched paragraphs, or the main container if that is the whole page."""
    common = None
    for paragraph in paragraphs:
        ancestors = list(paragraph.iterancestors())
        common = ancestors if common is None else [a for a in ancestors if any(a is c for c in common)]
    region = common[0] if common else container
    return container if region.tag in ("body", "html") else region


def _embedded_posts(region: etree._Element, extracted: set[str]) -> list[tuple[etree._Element, str]]:
    # Embedded tweets are quoted in the story (trafilatura drops them): their text and the
    # "— Name (@handle) date" line after it.
    added: list[tuple[etree._Element, str]] = []
    for post in region.iter("blockquote"):
        if "twitter-tweet" not in (post.get("class") or ""):
            continue
        parts = [(p, normalize_text(_visible_text(p))) for p in post.iter("p")]
        attribution = normalize_text(_visible_text(post))
        for _, text in parts:
            attribution = attribution.replace(text, "", 1)
        last = parts[-1][0] if parts else post
        for element, text in [*parts, (last, normalize_text(attribution))]:
            if text and comparison_form(text) not in extracted:
                added.append((element, text))
    return added


def _related(element: etree._Element, other: etree._Element) -> bool:
    return any(a is other for a in element.iterancestors()) or any(a is element for a in other.iterancestors())


def _html_link_density(element: etree._Element) -> float:
    total = len(element.text_content().strip())
    if total == 0:
        return 1.0
    return sum(len(a.text_content().strip()) for a in element.iter("a")) / total


def _in_page_order(
    tree: HtmlElement, blocks: list[Block], elements: dict[str, etree._Element], added: list[tuple[etree._Element, str]]
) -> list[Block]:
    position = {element: index for index, element in enumerate(tree.iter())}
    ordered: list[Block] = []
    last = -1
    for block in blocks:
        element = elements.get(comparison_form(block.text))
        last = position[element] if element is not None else last
        ordered.append(Block(block.text, block.is_link, last))
    ordered.extend(Block(text, False, position[element]) for element, text in added)
    # NOTE: sorted() is stable, so blocks sharing a position keep their order (a tweet's text,
    # then its attribution line).
    return sorted(ordered, key=lambda block: block.position)


# --- the headline ------------------------------------------------------------------------

META_TITLE_KEYS = ("og:title", "twitter:title")
HEADING_SKIP = frozenset({"nav", "footer", "aside", "form", "button", "noscript", "script", "style"})
MAX_HEADING_WORDS = 40
# Names of site sections and pages, not headlines of a story (a <title> or og:title holding
# only one of these is the page's place in the site; the page's heading says what it is).
GENERIC_TITLES = frozenset(
    comparison_form(t)
    for t in (
        "about us",
        "about",
        "home",
        "homepage",
        "news",
        "aktuelles",
        "aktuell",
        "neuigkeiten",
        "nachrichten",
        "über uns",
        "blog",
        "start",
        "startseite",
        "themen",
        "article",
        "artikel",
        "actualités",
        "noticias",
        "contact",
        "kontakt",
        "impressum",
        "index",
        "page",
        "untitled",
        "lexikon",
        "presse",
        "pressemitteilungen",
    )
)


# Text nodes a reader sees: none inside scripts, styles or templates (a tail after one is seen).
VISIBLE_TEXT = etree.XPath(".//text()[not(ancestor::script or ancestor::style or ancestor::template)]")


def _visible_text(element: etree._Element) -> str:
    """The element's text without the code of scripts and styles inside it.

    (`text_content()` keeps them: a paragraph holding an ad's `<script>` gave its code as text.)
    """
    return "".join(VISIBLE_TEXT(element))


def _text(element) -> str:
    return " ".join(normalize_text(_visible_text(element)).split())


def _headings(tree: HtmlElement, tag: str, limit: int) -> list[str]:
    found = []
    for element in tree.iter(tag):
        if any(a.tag in HEADING_SKIP for a in element.iterancestors()):
            continue
        text = _text(element)
        if text and len(text.split()) <= MAX_HEADING_WORDS:
            found.append(text)
        if len(found) >= limit:
            break
    return found


def _meta_titles(tree: HtmlElement) -> list[str]:
    found = []
    for script in tree.xpath('//script[@type="application/ld+json"]')[:5]:
        try:
            data = json.loads(script.text_content())
        except ValueError:
            continue
        items = data if isinstance(data, list) else [data]
        for item in items:
            if isinstance(item, dict):
                for node in [item, *(item.get("@graph") or [])]:
                    if isinstance(node, dict) and isinstance(node.get("headline"), str):
                        found.append(node["headline"])
    for element in tree.xpath('//*[@itemprop="headline"]')[:1]:
        found.append(element.get("content") or element.text_content())
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        if key in META_TITLE_KEYS and meta.get("content"):
            found.append(meta.get("content"))
    return [t for t in (" ".join(normalize_text(html_entities.unescape(x)).split()) for x in found) if t]


def _title_element(tree: HtmlElement) -> str:
    element = tree.find(".//title")
    return _text(element) if element is not None else ""


def _parts(title: str) -> list[str]:
    return [p for p in TITLE_SEPARATORS.split(title) if p.strip()]


SITE_SEPARATORS = re.compile(r"\s+[|\-–—•·»]\s+|\s*[|«»]\s*")


def _supported(heading: str, sources: list[str], site_name, url) -> bool:
    """Whether a page heading is what a title source names: the whole of it or one of its parts."""
    form = comparison_form(heading)
    if not form or len(form) < 4:
        return False
    for source in sources:
        if comparison_form(source) == form:
            return True
        source = clean_title(source, site_name, url)
        if comparison_form(source) == form:
            return True
        parts = _parts(source)
        if len(parts) > 1:
            # "Headline | Site": a heading that is only the last part is the site's name
            last = SITE_SEPARATORS.split(source)[-1]
            if comparison_form(last) == form and not source.startswith(heading):
                continue
            forms = [comparison_form(p) for p in parts]
            if form in forms:
                return True
            # "Kicker: Headline" / "Headline - Site | Section": the heading is a run of parts
            for i in range(len(parts)):
                for j in range(i + 1, len(parts) + 1):
                    if comparison_form(" ".join(parts[i:j])) == form:
                        return True
    return False


def best_title(
    tree: HtmlElement, fallback: str | None, site_name: str | None, url: str | None, first_block: str | None
) -> str | None:
    """The page's headline: a heading its title metadata names, else that metadata without the site, else a heading."""
    metas = _meta_titles(tree)
    page_title = _title_element(tree)
    sources = [*metas, page_title] if page_title else metas
    headings = _headings(tree, "h1", 4)
    if first_block and len(first_block.split()) <= MAX_HEADING_WORDS:
        headings.append(first_block)
    headings += _headings(tree, "h2", 6)
    for heading in headings:
        if comparison_form(heading) not in GENERIC_TITLES and _supported(heading, sources, site_name, url):
            return heading
    for candidate in [fallback, *metas, page_title]:
        cleaned = clean_title(candidate, site_name, url) if candidate else ""
        if cleaned and comparison_form(cleaned) not in GENERIC_TITLES:
            return cleaned
    h1 = _headings(tree, "h1", 1)
    if h1:
        return h1[0]
    return fallback


# --- drop caps -------------------------------------------------------------------------------

DROP_CAP_BLOCKS = 3  # only the opening paragraphs can start with a drop cap


def join_drop_caps(tree: HtmlElement, paragraphs: tuple[str, ...]) -> tuple[str, ...]:
    """Opening paragraphs whose first letter was styled apart (a drop cap) and lost, with it back."""
    fixed = list(paragraphs)
    for index, paragraph in enumerate(paragraphs[:DROP_CAP_BLOCKS]):
        if not LOWER_START.match(paragraph):
            continue
        head = paragraph[:40]
        for element in tree.iter("p", "div"):
            text = normalize_text(element.text_content())
            found = text.find(head)
            # "T" + "urkey, Poland…": one capital right before, not part of a longer word
            if found >= 1 and text[found - 1].isupper() and (found == 1 or not text[found - 2].isalnum()):
                fixed[index] = text[found - 1] + paragraph
                if index > 0 and fixed[index - 1] == text[found - 1]:
                    fixed[index - 1] = ""  # the letter extracted as a block of its own
                break
    return tuple(paragraph for paragraph in fixed if paragraph)


def site_group(page_url: str | None, site_name: str | None, folder_group: str) -> str:
    """Where boilerplate is learned: "site:<host>" (no www./m./amp.), else "site:<site name>", else the folder."""
    host = urlsplit(page_url if "//" in page_url else f"//{page_url}").hostname if page_url else None
    if host and "." in host:
        return "site:" + HOST_PREFIXES.sub("", host.lower().rstrip("."))
    name = "-".join(comparison_form(site_name).split()) if site_name else ""
    return f"site:{name}" if name else folder_group


def declared_language(tree: HtmlElement) -> str | None:
    """ISO 639-1 code of <html lang> (or xml:lang, or a content-language meta), if declared."""
    root = tree.getroottree().getroot()
    candidates = [root.get("lang"), root.get("{http://www.w3.org/XML/1998/namespace}lang")]
    candidates += tree.xpath(
        "//meta[translate(@http-equiv,'CONTENT-LANGUAGE','content-language')='content-language']/@content"
    )
    for value in candidates:
        match = LANGUAGE_TAG.match((value or "").strip().split(",")[0].strip())
        if match:
            return match.group(1).lower()
    return None


def _publication_date(html: str, url: str | None, fallback: str | None) -> tuple[str | None, str | None]:
    """(date, source label) of the page's publication: our reading, else trafilatura's (found in the text)."""
    found = publication_date_and_source(html, url)
    if found:
        return found
    fallback = normalize_date(fallback)
    return (fallback, HTML_TEXT) if fallback else (None, None)
