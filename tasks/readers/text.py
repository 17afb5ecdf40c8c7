"""Plain-text and Markdown articles: title, unwrapped paragraphs, a dateline when there is one."""

from __future__ import annotations

import re

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.dates import UPDATE_LABELS, parse_dateline
from newsetl.tasks.readers.base import (
    ExtractionResult,
    HtmlExtractor,
    Problem,
    RawInput,
    folder_group,
    length_problem,
    source_ref,
)
from newsetl.tasks.readers.decode import decode_input
from newsetl.tasks.records import (
    NO_TEXT,
    ExtractedArticle,
)
from newsetl.tasks.text import normalize_text

LIST_ITEM = re.compile(r"^\s*(?:[-*+•–]|\d{1,3}[.)])\s+\S")

MARKDOWN_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s+|$)")

MARKDOWN_RULE = re.compile(r"^\s{0,3}(?:[-*_]\s*){3,}$")

SETEXT_UNDERLINE = re.compile(r"^\s{0,3}(?:=+|-+)\s*$")

MAX_WRAPPED_WIDTH = 120  # lines longer than this are whole paragraphs, not hard-wrapped text

MIN_WRAPPED_WIDTH = 40

DATELINE_BLOCKS = 3  # datelines are looked for in this many blocks after the title

MAX_TITLE_CHARS = 300

BLANK_LINE = re.compile(r"\n(?:[^\S\n]*\n)+")  # one or more lines holding nothing but spaces


def text_articles(
    raw: RawInput, settings: ExtractSettings, html_extractor: HtmlExtractor | None = None
) -> ExtractionResult | Problem:
    text = decode_input(raw)
    if isinstance(text, Problem):
        return text
    markdown = raw.source.path.lower().removesuffix(".gz").endswith((".md", ".markdown"))
    parsed = parse_text_article(text, markdown=markdown)
    if isinstance(parsed, Problem):
        return parsed
    title, paragraphs, published_at = parsed
    wrong_length = length_problem(paragraphs, settings, title)
    if wrong_length:
        return wrong_length
    article = ExtractedArticle(
        source=source_ref(raw),
        title=title,
        paragraphs=paragraphs,
        group=folder_group(raw.source),
        published_at=published_at,
        published_at_source="text" if published_at else None,
    )
    return ExtractionResult((article,))


def parse_text_article(text: str, markdown: bool = False) -> tuple[str | None, tuple[str, ...], str | None] | Problem:
    """(title, paragraphs, published_at): first non-empty line, blank-line blocks, a dateline near the top."""
    blocks = [block.strip("\n") for block in BLANK_LINE.split(text.strip()) if block.strip()]
    if markdown:
        blocks = [b for b in (_strip_markdown_block(block).strip("\n") for block in blocks) if b.strip()]
    if not blocks:
        return Problem(NO_TEXT, "no text")

    published: list[tuple[str, str]] = []
    first_lines = blocks[0].split("\n")
    # A dateline above the headline is not the headline.
    while first_lines and _take_dateline(first_lines[0], published):
        first_lines.pop(0)
        if not first_lines and len(blocks) > 1:
            blocks.pop(0)
            first_lines = blocks[0].split("\n")
    title = normalize_text(_heading_text(first_lines[0])) if first_lines else ""
    rest = first_lines[1:]
    if len(title) > MAX_TITLE_CHARS:  # a whole paragraph on the first line: the text has no headline
        title, rest = "", first_lines
    elif rest and SETEXT_UNDERLINE.match(rest[0]):
        rest = rest[1:]
    body_blocks = (["\n".join(rest)] if rest else []) + blocks[1:]

    kept_blocks: list[str] = []
    for index, block in enumerate(body_blocks):
        if index < DATELINE_BLOCKS:
            block = "\n".join(line for line in block.split("\n") if not _take_dateline(line, published))
        if block.strip():
            kept_blocks.append(block)
    paragraphs = tuple(
        p
        for block in kept_blocks
        for p in (normalize_text(_paragraph_text(x, markdown)) for x in unwrap_block(block))
        if p
    )
    return title or None, paragraphs, _preferred_date(published)


def _heading_text(line: str) -> str:
    # "## Title ##" -> "Title"; a "#" that is part of a word ("C#", "#MeToo") stays.
    if not MARKDOWN_HEADING.match(line):
        return line
    return re.sub(r"(?:^|\s+)#+\s*$", "", MARKDOWN_HEADING.sub("", line, count=1))


def _paragraph_text(paragraph: str, markdown: bool) -> str:
    paragraph = _heading_text(paragraph)
    return MARKDOWN_BULLET.sub("", paragraph) if markdown else paragraph


def _take_dateline(line: str, found: list[tuple[str, str]]) -> bool:
    parsed = parse_dateline(line)
    if parsed is None:
        return False
    found.append(parsed)
    return True


def _preferred_date(found: list[tuple[str, str]]) -> str | None:
    # "Published" beats "Updated"; otherwise the first dateline.
    for label, value in found:
        if not label.startswith(UPDATE_LABELS):
            return value
    return found[0][1] if found else None


def unwrap_block(block: str) -> list[str]:
    """Paragraphs of one block: hard-wrapped lines joined; list items, headings and short lines kept apart."""
    lines = [line.strip() for line in block.split("\n") if line.strip()]
    if len(lines) <= 1:
        return lines
    width = max(len(line) for line in lines)
    wrapped = MIN_WRAPPED_WIDTH <= width <= MAX_WRAPPED_WIDTH
    paragraphs: list[list[str]] = [[lines[0]]]
    for previous, line in zip(lines, lines[1:]):
        joins = (
            wrapped
            and len(previous) >= 0.6 * width
            and not LIST_ITEM.match(line)
            and not MARKDOWN_HEADING.match(previous)
            and not MARKDOWN_HEADING.match(line)
        )
        if joins:
            paragraphs[-1].append(line)
        else:
            paragraphs.append([line])
    return [" ".join(parts) for parts in paragraphs]


MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")

MARKDOWN_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")

MARKDOWN_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+.*$")

MARKDOWN_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")

MARKDOWN_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")

MARKDOWN_CODE = re.compile(r"`([^`\n]+)`")

MARKDOWN_BULLET = re.compile(r"^(\s*)[-*+]\s+")


def _strip_markdown_block(block: str) -> str:
    lines = []
    for line in block.split("\n"):
        if (
            line.lstrip().startswith(("```", "~~~"))
            or MARKDOWN_LINK_DEFINITION.match(line)
            or MARKDOWN_RULE.match(line)
        ):
            continue
        line = re.sub(r"^\s{0,3}>\s?", "", line)
        line = MARKDOWN_IMAGE.sub("", line)
        line = MARKDOWN_LINK.sub(r"\1", line)
        line = MARKDOWN_STRONG.sub(r"\2", line)
        line = MARKDOWN_EMPHASIS.sub(r"\1", line)
        line = MARKDOWN_CODE.sub(r"\1", line)
        lines.append(line)
    return "\n".join(lines)


def plain_paragraphs(text: str) -> tuple[str, ...]:
    """Paragraphs of a text field: blank-line blocks (unwrapped) when it has any, else one per line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = BLANK_LINE.split(text.strip()) if BLANK_LINE.search(text.strip()) else text.split("\n")
    return tuple(p for block in blocks for p in (normalize_text(x) for x in unwrap_block(block)) if p)
