"""Small documents written without a document library (PDF, DOCX, ODT, RTF, e-mail), for tests and the benchmark."""

from __future__ import annotations

import textwrap
import zipfile
from collections.abc import Sequence
from io import BytesIO
from xml.sax.saxutils import escape

PAGE_WIDTH, PAGE_HEIGHT = 612, 792
FONT_SIZE = 10
LINE_HEIGHT = 13


def pdf_bytes(pages: Sequence[Sequence[tuple[float, float, str]]], info: dict[str, str] | None = None) -> bytes:
    """A PDF whose page i shows each (x, y, text) of pages[i] in Helvetica, in that order in the content stream."""
    objects: list[bytes] = [
        b"",
        b"",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    kids = []
    for page in pages:
        stream = b"".join(
            b"BT /F1 %d Tf %g %g Td (%s) Tj ET\n" % (FONT_SIZE, x, y, _pdf_string(text)) for x, y, text in page
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % (PAGE_WIDTH, PAGE_HEIGHT, len(objects))
        )
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    objects.append(b"<< %s >>" % b" ".join(b"/%s (%s)" % (k.encode(), _pdf_string(v)) for k, v in (info or {}).items()))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        len(objects),
        xref,
    )
    return bytes(out)


def _pdf_string(text: str) -> bytes:
    return text.encode("cp1252", errors="replace").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def article_pdf(
    title: str,
    paragraphs: Sequence[str],
    columns: int = 1,
    header: str | None = None,
    page_numbers: bool = True,
    hyphenate: bool = True,
    info: dict[str, str] | None = None,
    lines_per_page: int = 50,
) -> bytes:
    """A laid-out article: title on page 1, paragraphs wrapped into columns (written row by row across the
    columns, the hardest order for a reader), words hyphenated at some line ends, a running header and page numbers."""
    width = 90 if columns == 1 else 40
    lines: list[str | None] = [title, None]  # None: the blank line between paragraphs
    for paragraph in paragraphs:
        lines.extend(_wrap(paragraph, width, hyphenate))
        lines.append(None)
    column_x = [72 + index * 250 for index in range(columns)]
    per_column = lines_per_page
    pages = []
    for start in range(0, len(lines), per_column * columns):
        chunk = lines[start : start + per_column * columns]
        number = len(pages) + 1
        items: list[tuple[float, float, str]] = []
        if header:
            items.append((72, PAGE_HEIGHT - 40, header))
        for row in range(per_column):
            for column in range(columns):
                index = column * per_column + row
                if index < len(chunk) and chunk[index]:
                    items.append((column_x[column], PAGE_HEIGHT - 80 - row * LINE_HEIGHT, chunk[index]))
        if page_numbers:
            items.append((PAGE_WIDTH / 2, 30, f"Page {number}"))
        pages.append(items)
    return pdf_bytes(pages, info)


def _wrap(paragraph: str, width: int, hyphenate: bool) -> list[str]:
    lines = textwrap.wrap(paragraph, width)
    if not hyphenate:
        return lines
    for index in range(len(lines) - 1):
        following = lines[index + 1].split(" ", 1)
        word = following[0]
        if index % 3 == 0 and len(word) >= 8 and word.isalpha() and len(lines[index]) + 6 <= width + 6:
            cut = len(word) // 2
            lines[index] += " " + word[:cut] + "-"
            lines[index + 1] = word[cut:] + (" " + following[1] if len(following) > 1 else "")
    return lines


def docx_bytes(title: str | None, paragraphs: Sequence[str], author: str = "", created: str = "") -> bytes:
    """A minimal Word document (one part per concern, as Word writes them)."""
    body = "".join(_docx_paragraph(p) for p in paragraphs)
    if title:
        body = _docx_paragraph(title, style="Title") + body
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        f"{body}</w:body></w:document>"
    )
    core = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title or '')}</dc:title><dc:creator>{escape(author)}</dc:creator>"
        + (f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>' if created else "")
        + "</cp:coreProperties>"
    )
    files = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": RELATIONSHIPS,
        "word/document.xml": document,
        "docProps/core.xml": core,
    }
    return _zip(files)


OOXML = "http://schemas.openxmlformats.org"
CONTENT_TYPES = (
    f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{OOXML}/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/docProps/core.xml" '
    'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>'
)
RELATIONSHIPS = (
    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{OOXML}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{OOXML}/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/>'
    f'<Relationship Id="rId2" Type="{OOXML}/package/2006/relationships/metadata/core-properties" '
    'Target="docProps/core.xml"/></Relationships>'
)


def _docx_paragraph(text: str, style: str | None = None) -> str:
    properties = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f'<w:p>{properties}<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p>'


def odt_bytes(title: str | None, paragraphs: Sequence[str], author: str = "", created: str = "") -> bytes:
    """A minimal OpenDocument text: a heading and paragraphs, title and author in meta.xml."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    )
    body = "".join(f"<text:p>{escape(p)}</text:p>" for p in paragraphs)
    if title:
        body = f'<text:h text:outline-level="1">{escape(title)}</text:h>' + body
    files = {
        "mimetype": "application/vnd.oasis.opendocument.text",
        "content.xml": f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.3">'
        f"<office:body><office:text>{body}</office:text></office:body></office:document-content>",
        "meta.xml": f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {ns} office:version="1.3">'
        "<office:meta>"
        f"<dc:title>{escape(title or '')}</dc:title><meta:initial-creator>{escape(author)}</meta:initial-creator>"
        + (f"<meta:creation-date>{created}</meta:creation-date>" if created else "")
        + "</office:meta></office:document-meta>",
        "META-INF/manifest.xml": '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>',
    }
    return _zip(files)


def _zip(files: dict[str, str]) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, content in files.items():
            # NOTE: OpenDocument wants "mimetype" first and stored; harmless for DOCX.
            package.writestr(name, content, zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def rtf_bytes(title: str, paragraphs: Sequence[str], author: str = "") -> bytes:
    """A small RTF document (ANSI, windows-1252), non-ASCII letters as \\'xx escapes."""

    def encode(text: str) -> str:
        return "".join(
            ch if ord(ch) < 128 and ch not in "\\{}" else f"\\'{ch.encode('cp1252', 'replace')[0]:02x}" for ch in text
        )

    body = "".join(f"{encode(p)}\\par\n" for p in paragraphs)
    info = f"{{\\info{{\\title {encode(title)}}}{{\\author {encode(author)}}}}}"
    return f"{{\\rtf1\\ansi\\ansicpg1252\\deff0{{\\fonttbl{{\\f0 Times;}}}}{info}\n{body}}}".encode("ascii")


def eml_bytes(subject: str, sender: str, date: str, text: str | None = None, html: str | None = None) -> bytes:
    """An e-mail with a plain text part, an HTML part, or both (multipart/alternative)."""
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"], message["Date"] = sender, "desk@example.org", subject, date
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    return message.as_bytes()
