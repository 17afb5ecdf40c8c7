"""PDF with a text layer: text in reading order (columns), hyphenation joined, running headers/footers dropped."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass

from newsetl.config.settings import ExtractSettings
from newsetl.tasks.readers.base import ExtractionResult, HtmlExtractor, Problem, RawInput
from newsetl.tasks.readers.documents import DocumentText, document_articles
from newsetl.tasks.records import BAD_DOCUMENT, ENCRYPTED, NO_TEXT_LAYER

# NOTE: pypdfium2 (PDFium, Apache-2.0/BSD-3, manylinux wheels) gives text in content-stream order
# with each character's box, fast. Written by hand here, because no library did it well enough
# (evals/formats.py, README "File formats"): the reading order (a recursive XY cut over the
# boxes), paragraphs, hyphenation and page furniture. With it a page costs about what pypdf's
# plain extraction does, ~6x less than pdfminer.six's layout analysis, and two-column order is
# right where both are not.
MIN_COLUMN_GAP_LINES = 1.5  # a vertical gutter at least this many line heights wide separates columns
WIDE_GAP_LINES = 2.0  # a horizontal gap this many line heights tall separates header, footer or stories
PARAGRAPH_GAP_LINES = 0.8  # extra space between lines above this many line heights starts a paragraph
JOIN_GAP_LINES = 0.15  # segments of one line further apart than this many line heights are separate words
EDGE_LINES = 2  # running headers/footers are looked for in this many lines at the top and bottom of a page
PAGE_NUMBER = re.compile(
    r"^\W*(?:(?:page|seite|página|p\.)\s*)?\d{1,4}(?:\s*(?:of|/|von|de)\s*\d{1,4})?\W*$", re.IGNORECASE
)
# NOTE: PDFium reports a hyphen it judged to split a word at a line end as U+FFFE.
PDFIUM_LINE_END_HYPHEN = "\ufffe"
SENTENCE_END = re.compile(r"[.!?:;\"”'»)\]]$")
HYPHENATED = re.compile(r"(?<=[^\W\d_])[-\u00ad]$")


@dataclass(frozen=True, slots=True)
class Segment:
    """Characters that follow each other on one line, and their box (PDF units, y grows upwards)."""

    left: float
    bottom: float
    right: float
    top: float
    text: str

    @property
    def height(self) -> float:
        return self.top - self.bottom


PDF_DATE = re.compile(r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(Z|[+-]\d{2}'?\d{2}'?)?")


def pdf_articles(
    raw: RawInput, settings: ExtractSettings, html_extractor: HtmlExtractor | None = None
) -> ExtractionResult | Problem:
    """A PDF's text as one article; its metadata's Title, Author and CreationDate when it has them."""
    return document_articles(raw, pdf_documents(raw.data), settings)


def pdf_documents(data: bytes) -> list[DocumentText] | Problem:
    # NOTE: imported on first use, like every format library: a text-only run never loads PDFium.
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            return Problem(ENCRYPTED, "password-protected PDF")
        return Problem(BAD_DOCUMENT, f"not a readable PDF: {error}"[:200])
    try:
        pages = [_page_lines(document[index]) for index in range(len(document))]
        info = document.get_metadata_dict(skip_empty=True)
    finally:
        document.close()
    paragraphs = pdf_paragraphs(pages)
    if not paragraphs:
        return Problem(NO_TEXT_LAYER, f"{len(pages)} page(s) without a text layer (scanned? OCR them first)")
    title = " ".join((info.get("Title") or "").split()) or None
    return [
        DocumentText(
            title=title,
            paragraphs=tuple(paragraphs),
            author=info.get("Author") or None,
            published_at=pdf_date(info.get("CreationDate")),
            title_from_body=title is None,
        )
    ]


def pdf_date(value: str | None) -> str | None:
    """ISO 8601 of a PDF date ("D:20230105120000+01'00'"), None when it is not one."""
    match = PDF_DATE.match((value or "").strip())
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    if hour is None:
        return f"{year}-{month or '01'}-{day or '01'}"
    stamp = f"{year}-{month}-{day}T{hour}:{minute or '00'}:{second or '00'}"
    if zone == "Z":
        return stamp + "Z"
    if zone:
        digits = zone.replace("'", "")
        return f"{stamp}{digits[:3]}:{digits[3:5]}"
    return stamp


def _page_lines(page) -> list[tuple[Segment, ...]]:
    """The page's lines in reading order, each a tuple of its segments left to right."""
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count else ""
        boxes = _char_boxes(textpage, min(count, len(text)))
    finally:
        textpage.close()
        page.close()
    segments = _segments(text, boxes)
    if not segments:
        return []
    line_height = statistics.median(s.height for s in segments) or 1.0
    return [line for block in _xy_cut(segments, line_height) for line in _lines(block)]


def _char_boxes(textpage, count: int) -> list[tuple[float, float, float, float]]:
    # NOTE: PDFium's C call with one reused rectangle: pypdfium2's get_charbox() allocates per call
    # and checks more, which made it half of the reading time.
    import pypdfium2.raw as pdfium_c

    rect = pdfium_c.FS_RECTF()
    get_box = pdfium_c.FPDFText_GetLooseCharBox
    raw = textpage.raw
    boxes = []
    for index in range(count):
        get_box(raw, index, rect)
        boxes.append((rect.left, rect.bottom, rect.right, rect.top))
    return boxes


def _segments(text: str, boxes: list[tuple[float, float, float, float]]) -> list[Segment]:
    """Runs of characters that follow each other on one line, in content-stream order."""
    segments: list[Segment] = []
    chars: list[str] = []
    left = bottom = right = top = 0.0

    def close() -> None:
        joined = " ".join("".join(chars).split())
        if joined:
            segments.append(Segment(left, bottom, right, top, joined))
        chars.clear()

    for char, (c_left, c_bottom, c_right, c_top) in zip(text, boxes):
        char = "-" if char == PDFIUM_LINE_END_HYPHEN else char
        if char in "\r\n":
            close()
            continue
        if c_right <= c_left or c_top <= c_bottom:  # a character PDFium generated: no box of its own
            if char.isspace():
                chars.append(" ")
            continue
        height = max(c_top - c_bottom, 1.0)
        if chars and (c_left < left - height or c_left > right + 1.5 * height or c_top < bottom or c_bottom > top):
            close()
        if not chars:
            left, bottom, right, top = c_left, c_bottom, c_right, c_top
        else:
            left, bottom, right, top = min(left, c_left), min(bottom, c_bottom), max(right, c_right), max(top, c_top)
        chars.append(char)
    close()
    return segments


def _xy_cut(segments: list[Segment], line_height: float) -> list[list[Segment]]:
    """Blocks in reading order (a recursive XY cut): wide horizontal gaps first (header, footer, a new
    story), then a column gutter, then the gaps between paragraphs."""
    if len(segments) <= 1:
        return [segments]
    bands = _split_bands(segments, min_gap=WIDE_GAP_LINES * line_height)
    if len(bands) > 1:
        return [block for band in bands for block in _xy_cut(band, line_height)]
    gutter = _widest_gap([(s.left, s.right) for s in segments])
    if gutter and gutter[1] - gutter[0] >= MIN_COLUMN_GAP_LINES * line_height:
        left = [s for s in segments if s.right <= gutter[0]]
        right = [s for s in segments if s.left >= gutter[1]]
        if len(left) >= 2 and len(right) >= 2:
            return _xy_cut(left, line_height) + _xy_cut(right, line_height)
    bands = _split_bands(segments, min_gap=PARAGRAPH_GAP_LINES * line_height)
    if len(bands) == 1:
        return [segments]  # one column: its lines are read top to bottom
    return [block for band in bands for block in _xy_cut(band, line_height)]


def _widest_gap(spans: list[tuple[float, float]]) -> tuple[float, float] | None:
    spans = sorted(spans)
    best, reach = None, spans[0][1]
    for start, end in spans[1:]:
        if start > reach and (best is None or start - reach > best[1] - best[0]):
            best = (reach, start)
        reach = max(reach, end)
    return best


def _split_bands(segments: list[Segment], min_gap: float) -> list[list[Segment]]:
    # Top to bottom (PDF y grows upwards); a new band starts below a gap no segment spans.
    ordered = sorted(segments, key=lambda s: -s.top)
    rows: list[list[Segment]] = [[ordered[0]]]
    floor = ordered[0].bottom
    for segment in ordered[1:]:
        if segment.top <= floor - min_gap:
            rows.append([segment])
            floor = segment.bottom
        else:
            rows[-1].append(segment)
            floor = min(floor, segment.bottom)
    return rows


def _lines(block: list[Segment]) -> list[tuple[Segment, ...]]:
    lines: list[list[Segment]] = []
    for segment in sorted(block, key=lambda s: -s.top):
        middle = (segment.top + segment.bottom) / 2
        if lines and lines[-1][0].bottom <= middle <= lines[-1][0].top:
            lines[-1].append(segment)
        else:
            lines.append([segment])
    return [tuple(sorted(line, key=lambda s: s.left)) for line in lines]


def pdf_paragraphs(pages: list[list[tuple[Segment, ...]]]) -> list[str]:
    """Paragraphs of the whole document without running headers, footers and page numbers."""
    running = _running_lines(pages)
    paragraphs: list[list[str]] = []
    for lines in pages:
        kept = [
            line for position, line in enumerate(lines) if not _is_edge_furniture(line, position, len(lines), running)
        ]
        previous = None
        for line in kept:
            text = line_text(line)
            # NOTE: a paragraph carried over to the next column or page goes on while it has not
            # ended its sentence.
            moved_on = previous is None or _new_column(previous, line)
            if paragraphs and (
                (moved_on and not SENTENCE_END.search(paragraphs[-1][-1]))
                or (not moved_on and not _starts_paragraph(previous, line))
            ):
                paragraphs[-1].append(text)
            else:
                paragraphs.append([text])
            previous = line
    return [p for p in (_join_lines(lines) for lines in paragraphs) if p]


def line_text(line: tuple[Segment, ...]) -> str:
    """A line's segments joined, with a space where the page shows a gap between them."""
    text = line[0].text
    for previous, segment in zip(line, line[1:]):
        gap = segment.left - previous.right
        text += (" " if gap > JOIN_GAP_LINES * segment.height else "") + segment.text
    return text


def _running_lines(pages: list[list[tuple[Segment, ...]]]) -> set[str]:
    """Header/footer lines: the same text (digits aside) at a page's edge on at least half the pages."""
    if len(pages) < 2:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        edges = lines[:EDGE_LINES] + lines[-EDGE_LINES:]
        counts.update({_furniture_key(line) for line in edges})
    return {key for key, count in counts.items() if count >= max(2, len(pages) / 2)}


def _furniture_key(line: tuple[Segment, ...]) -> str:
    return re.sub(r"\d+", "#", line_text(line).lower())


def _is_edge_furniture(line: tuple[Segment, ...], position: int, count: int, running: set[str]) -> bool:
    if position >= EDGE_LINES and position < count - EDGE_LINES:
        return False
    return bool(PAGE_NUMBER.match(line_text(line))) or _furniture_key(line) in running


def _new_column(previous: tuple[Segment, ...], line: tuple[Segment, ...]) -> bool:
    return line[0].top > previous[0].top + max(previous[0].height, 1.0)  # back up the page


def _starts_paragraph(previous: tuple[Segment, ...], line: tuple[Segment, ...]) -> bool:
    height = max(previous[0].height, line[0].height, 1.0)
    if previous[0].bottom - line[0].top > PARAGRAPH_GAP_LINES * height:  # a blank line's worth of space
        return True
    return line[0].left - previous[0].left > 1.5 * height  # first-line indent


def _join_lines(lines: list[str]) -> str:
    text = ""
    for line in lines:
        if text and HYPHENATED.search(text) and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return text.strip()
